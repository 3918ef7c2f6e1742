from typing import Any

from dify_plugin import ToolProvider


class LoadProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        """The load tool needs no credentials."""
