import base64
from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_str


class UploadTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        encoded = get_str(tool_parameters, "content_base64")
        content = base64.b64decode(encoded) if encoded else get_str(tool_parameters, "text").encode()
        response = self.session.file.upload(
            filename=get_str(tool_parameters, "filename"),
            content=content,
            mimetype=get_str(tool_parameters, "mimetype", "text/plain"),
        )
        yield self.create_json_message(
            {"file": response.model_dump(mode="json"), "app_parameter": response.to_app_parameter()}
        )
