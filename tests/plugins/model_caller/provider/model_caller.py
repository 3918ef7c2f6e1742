from typing import Any

from dify_plugin import ToolProvider
from dify_plugin.errors.tool import ToolProviderCredentialValidationError


class ModelCallerProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        if credentials.get("api_key") == "bad":
            raise ToolProviderCredentialValidationError("api_key is bad")
