from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from dify_plugin.entities.workflow_node import ClassConfig, ModelConfig
from tools._params import get_json, get_str


class ClassifyTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        response = self.session.workflow_node.question_classifier.invoke(
            classes=[ClassConfig(**entry) for entry in get_json(tool_parameters, "classes", [])],
            model=ModelConfig(provider="openai", name="gpt-4o-mini", completion_params={}),
            query=get_str(tool_parameters, "query"),
            instruction=get_str(tool_parameters, "instruction"),
        )
        yield self.create_json_message(response.model_dump(mode="json"))
