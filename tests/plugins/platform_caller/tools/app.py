from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_json, get_str


class AppTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        kind = get_str(tool_parameters, "kind")
        app_id = get_str(tool_parameters, "app_id")
        inputs = get_json(tool_parameters, "inputs", {})
        mode = get_str(tool_parameters, "response_mode", "streaming")
        if kind == "chat":
            result = self.session.app.chat.invoke(
                app_id=app_id,
                query=get_str(tool_parameters, "query"),
                inputs=inputs,
                response_mode=mode,
                conversation_id=get_str(tool_parameters, "conversation_id") or None,
            )
        elif kind == "completion":
            result = self.session.app.completion.invoke(app_id=app_id, inputs=inputs, response_mode=mode)
        elif kind == "workflow":
            result = self.session.app.workflow.invoke(app_id=app_id, inputs=inputs, response_mode=mode)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        if mode == "streaming":
            yield self.create_json_message({"events": list(result)})
        else:
            yield self.create_json_message({"result": result})
