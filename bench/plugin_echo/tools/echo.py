from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage


class EchoTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        for _ in range(int(tool_parameters.get("times") or 1)):
            yield self.create_text_message(f"echo: {tool_parameters.get('text', '')}")
