from collections.abc import Generator
from typing import Optional

from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model.llm import LLMResult, LLMResultChunk, LLMResultChunkDelta
from dify_plugin.entities.model.message import AssistantPromptMessage, PromptMessage, PromptMessageTool
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeError


def _text(message: PromptMessage) -> str:
    # get_text_content() only exists from 0.7 on
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "data", "") for part in content or [])


class EchoLLM(LargeLanguageModel):
    """Answers "echo: <last message>", streamed word by word; usage on the last chunk."""

    def _invoke(
        self,
        model: str,
        credentials: dict,
        prompt_messages: list[PromptMessage],
        model_parameters: dict,
        tools: Optional[list[PromptMessageTool]] = None,
        stop: Optional[list[str]] = None,
        stream: bool = True,
        user: Optional[str] = None,
    ):
        words = ["echo:"] + _text(prompt_messages[-1]).split()
        usage = self._calc_response_usage(model, credentials, len(prompt_messages), len(words))
        if not stream:
            message = AssistantPromptMessage(content=" ".join(words))
            # prompt_messages is required by LLMResult until 0.2
            return LLMResult(model=model, prompt_messages=prompt_messages, message=message, usage=usage)

        def chunks() -> Generator[LLMResultChunk, None, None]:
            for index, word in enumerate(words):
                last = index == len(words) - 1
                yield LLMResultChunk(
                    model=model,
                    prompt_messages=prompt_messages,
                    delta=LLMResultChunkDelta(
                        index=index,
                        message=AssistantPromptMessage(content=word if index == 0 else " " + word),
                        usage=usage if last else None,
                        finish_reason="stop" if last else None,
                    ),
                )

        return chunks()

    def get_num_tokens(self, model, credentials, prompt_messages, tools=None) -> int:
        return sum(len(_text(message).split()) for message in prompt_messages)

    def validate_credentials(self, model: str, credentials: dict) -> None:
        if credentials.get("api_key") == "bad":
            raise CredentialsValidateFailedError("bad api key")

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
