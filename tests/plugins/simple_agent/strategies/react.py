"""A ReAct loop shaped like the official agent-strategies plugin's, as dify-mock's tests need it.

Turn 0 sends [system, user(query)]. Every later turn sends [system, user(query), one assistant message with the
whole scratchpad (Thought / Action / Observation of every step so far), user("continue")]. The model stops at
"Observation"; an `Action:` JSON blob {"action": TOOL, "action_input": {...}} runs that tool through the host,
and "Final Answer:" ends the loop.
"""

import json
import re
from collections.abc import Generator, Mapping
from typing import Any

from dify_plugin.entities.agent import AgentInvokeMessage
from dify_plugin.entities.model.llm import LLMModelConfig, LLMResult
from dify_plugin.entities.model.message import AssistantPromptMessage, SystemPromptMessage, UserPromptMessage
from dify_plugin.interfaces.agent import AgentModelConfig, AgentStrategy, ToolEntity
from pydantic import BaseModel, Field
from strategies._tools import run_tool

SYSTEM = """Answer the question. You can use these tools: {tools}.
Use this format:
Thought: what you think
Action: {{"action": TOOL NAME, "action_input": {{...}}}}
Observation: what the tool answered
... (repeat Thought / Action / Observation as needed)
Final Answer: the answer"""
ACTION = re.compile(r"Action:\s*(\{.*\})", re.DOTALL)
FINAL = "Final Answer:"


class ReActParams(BaseModel):
    model: AgentModelConfig
    tools: list[ToolEntity] | None = None
    query: str
    max_iterations: int = Field(default=5, ge=1)


class ReActStrategy(AgentStrategy):
    def _invoke(self, parameters: dict[str, Any]) -> Generator[AgentInvokeMessage, None, None]:
        params = ReActParams.model_validate(parameters)
        model = params.model
        tools: Mapping[str, ToolEntity] = {tool.identity.name: tool for tool in params.tools or []}
        config = LLMModelConfig(
            provider=model.provider,
            model=model.model,
            mode=model.mode,
            completion_params=dict(model.completion_params),
        )
        system = SystemPromptMessage(content=SYSTEM.format(tools=", ".join(tools) or "none"))
        scratchpad = ""
        for iteration in range(1, params.max_iterations + 1):
            messages: list[Any] = [system, UserPromptMessage(content=params.query)]
            if scratchpad:
                messages += [AssistantPromptMessage(content=scratchpad), UserPromptMessage(content="continue")]
            text = self._complete(config, messages)
            if FINAL in text:
                yield self.create_text_message(text.split(FINAL, 1)[1].strip())
                return
            action = ACTION.search(text)
            if action is None:
                yield self.create_text_message(text.strip())
                return
            blob = json.loads(action.group(1))
            observation = run_tool(self.session, tools, str(blob.get("action")), blob.get("action_input") or {})
            yield self.create_log_message(
                label=f"step {iteration}", data={"action": blob, "observation": observation}
            )
            scratchpad += f"{text.strip()}\n\nObservation: {observation}\n\n"
        yield self.create_text_message("I could not finish within the allowed iterations.")

    def _complete(self, config: LLMModelConfig, messages: list[Any]) -> str:
        response = self.session.model.llm.invoke(
            model_config=config, prompt_messages=messages, stop=["Observation"], stream=True
        )
        if isinstance(response, LLMResult):
            return response.message.get_text_content()
        return "".join(chunk.delta.message.get_text_content() for chunk in response)
