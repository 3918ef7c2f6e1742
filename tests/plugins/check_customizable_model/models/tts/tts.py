from dify_plugin import TTSModel
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeBadRequestError, InvokeError


class VoiceTTS(TTSModel):
    """Declares no voices: Dify asks get_tts_model_voices and sends the first one's value."""

    def _invoke(self, model, tenant_id, credentials, content_text, voice, user=None):
        if voice != "alloy":
            raise InvokeBadRequestError(f"not a voice of this model: {voice!r}")
        yield b"ID3 audio of " + content_text.encode()

    def get_tts_model_voices(self, model, credentials, language=None):
        return [{"name": "Alloy", "value": "alloy"}, {"name": "Echo", "value": "echo"}]

    def validate_credentials(self, model, credentials) -> None:
        if credentials.get("vision_support") is not False or "mode" in credentials:
            raise CredentialsValidateFailedError(f"not what Dify sends: {sorted(credentials.items())}")

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
