"""A trigger provider's entry points, in the order Dify's API reaches them.

1. The subscription constructor's credentials form, validated (`TriggerSubscriptionBuilderService`
   `.verify_trigger_subscription_builder`), or made-up tokens with credential type `oauth2` for an OAuth-only one.
2. The subscription: `subscribe` with the constructor's parameters (`TriggerSubscriptionBuilderService`
   `.build_trigger_subscription_builder`, which stores the properties `subscribe` returns); without a constructor,
   or when `subscribe` did not answer, a manual one whose properties are what the user entered under
   `subscription_schema`, with credential type `unauthorized`.
3. A webhook call dispatched with that subscription (`TriggerService.process_endpoint`); the answer's HTTP status
   is judged like an endpoint's.
4. Only the events that dispatch returned, each invoked with the same request and the payload dispatch decoded
   (`dispatch_triggered_workflow` in api/tasks/trigger_processing_tasks.py); the event's parameters are those of the
   workflow node (`TriggerEventNodeData.resolve_parameters`).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Iterator, Mapping
from typing import Any

from dify_mock.check.credentials import oauth_credentials, oauth_only, tool_credentials
from dify_mock.check.invocations import Chunks, EntryPoint, NotReached, Provider, Session, validation
from dify_mock.check.parameters import SAMPLE_TEXT
from dify_mock.protocol.raw_http import build_request


def trigger_entry_points(session: Session, declaration: Mapping[str, Any]) -> Iterator[EntryPoint]:
    name = str(declaration["identity"]["name"])
    key = f"trigger {name}"
    constructor = declaration.get("subscription_constructor") or {}
    given = session.inputs.credentials(key)
    if constructor and oauth_only(constructor):
        provider = Provider(key, oauth_credentials(constructor.get("oauth_schema"), given), "oauth2", oauth_only=True)
    else:
        provider = Provider(key, tool_credentials(constructor.get("credentials_schema"), given))
    endpoint = f"{session.mock.url}/triggers/plugin/dify-mock-check"
    manual = {
        "expires_at": -1,
        "endpoint": endpoint,
        "parameters": {},
        "properties": tool_credentials(declaration.get("subscription_schema"), session.inputs.subscription(key)),
    }
    state: dict[str, Any] = {"subscription": None, "credentials": {}, "credential_type": "unauthorized"}
    if constructor:
        if not provider.oauth_only and constructor.get("credentials_schema"):
            yield validation(session, "trigger/validate_credentials", name, provider)
        yield _subscribe(session, name, key, constructor, provider, endpoint, state)

    def subscription() -> dict[str, Any]:
        return dict(state["subscription"] or manual)

    def dispatch() -> Chunks:
        request = _webhook(session, key, endpoint)
        data = {
            "provider": name,
            "subscription": subscription(),
            "credentials": dict(state["credentials"]),
            "credential_type": state["credential_type"],
            "raw_http_request": request,
        }
        answers = session.dispatch("trigger/dispatch_event", data)
        answer = next((chunk for chunk in answers if isinstance(chunk, dict) and "events" in chunk), None)
        if answer is None:
            raise NotReached("the webhook dispatch sent no answer with events")
        state["request"], state["events"], state["payload"] = request, list(answer["events"]), answer.get("payload")
        status, size = _response_status(str(answer.get("response") or ""))
        return [{"type": "http", "status": status, "bytes": size}]

    yield EntryPoint(f"{key} webhook", dispatch, provider)
    for event in declaration.get("events") or []:
        event_name = str(event["identity"]["name"])
        entry_name = f"{key}/{event_name}"

        def call(
            event: Mapping[str, Any] = event, event_name: str = event_name, entry_name: str = entry_name
        ) -> Chunks:
            events = state.get("events")
            if events is None:
                raise NotReached(
                    "the webhook dispatch returned no events (it ended in an error); Dify invokes only those"
                )
            if event_name not in events:
                returned = ", ".join(events) if events else "no events"
                raise NotReached(f"the webhook dispatch returned {returned}; Dify invokes only those")
            data = {
                "provider": name,
                "event": event_name,
                "subscription": subscription(),
                "credentials": dict(state["credentials"]),
                "credential_type": state["credential_type"],
                "raw_http_request": state["request"],
                "parameters": session.parameters(entry_name, event.get("parameters") or []),
                "payload": state.get("payload") or {},
            }
            return session.dispatch("trigger/invoke_event", data)

        yield EntryPoint(entry_name, call, provider)


def _subscribe(
    session: Session,
    name: str,
    key: str,
    constructor: Mapping[str, Any],
    provider: Provider,
    endpoint: str,
    state: dict[str, Any],
) -> EntryPoint:
    def call() -> Chunks:
        parameters = session.parameters(f"{key} subscribe", constructor.get("parameters") or [])
        state["parameters"] = parameters
        data = {
            "provider": name,
            "credentials": dict(provider.credentials),
            "credential_type": provider.credential_type,
            "endpoint": endpoint,
            "parameters": parameters,
        }
        return session.dispatch("trigger/subscribe", data)

    def stored(chunks: Chunks) -> None:
        made = next(
            (chunk["subscription"] for chunk in chunks if isinstance(chunk, dict) and chunk.get("subscription")), None
        )
        if isinstance(made, dict):
            state["subscription"] = {**made, "endpoint": endpoint, "parameters": state.get("parameters") or {}}
            state["credentials"], state["credential_type"] = provider.credentials, provider.credential_type

    return EntryPoint(f"{key} subscribe", call, provider, answered=stored)


def _webhook(session: Session, key: str, endpoint: str) -> str:
    """The request a third party sends to the subscription's endpoint, as the daemon hands it on: hex of HTTP/1.1."""
    given = session.inputs.webhook(key) or {}
    headers = {"Content-Type": "application/json", **{str(k): str(v) for k, v in (given.get("headers") or {}).items()}}
    body = given.get("body", {"event": "dify-mock-check", "text": SAMPLE_TEXT})
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    path = "/" + endpoint.split("://", 1)[1].split("/", 1)[1]
    return build_request(
        str(given.get("method") or "POST"), path, list(headers.items()), raw, session.mock.url.split("://", 1)[1]
    ).hex()


def _response_status(hexed: str) -> tuple[int, int]:
    """The status and size of the HTTP response a dispatch returns (hex of the raw response)."""
    try:
        raw = binascii.unhexlify(hexed)
    except (binascii.Error, ValueError):
        return 200, 0
    first = raw.split(b"\r\n", 1)[0].split()
    status = int(first[1]) if len(first) > 1 and first[1].isdigit() else 200
    return status, len(raw)
