from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_optional_int, get_str


class SummaryTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        # SummaryInvocation.invoke(text, instruction, min_summarize_length=1024) returns `text` unchanged,
        # without calling the host, when len(text) < min_summarize_length; 0 forces the reverse call.
        min_length = get_optional_int(tool_parameters, "min_summarize_length")
        summary = self.session.model.summary.invoke(
            text=get_str(tool_parameters, "text"),
            instruction=get_str(tool_parameters, "instruction", "Summarize the text."),
            min_summarize_length=0 if min_length is None else min_length,
        )
        yield self.create_json_message({"summary": summary})
