from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.llm import LLMModelConfig
from dify_plugin.entities.model.message import SystemPromptMessage, UserPromptMessage
from dify_plugin.entities.tool import ToolInvokeMessage


class SummarizeTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model = tool_parameters["model"]
        result = self.session.model.llm.invoke(
            model_config=LLMModelConfig(provider=model["provider"], model=model["model"], mode="chat", completion_params={}),
            prompt_messages=[SystemPromptMessage(content="Sum up in one line."), UserPromptMessage(content=tool_parameters["text"])],
            stream=False,
        )
        yield self.create_text_message(str(result.message.content))
