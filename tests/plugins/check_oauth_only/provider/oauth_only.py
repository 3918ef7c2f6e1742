from collections.abc import Mapping
from typing import Any

from werkzeug import Request

from dify_plugin import ToolProvider
from dify_plugin.entities.oauth import ToolOAuthCredentials


class Provider(ToolProvider):
    def _validate_credentials(self, credentials: dict[str, Any]) -> None:
        return None

    def _oauth_get_authorization_url(self, redirect_uri: str, system_credentials: Mapping[str, Any]) -> str:
        return f"https://auth.example/authorize?client_id={system_credentials['client_id']}"

    def _oauth_get_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], request: Request) -> ToolOAuthCredentials:
        return ToolOAuthCredentials(credentials={"access_token": "from-the-flow"}, expires_at=-1)
