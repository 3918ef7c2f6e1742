from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage


class AnswerTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        if self.runtime.credential_type.value != "oauth2":
            raise TypeError(f"an OAuth-only provider is invoked with credential type {self.runtime.credential_type!r}")
        yield self.create_text_message(f"signed in with a token of {len(self.runtime.credentials['access_token'])} characters")
