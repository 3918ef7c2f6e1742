from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage


class AnswerTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        count, exact = tool_parameters["count"], tool_parameters["exact"]
        if not isinstance(count, int) or not isinstance(exact, bool):
            raise TypeError(f"count and exact arrive cast: got {count!r} and {exact!r}")
        pages = [int(page) for page in tool_parameters["pages"].split(";")]
        yield self.create_text_message(f"{count} words from pages {pages}, exact={exact}")
