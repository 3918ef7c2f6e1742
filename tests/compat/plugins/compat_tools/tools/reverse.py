from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage

from tools.calls import CALLS, missing_calls


class ReverseTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        name = str(tool_parameters.get("call", ""))
        if name not in CALLS:
            raise ValueError(f"unknown call {name!r}; known: {', '.join(CALLS)}")
        missing = missing_calls(self.session)
        if name in missing:
            yield self.create_json_message({"call": name, "available": False, "lacks": missing[name]})
            return
        yield self.create_json_message({"call": name, "available": True, "result": CALLS[name](self.session)})
