from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_str


class FetchAppTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        info = self.session.app.fetch_app(get_str(tool_parameters, "app_id"))
        yield self.create_json_message({"info": dict(info)})
