import json
import time
from collections.abc import Mapping
from typing import Any

from werkzeug import Request, Response

from dify_plugin.entities import I18nObject, ParameterOption
from dify_plugin.entities.oauth import OAuthCredentials, TriggerOAuthCredentials
from dify_plugin.entities.provider_config import CredentialType
from dify_plugin.entities.trigger import EventDispatch, Subscription, UnsubscribeResult
from dify_plugin.errors.trigger import TriggerValidationError
from dify_plugin.interfaces.trigger import Trigger, TriggerSubscriptionConstructor


class RepoEventsTrigger(Trigger):
    def _dispatch_event(self, subscription: Subscription, request: Request) -> EventDispatch:
        secret = subscription.properties.get("webhook_secret")
        if secret and request.headers.get("X-Signature") != secret:
            raise TriggerValidationError("bad signature")
        payload = request.get_json(silent=True) or {}
        event = request.headers.get("X-Event", "issue_opened")
        body = json.dumps({"accepted": event})
        return EventDispatch(
            user_id=str(payload.get("sender", "someone")),
            events=[event],
            response=Response(body, status=202, content_type="application/json"),
            payload=payload,
        )


class RepoEventsConstructor(TriggerSubscriptionConstructor):
    def _validate_api_key(self, credentials: Mapping[str, Any]) -> None:
        if credentials.get("api_key") == "bad":
            raise ValueError("the api_key 'bad' is refused")

    def _oauth_get_authorization_url(self, redirect_uri: str, system_credentials: Mapping[str, Any]) -> str:
        return f"https://code.example/oauth?client_id={system_credentials.get('client_id')}&redirect_uri={redirect_uri}"

    def _oauth_get_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], request: Request) -> TriggerOAuthCredentials:
        return TriggerOAuthCredentials(credentials={"access_token": f"trigger-token-{request.args.get('code')}"}, expires_at=-1)

    def _oauth_refresh_credentials(self, redirect_uri: str, system_credentials: Mapping[str, Any], credentials: Mapping[str, Any]) -> OAuthCredentials:
        return OAuthCredentials(credentials={"access_token": "refreshed"}, expires_at=4102444800)

    def _create_subscription(self, endpoint: str, parameters: Mapping[str, Any], credentials: Mapping[str, Any], credential_type: CredentialType) -> Subscription:
        return Subscription(
            expires_at=int(time.time()) + 3600,
            endpoint=endpoint,
            parameters=dict(parameters),
            properties={"external_id": f"hook-for-{parameters.get('repository')}", "webhook_secret": "s3cret", "credential_type": credential_type.value},
        )

    def _delete_subscription(self, subscription: Subscription, credentials: Mapping[str, Any], credential_type: CredentialType) -> UnsubscribeResult:
        return UnsubscribeResult(success=True, message=f"deleted {subscription.properties.get('external_id')}")

    def _refresh_subscription(self, subscription: Subscription, credentials: Mapping[str, Any], credential_type: CredentialType) -> Subscription:
        return Subscription(expires_at=subscription.expires_at + 3600, endpoint=subscription.endpoint, parameters=subscription.parameters, properties=subscription.properties)

    def _fetch_parameter_options(self, parameter: str, credentials: Mapping[str, Any], credential_type: CredentialType) -> list[ParameterOption]:
        who = credentials.get("api_key") or credentials.get("access_token") or "anonymous"
        return [ParameterOption(value=f"{who}/{name}", label=I18nObject(en_US=name)) for name in ("alpha", "beta")]
