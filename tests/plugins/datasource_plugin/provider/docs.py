from collections.abc import Mapping
from typing import Any

from werkzeug import Request

from dify_plugin.entities.datasource import DatasourceOAuthCredentials
from dify_plugin.interfaces.datasource import DatasourceProvider


class DocsProvider(DatasourceProvider):
    def _validate_credentials(self, credentials: Mapping[str, Any]) -> None:
        pass

    def _oauth_get_authorization_url(self, redirect_uri: str, system_credentials: Mapping[str, Any]) -> str:
        return f"https://docs.example/authorize?client_id={system_credentials.get('client_id')}&redirect_uri={redirect_uri}"

    def _oauth_get_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], request: Request) -> DatasourceOAuthCredentials:
        return DatasourceOAuthCredentials(
            name="Docs user", avatar_url="https://docs.example/a.png", credentials={"access_token": f"token-for-{request.args.get('code')}"}
        )

    def _oauth_refresh_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], credentials: Mapping[str, Any]) -> DatasourceOAuthCredentials:
        return DatasourceOAuthCredentials(credentials={"access_token": credentials.get("access_token", "") + "-refreshed"}, expires_at=4102444800)
