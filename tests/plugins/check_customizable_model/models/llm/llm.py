from collections.abc import Generator

from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model.llm import LLMResult, LLMResultChunk, LLMResultChunkDelta
from dify_plugin.entities.model.message import AssistantPromptMessage, PromptMessageTool
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeError


class AnswerLLM(LargeLanguageModel):
    def _invoke(self, model, credentials, prompt_messages, model_parameters, tools=None, stop=None, stream=True, user=None):
        mode = credentials["mode"]
        assert "stream_mode" not in credentials and "organization" not in credentials, sorted(credentials)
        text = f"{mode} answer from {model}"
        usage = self._calc_response_usage(model, credentials, 1, 1)
        if not stream:
            return LLMResult(model=model, message=AssistantPromptMessage(content=text), usage=usage)

        def chunks() -> Generator[LLMResultChunk, None, None]:
            message = AssistantPromptMessage(content=text)
            yield LLMResultChunk(model=model, delta=LLMResultChunkDelta(index=0, message=message, usage=usage, finish_reason="stop"))

        return chunks()

    def get_num_tokens(self, model, credentials, prompt_messages, tools: list[PromptMessageTool] | None = None) -> int:
        return 1

    def validate_credentials(self, model, credentials) -> None:
        if credentials.get("mode") not in ("chat", "completion") or credentials.get("vision_support") is not False:
            raise CredentialsValidateFailedError(f"not what Dify sends: {sorted(credentials.items())}")

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
