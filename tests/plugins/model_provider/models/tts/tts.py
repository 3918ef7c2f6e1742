from dify_plugin import TTSModel
from dify_plugin.errors.model import InvokeError


class FakeTTS(TTSModel):
    def _invoke(self, model, tenant_id, credentials, content_text, voice, user=None):
        yield f"ID3 voice={voice};".encode()
        for word in content_text.split():
            yield word.encode()

    def validate_credentials(self, model, credentials) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
