import json
from collections.abc import Generator
from types import SimpleNamespace
from typing import Any

from dify_plugin import Tool
from dify_plugin.core.runtime import BackwardsInvocation
from dify_plugin.entities.tool import ToolInvokeMessage


class ReverseTool(Tool):
    """What the plugin sees of a reverse call it makes by hand: each answer's data, or the error's text."""

    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        invoke_type = SimpleNamespace(value=str(tool_parameters["invoke_type"]))  # any type, known to the SDK or not
        request = json.loads(str(tool_parameters["request"]))
        answers: list[Any] = []
        try:
            for answer in BackwardsInvocation[dict](self.session)._backwards_invoke(invoke_type, dict, request):  # type: ignore[arg-type]
                answers.append(answer)
        except Exception as error:  # the point: report exactly what the SDK raised
            yield self.create_json_message({"answers": answers, "error": str(error)})
            return
        yield self.create_json_message({"answers": answers, "error": None})
