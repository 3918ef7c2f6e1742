import json
from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage


class RawMessage(ToolInvokeMessage):
    """A tool message that dumps exactly the JSON it was given, valid or not."""

    def model_dump(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return dict(self.__dict__["raw"])


class ChunkTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        yield self.create_text_message("before")
        raw = RawMessage.model_construct(type=ToolInvokeMessage.MessageType.TEXT, message=None, meta=None)
        raw.__dict__["raw"] = json.loads(str(tool_parameters["message"]))
        yield raw
        yield self.create_text_message("after")
