from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.llm import LLMModelConfig, LLMResult
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    PromptMessageTool,
    SystemPromptMessage,
    UserPromptMessage,
)
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_bool, get_optional_str, get_str, jsonable, model_and_provider, split_csv

OFFERED_TOOLS = [
    PromptMessageTool(
        name="get_weather",
        description="Get the current weather in a city.",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
        },
    ),
    PromptMessageTool(
        name="get_time",
        description="Get the current time in a timezone.",
        parameters={
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "An IANA timezone name."}},
            "required": [],
        },
    ),
]


def _text_of(message: PromptMessage) -> str:
    return message.get_text_content()


def _tool_calls(calls: list[AssistantPromptMessage.ToolCall]) -> list[dict[str, Any]]:
    return [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in calls]


class LLMTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model, provider = model_and_provider(tool_parameters, "gpt-4o-mini")
        stream = get_bool(tool_parameters, "stream", True)
        messages: list[PromptMessage] = []
        system = get_optional_str(tool_parameters, "system")
        if system is not None:
            messages.append(SystemPromptMessage(content=system))
        messages.append(UserPromptMessage(content=get_str(tool_parameters, "prompt")))
        tools = OFFERED_TOOLS if get_bool(tool_parameters, "with_tools", False) else None

        response = self.session.model.llm.invoke(
            model_config=LLMModelConfig(
                provider=provider, model=model, mode="chat", completion_params={"temperature": 0}
            ),
            prompt_messages=messages,
            tools=tools,
            stop=split_csv(get_optional_str(tool_parameters, "stop")),
            stream=stream,
        )

        if isinstance(response, LLMResult):
            yield self.create_json_message(
                {
                    "stream": False,
                    "model": response.model,
                    "text": _text_of(response.message),
                    "chunks": [],
                    "tool_calls": _tool_calls(response.message.tool_calls),
                    "usage": jsonable(response.usage),
                    "finish_reason": None,
                }
            )
            return

        chunks: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        usage: Any = None
        finish_reason: str | None = None
        last_model = model
        for chunk in response:
            last_model = chunk.model
            chunks.append(_text_of(chunk.delta.message))
            tool_calls.extend(_tool_calls(chunk.delta.message.tool_calls))
            if chunk.delta.usage is not None:
                usage = jsonable(chunk.delta.usage)
            if chunk.delta.finish_reason is not None:
                finish_reason = chunk.delta.finish_reason
        yield self.create_json_message(
            {
                "stream": True,
                "model": last_model,
                "text": "".join(chunks),
                "chunks": chunks,
                "tool_calls": tool_calls,
                "usage": usage,
                "finish_reason": finish_reason,
            }
        )
