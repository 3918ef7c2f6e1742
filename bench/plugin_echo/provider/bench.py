from typing import Any

from dify_plugin import ToolProvider


class BenchProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        """The bench tools need no credentials."""
