from typing import Any

from dify_plugin import ToolProvider
from dify_plugin.errors.tool import ToolProviderCredentialValidationError


class WebSearchProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        if not str(credentials.get("api_key", "")).startswith("ws-"):
            raise ToolProviderCredentialValidationError("the API key should start with ws-")
