from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model import EmbeddingInputType
from dify_plugin.entities.model.text_embedding import TextEmbeddingModelConfig
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_str, jsonable, model_and_provider, split_lines


class EmbedTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model, provider = model_and_provider(tool_parameters, "text-embedding-3-small")
        result = self.session.model.text_embedding.invoke(
            model_config=TextEmbeddingModelConfig(provider=provider, model=model),
            texts=split_lines(get_str(tool_parameters, "texts")),
            input_type=EmbeddingInputType(get_str(tool_parameters, "input_type", "query") or "query"),
        )
        yield self.create_json_message(
            {
                "embeddings": result.embeddings,
                "model": result.model,
                "usage": jsonable(result.usage),
            }
        )
