from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.llm import LLMModelConfig
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.entities.tool import ToolInvokeMessage


class LLMOnceTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        result = self.session.model.llm.invoke(
            LLMModelConfig(provider="openai", model="gpt-4o-mini", mode="chat"),
            [UserPromptMessage(content=str(tool_parameters.get("prompt", "")))],
            stream=False,
        )
        content = result.message.content
        yield self.create_text_message(content if isinstance(content, str) else str(content))
