from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from dify_plugin.entities.workflow_node import ModelConfig, ParameterConfig
from tools._params import get_json, get_str


class ExtractTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        parameters = [
            ParameterConfig(**{"description": None, "required": None, **entry})
            for entry in get_json(tool_parameters, "parameters", [])
        ]
        response = self.session.workflow_node.parameter_extractor.invoke(
            parameters=parameters,
            model=ModelConfig(provider="openai", name="gpt-4o-mini", completion_params={}),
            query=get_str(tool_parameters, "query"),
            instruction=get_str(tool_parameters, "instruction"),
        )
        yield self.create_json_message(response.model_dump(mode="json"))
