import io
from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.model.speech2text import Speech2TextModelConfig
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_str, model_and_provider


class Speech2TextTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        model, provider = model_and_provider(tool_parameters, "whisper-1")
        audio = bytes.fromhex(get_str(tool_parameters, "audio_hex"))
        text = self.session.model.speech2text.invoke(
            model_config=Speech2TextModelConfig(provider=provider, model=model),
            file=io.BytesIO(audio),
        )
        yield self.create_json_message({"text": text})
