from dify_plugin import ModerationModel
from dify_plugin.errors.model import InvokeError


class FakeModeration(ModerationModel):
    def _invoke(self, model, credentials, text, user=None) -> bool:
        return "forbidden" in text.lower()

    def validate_credentials(self, model, credentials) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
