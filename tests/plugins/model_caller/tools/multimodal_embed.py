from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model import EmbeddingInputType
from dify_plugin.entities.model.text_embedding import (
    MultiModalContent,
    MultiModalContentType,
    MultiModalEmbeddingModelConfig,
)
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_optional_str, get_str, jsonable, model_and_provider


class MultimodalEmbedTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model, provider = model_and_provider(tool_parameters, "multimodal-embedding-v1")
        text = get_str(tool_parameters, "text")
        documents = [MultiModalContent(content=text, content_type=MultiModalContentType.TEXT)]
        image = get_optional_str(tool_parameters, "image_base64")
        if image is not None:
            documents.append(MultiModalContent(content=image, content_type=MultiModalContentType.IMAGE))
        result = self.session.model.text_embedding.invoke_multimodal(
            model_config=MultiModalEmbeddingModelConfig(provider=provider, model=model, tenant_id="default"),
            documents=documents,
            input_type=EmbeddingInputType(get_str(tool_parameters, "input_type", "query") or "query"),
        )
        yield self.create_json_message(
            {
                "embeddings": result.embeddings,
                "model": result.model,
                "usage": jsonable(result.usage),
            }
        )
