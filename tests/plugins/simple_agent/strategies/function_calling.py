import json
from collections.abc import Generator, Mapping
from typing import Any

from dify_plugin.entities.agent import AgentInvokeMessage
from dify_plugin.entities.model import ModelFeature
from dify_plugin.entities.model.llm import LLMModelConfig, LLMResult
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    PromptMessageTool,
    ToolPromptMessage,
    UserPromptMessage,
)
from dify_plugin.interfaces.agent import AgentModelConfig, AgentStrategy, ToolEntity
from pydantic import BaseModel, Field
from strategies._tools import run_tool


class FunctionCallingParams(BaseModel):
    """The strategy's parameters as Dify's agent node sends them.

    `model` is the model-selector value (provider, model, model_type, mode, completion_params, plus the
    `entity` and `history_prompt_messages` Dify adds); `tools` is the array[tools] value: one ToolEntity dict
    per tool (identity with provider, parameters, description, provider_type, runtime_parameters, ...).
    """

    model: AgentModelConfig
    tools: list[ToolEntity] | None = None
    query: str
    max_iterations: int = Field(default=3, ge=1)


def _merge_tool_calls(
    into: list[AssistantPromptMessage.ToolCall], calls: list[AssistantPromptMessage.ToolCall]
) -> None:
    """Collect streamed tool calls; a call without an id continues the previous one (OpenAI-style deltas)."""
    for call in calls:
        if into and (not call.id or call.id == into[-1].id):
            last = into[-1]
            last.function.name = last.function.name or call.function.name
            last.function.arguments += call.function.arguments
        else:
            into.append(call.model_copy(deep=True))


def _parse_arguments(raw: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    parsed = json.loads(raw)
    if not isinstance(parsed, dict):
        raise ValueError(f"tool call arguments must be a JSON object, got {raw!r}")
    return parsed


class FunctionCallingStrategy(AgentStrategy):
    def _invoke(self, parameters: dict[str, Any]) -> Generator[AgentInvokeMessage, None, None]:
        params = FunctionCallingParams.model_validate(parameters)
        model = params.model
        tools_by_name: Mapping[str, ToolEntity] = {tool.identity.name: tool for tool in params.tools or []}
        prompt_tools: list[PromptMessageTool] = self._init_prompt_tools(list(tools_by_name.values()))
        # Like Dify's function-calling agent: stream only when the model says it can stream tool calls.
        features = model.entity.features if model.entity and model.entity.features else []
        stream = ModelFeature.STREAM_TOOL_CALL in features

        messages: list[PromptMessage] = [
            *model.history_prompt_messages,
            UserPromptMessage(content=params.query),
        ]
        config = LLMModelConfig(
            provider=model.provider,
            model=model.model,
            mode=model.mode,
            completion_params=dict(model.completion_params),
        )

        for iteration in range(1, params.max_iterations + 1):
            # The last round offers no tools, so the model has to answer.
            offered = prompt_tools if iteration < params.max_iterations else []
            text, tool_calls = self._call_llm(config, messages, offered, stream)
            if not tool_calls:
                yield self.create_text_message(text)
                return

            messages.append(AssistantPromptMessage(content=text, tool_calls=tool_calls))
            for call in tool_calls:
                result = self._call_tool(tools_by_name, call)
                yield self.create_log_message(
                    label=f"tool {call.function.name}",
                    data={
                        "iteration": iteration,
                        "tool_call_id": call.id,
                        "tool": call.function.name,
                        "arguments": call.function.arguments,
                        "result": result,
                    },
                )
                messages.append(ToolPromptMessage(content=result, tool_call_id=call.id, name=call.function.name))

        raise RuntimeError("unreachable: the last iteration offers no tools")

    def _call_llm(
        self,
        config: LLMModelConfig,
        messages: list[PromptMessage],
        tools: list[PromptMessageTool],
        stream: bool,
    ) -> tuple[str, list[AssistantPromptMessage.ToolCall]]:
        response = self.session.model.llm.invoke(
            model_config=config,
            prompt_messages=messages,
            tools=tools or None,
            stop=None,
            stream=stream,
        )
        if isinstance(response, LLMResult):
            return response.message.get_text_content(), list(response.message.tool_calls)
        text_parts: list[str] = []
        tool_calls: list[AssistantPromptMessage.ToolCall] = []
        for chunk in response:
            text_parts.append(chunk.delta.message.get_text_content())
            _merge_tool_calls(tool_calls, chunk.delta.message.tool_calls)
        return "".join(text_parts), tool_calls

    def _call_tool(self, tools_by_name: Mapping[str, ToolEntity], call: AssistantPromptMessage.ToolCall) -> str:
        return run_tool(self.session, tools_by_name, call.function.name, _parse_arguments(call.function.arguments))
