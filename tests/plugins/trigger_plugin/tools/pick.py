from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities import I18nObject, ParameterOption
from dify_plugin.entities.tool import ToolInvokeMessage


class PickTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        token = self.runtime.credentials.get("access_token", "none")
        yield self.create_text_message(f"picked {tool_parameters.get('channel')} with {self.runtime.credential_type.value} ({token})")

    def _fetch_parameter_options(self, parameter: str) -> list[ParameterOption]:
        token = self.runtime.credentials.get("access_token", "none")
        return [ParameterOption(value=f"#{name}", label=I18nObject(en_US=f"#{name} ({token})")) for name in ("general", "random")]
