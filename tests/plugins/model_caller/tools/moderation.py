from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.moderation import ModerationModelConfig
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_str, model_and_provider


class ModerationTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model, provider = model_and_provider(tool_parameters, "omni-moderation-latest")
        flagged = self.session.model.moderation.invoke(
            model_config=ModerationModelConfig(provider=provider, model=model),
            text=get_str(tool_parameters, "text"),
        )
        yield self.create_json_message({"flagged": flagged})
