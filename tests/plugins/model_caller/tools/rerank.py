from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.rerank import RerankModelConfig
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_optional_float, get_optional_int, get_str, model_and_provider, split_lines


class RerankTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model, provider = model_and_provider(tool_parameters, "rerank-english-v3.0", "cohere")
        docs = split_lines(get_str(tool_parameters, "docs"))
        score_threshold = get_optional_float(tool_parameters, "score_threshold")
        top_n = get_optional_int(tool_parameters, "top_n")
        result = self.session.model.rerank.invoke(
            model_config=RerankModelConfig(
                provider=provider,
                model=model,
                score_threshold=0.0 if score_threshold is None else score_threshold,
                top_n=len(docs) if top_n is None else top_n,
            ),
            docs=docs,
            query=get_str(tool_parameters, "query"),
        )
        yield self.create_json_message(
            {
                "model": result.model,
                "docs": [{"index": d.index, "text": d.text, "score": d.score} for d in result.docs],
            }
        )
