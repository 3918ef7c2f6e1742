import base64
import hashlib
from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from dify_plugin.file.file import File


class ReadFileTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        file = tool_parameters["file"]
        if not isinstance(file, File):
            raise TypeError(f"the file parameter arrived as {type(file).__name__}, not as a File")
        data = file.blob
        yield self.create_json_message(
            {
                "filename": file.filename,
                "mime_type": file.mime_type,
                "extension": file.extension,
                "type": file.type.value,
                "size": file.size,
                "length": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "base64": base64.b64encode(data).decode(),
            }
        )
