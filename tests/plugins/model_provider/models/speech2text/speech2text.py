from dify_plugin import Speech2TextModel
from dify_plugin.errors.model import InvokeError


class FakeSpeech2Text(Speech2TextModel):
    def _invoke(self, model, credentials, file, user=None) -> str:
        audio = file.read()
        return f"heard {len(audio)} bytes starting {audio[:4]!r}"

    def validate_credentials(self, model, credentials) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
