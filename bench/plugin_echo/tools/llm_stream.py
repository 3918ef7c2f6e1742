from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.llm import LLMModelConfig
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.entities.tool import ToolInvokeMessage


class LLMStreamTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        chunks = 0
        chars = 0
        for chunk in self.session.model.llm.invoke(
            LLMModelConfig(provider="openai", model="gpt-4o-mini", mode="chat"),
            [UserPromptMessage(content=str(tool_parameters.get("prompt", "")))],
            stream=True,
        ):
            chunks += 1
            content = chunk.delta.message.content
            chars += len(content) if isinstance(content, str) else 0
        yield self.create_json_message({"chunks": chunks, "chars": chars})
