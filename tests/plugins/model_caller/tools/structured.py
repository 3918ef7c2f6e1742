import json
from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.llm import LLMModelConfig
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_str, jsonable, model_and_provider


class StructuredOutputTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model, provider = model_and_provider(tool_parameters, "gpt-4o-mini")
        schema = json.loads(get_str(tool_parameters, "schema", "{}"))
        if not isinstance(schema, dict):
            raise ValueError("schema must be a JSON object")
        result = self.session.model.llm_structured_output.invoke(
            model_config=LLMModelConfig(
                provider=provider, model=model, mode="chat", completion_params={"temperature": 0}
            ),
            prompt_messages=[UserPromptMessage(content=get_str(tool_parameters, "prompt"))],
            structured_output_schema=schema,
            stream=False,
        )
        structured = result.structured_output
        yield self.create_json_message(
            {
                "structured_output": dict(structured) if structured is not None else None,
                "text": result.message.get_text_content(),
                "usage": jsonable(result.usage),
            }
        )
