from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
import httpx


class AnswerTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        try:
            response = httpx.get("https://api.weather-service.example/v1/now", timeout=10)
            text = f"{response.status_code} {response.reason_phrase}"
        except httpx.HTTPError as error:
            text = f"the weather service said: {error}"
        yield self.create_text_message(text)
