"""An LLM that echoes the last user message word by word, calls the first offered tool, and can be polled."""

import json
from collections.abc import Generator

from dify_plugin import LargeLanguageModel
from dify_plugin.entities.model.llm import (
    LLMPollingResult,
    LLMPollingStatus,
    LLMResult,
    LLMResultChunk,
    LLMResultChunkDelta,
)
from dify_plugin.entities.model.message import AssistantPromptMessage, PromptMessage, PromptMessageTool
from dify_plugin.errors.model import CredentialsValidateFailedError, InvokeBadRequestError, InvokeError


def _last_text(prompt_messages: list[PromptMessage]) -> str:
    return prompt_messages[-1].get_text_content() if prompt_messages else ""


class FakeLLM(LargeLanguageModel):
    def _invoke(self, model, credentials, prompt_messages, model_parameters, tools=None, stop=None, stream=True, user=None):
        text = _last_text(prompt_messages)
        if text == "raise":
            raise InvokeBadRequestError("asked to fail")
        usage = self._calc_response_usage(model, credentials, len(text.split()), len(text.split()) + 1)
        if tools:
            call = AssistantPromptMessage.ToolCall(
                id="call-1",
                type="function",
                function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                    name=tools[0].name, arguments=json.dumps({"query": text})
                ),
            )
            message = AssistantPromptMessage(content="", tool_calls=[call])
            if not stream:
                return LLMResult(model=model, message=message, usage=usage)
            return iter([LLMResultChunk(model=model, delta=LLMResultChunkDelta(index=0, message=message, usage=usage, finish_reason="tool_calls"))])
        words = ["echo:", *text.split()]
        if not stream:
            return LLMResult(model=model, message=AssistantPromptMessage(content=" ".join(words)), usage=usage)

        def chunks() -> Generator[LLMResultChunk, None, None]:
            for index, word in enumerate(words):
                last = index == len(words) - 1
                yield LLMResultChunk(
                    model=model,
                    delta=LLMResultChunkDelta(
                        index=index,
                        message=AssistantPromptMessage(content=word if index == 0 else " " + word),
                        usage=usage if last else None,
                        finish_reason="stop" if last else None,
                    ),
                )

        return chunks()

    def _start_polling(self, model, credentials, prompt_messages, model_parameters, tools=None, stop=None, stream=False, user=None, *, json_schema=None):
        return LLMPollingResult(
            status=LLMPollingStatus.RUNNING,
            plugin_state={"prompt": _last_text(prompt_messages), "checks": 0},
            next_check_after_seconds=1,
        )

    def _check_polling(self, model, credentials, plugin_state, user=None):
        checks = int(plugin_state.get("checks", 0)) + 1
        prompt = str(plugin_state.get("prompt", ""))
        if checks < 2:
            return LLMPollingResult(status=LLMPollingStatus.RUNNING, plugin_state={"prompt": prompt, "checks": checks})
        usage = self._calc_response_usage(model, credentials, 1, 1)
        message = AssistantPromptMessage(content=f"polled: {prompt}")
        return LLMPollingResult(status=LLMPollingStatus.SUCCEEDED, result=LLMResult(model=model, message=message, usage=usage))

    def get_num_tokens(self, model, credentials, prompt_messages, tools: list[PromptMessageTool] | None = None) -> int:
        return sum(len(message.get_text_content().split()) for message in prompt_messages) + len(tools or [])

    def validate_credentials(self, model, credentials) -> None:
        if credentials.get("api_key") == "bad":
            raise CredentialsValidateFailedError(f"the api_key 'bad' is refused for {model}")

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
