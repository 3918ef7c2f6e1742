from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.rerank import MultiModalRerankModelConfig
from dify_plugin.entities.model.text_embedding import MultiModalContent, MultiModalContentType
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_optional_float, get_optional_int, get_str, model_and_provider, split_lines


def _text(content: str) -> MultiModalContent:
    return MultiModalContent(content=content, content_type=MultiModalContentType.TEXT)


class MultimodalRerankTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model, provider = model_and_provider(tool_parameters, "multimodal-rerank-v1", "cohere")
        result = self.session.model.rerank.invoke_multimodal(
            model_config=MultiModalRerankModelConfig(
                provider=provider,
                model=model,
                score_threshold=get_optional_float(tool_parameters, "score_threshold"),
                top_n=get_optional_int(tool_parameters, "top_n"),
            ),
            query=_text(get_str(tool_parameters, "query")),
            docs=[_text(doc) for doc in split_lines(get_str(tool_parameters, "docs"))],
        )
        yield self.create_json_message(
            {
                "model": result.model,
                "docs": [{"index": d.index, "text": d.text, "score": d.score} for d in result.docs],
            }
        )
