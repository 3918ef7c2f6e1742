from collections.abc import Generator
from importlib.metadata import version
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

from tools.calls import CALLS, missing_calls


class FeaturesTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        missing = missing_calls(self.session)
        yield self.create_json_message(
            {
                "sdk_version": version("dify_plugin"),
                "available": [name for name in CALLS if name not in missing],
                "missing": missing,
            }
        )
