from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.tts import TTSModelConfig
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_str, model_and_provider


class TTSTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model, provider = model_and_provider(tool_parameters, "tts-1")
        voice = get_str(tool_parameters, "voice", "alloy") or "alloy"
        chunks = [
            chunk.hex()
            for chunk in self.session.model.tts.invoke(
                model_config=TTSModelConfig(provider=provider, model=model, voice=voice),
                content_text=get_str(tool_parameters, "text"),
            )
        ]
        yield self.create_json_message({"chunks": chunks, "count": len(chunks)})
