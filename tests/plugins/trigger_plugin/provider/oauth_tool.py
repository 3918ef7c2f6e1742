from collections.abc import Mapping
from typing import Any

from werkzeug import Request

from dify_plugin import ToolProvider
from dify_plugin.entities.oauth import ToolOAuthCredentials


class OAuthToolProvider(ToolProvider):
    def _validate_credentials(self, credentials: dict) -> None:
        pass

    def _oauth_get_authorization_url(self, redirect_uri: str, system_credentials: Mapping[str, Any]) -> str:
        return f"https://auth.example/authorize?client_id={system_credentials['client_id']}&redirect_uri={redirect_uri}&state=xyz"

    def _oauth_get_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], request: Request) -> ToolOAuthCredentials:
        code = request.args.get("code")
        if not code:
            raise ValueError(f"no code in the callback {request.full_path}")
        return ToolOAuthCredentials(credentials={"access_token": f"token-{code}"}, expires_at=4102444800)

    def _oauth_refresh_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], credentials: Mapping[str, Any]) -> ToolOAuthCredentials:
        return ToolOAuthCredentials(credentials={"access_token": credentials["access_token"] + "-refreshed"}, expires_at=4102444801)
