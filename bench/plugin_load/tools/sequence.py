import time
from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage


class SequenceTool(Tool):
    """Yields `count` text messages "<tag>:<index>", index 0 to count - 1, sleeping `delay_ms` before each."""

    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        tag = str(tool_parameters["tag"])
        delay = float(tool_parameters.get("delay_ms") or 0) / 1000
        for index in range(int(tool_parameters["count"])):
            if delay:
                time.sleep(delay)  # gevent's sleep in the SDK: the other sessions of this process run meanwhile
            yield self.create_text_message(f"{tag}:{index}")
