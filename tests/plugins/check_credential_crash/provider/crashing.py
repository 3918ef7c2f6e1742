from typing import Any

from dify_plugin import ToolProvider
from dify_plugin.errors.tool import ToolProviderCredentialValidationError


class Provider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        try:
            base_url = credentials["base_url"].rstrip("/")
        except Exception as error:
            raise ToolProviderCredentialValidationError(str(error)) from error
        if not base_url.startswith("https://"):
            raise ToolProviderCredentialValidationError("the base URL must be https")
