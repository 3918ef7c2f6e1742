from collections.abc import Generator
from typing import Any

import httpx
from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage


class SearchTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        if not 5 <= tool_parameters["count"] <= 20 or tool_parameters["region"] not in ("eu", "us"):
            raise ValueError(f"parameters out of their declared range: {tool_parameters}")
        response = httpx.get(
            "https://api.websearch.example/v1/search",
            params={"q": tool_parameters["query"], "n": tool_parameters["count"]},
            headers={"Authorization": f"Bearer {self.runtime.credentials['api_key']}"},
            timeout=10,
        )
        yield self.create_json_message(response.json())
