"""A model provider's entry points, as Dify's model provider factory calls them.

A provider of predefined models: its `provider_credential_schema` form, validated as
`ModelProviderFactory.provider_credentials_validate` does (the form filtered by `ProviderCredentialSchemaValidator`,
the plugin's returned credentials merged in), then one model of each declared type invoked with what was stored.
A provider without that form is never asked to validate it: Dify refuses before it reaches the plugin.
A customizable-model provider: a model the user adds, per supported type, validated as
`ModelProviderFactory.model_credentials_validate` does (its `model_credential_schema` form filtered by
`ModelCredentialSchemaValidator`, with `__model_type`), then invoked with those credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dify_mock.check.credentials import model_credentials
from dify_mock.check.invocations import Chunks, EntryPoint, NotReached, Provider, Session, merge_credentials
from dify_mock.check.parameters import SAMPLE_TEXT

WAV_SILENCE = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"
CUSTOM_MODEL = "dify-mock-model"  # the name a user types for a customizable model, unless --inputs says otherwise


def _tts_voice(model: Mapping[str, Any]) -> str:
    """`AudioService.transcript_tts`: without a voice, Dify takes the first of the model's voices."""
    properties = model.get("model_properties") or {}
    voices = [voice for voice in properties.get("voices") or [] if isinstance(voice, Mapping)]
    if voices:
        return str(voices[0].get("mode") or voices[0].get("value") or "")
    return str(properties.get("default_voice") or "")


def _asked_voice(session: Session, request: dict[str, Any], provider: Provider) -> str:
    """`AudioService.transcript_tts` for a model that declares no voices: the first that `get_tts_voices` (the
    plugin's `tts/model/voices`) lists, its `value`; an error there is the call's error, as it is in Dify, and
    with no voice listed Dify makes no call."""
    for chunk in session.dispatch("tts/model/voices", {**request, "credentials": dict(provider.credentials)}):
        voices = chunk.get("voices") if isinstance(chunk, Mapping) else None
        if isinstance(voices, list) and voices and isinstance(voices[0], Mapping) and voices[0].get("value"):
            return str(voices[0]["value"])
    raise NotReached('get_tts_model_voices lists no voice for it: Dify stops there ("Sorry, no voice available.")')


# The body of each model type's call, after provider, model_type, model and credentials
# (`PluginModelClient.invoke_llm`, `invoke_text_embedding`, `invoke_rerank`, `invoke_tts`, `invoke_speech_to_text`,
# `invoke_moderation` in api/core/plugin/impl/model.py).
MODEL_CALLS: dict[str, tuple[str, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "llm": (
        "llm/invoke",
        lambda _: {
            "prompt_messages": [{"role": "user", "content": SAMPLE_TEXT}],
            "model_parameters": {},
            "tools": None,
            "stop": None,
            "stream": True,
        },
    ),
    "text-embedding": ("text_embedding/invoke", lambda _: {"texts": [SAMPLE_TEXT], "input_type": "document"}),
    "rerank": (
        "rerank/invoke",
        lambda _: {"query": SAMPLE_TEXT, "docs": ["Paris is sunny.", "Tokyo is rainy."], "score_threshold": None},
    ),
    "tts": (
        "tts/invoke",
        lambda model: {"content_text": SAMPLE_TEXT, "voice": _tts_voice(model), "tenant_id": "default"},
    ),
    "speech2text": ("speech2text/invoke", lambda _: {"file": WAV_SILENCE.hex()}),
    "moderation": ("moderation/invoke", lambda _: {"text": SAMPLE_TEXT}),
}


def model_entry_points(session: Session, declaration: Mapping[str, Any]) -> Iterator[EntryPoint]:
    name = str(declaration["provider"])
    methods = [str(method) for method in declaration.get("configurate_methods") or []]
    predefined = [model for model in declaration.get("models") or [] if isinstance(model, Mapping)]
    if predefined or "customizable-model" not in methods:
        yield from _predefined(session, declaration, name, predefined)
    else:
        yield from _customizable(session, declaration, name)


def _predefined(
    session: Session, declaration: Mapping[str, Any], name: str, models: list[Mapping[str, Any]]
) -> Iterator[EntryPoint]:
    key = f"model {name}"
    form = (declaration.get("provider_credential_schema") or {}).get("credential_form_schemas")
    provider = Provider(
        key, model_credentials(form, session.inputs.credentials(key)), validation_returns_credentials=True
    )
    if declaration.get("provider_credential_schema"):
        yield _validation(
            session, "model/validate_provider_credentials", f"{key} credentials", provider, {"provider": name}
        )
    seen: set[str] = set()
    for model in models:
        model_type = str(model.get("model_type"))
        if model_type in seen or model_type not in MODEL_CALLS:
            continue
        seen.add(model_type)
        yield _invocation(session, name, model_type, str(model["model"]), model, provider)


def _customizable(session: Session, declaration: Mapping[str, Any], name: str) -> Iterator[EntryPoint]:
    key = f"model {name}"
    schema = declaration.get("model_credential_schema") or {}
    form = schema.get("credential_form_schemas")
    model_name = session.inputs.model(key) or CUSTOM_MODEL
    for model_type in [str(kind) for kind in declaration.get("supported_model_types") or []]:
        if model_type not in MODEL_CALLS:
            continue
        credentials = model_credentials(form, session.inputs.credentials(key), model_type)
        provider = Provider(f"{key} {model_type}", credentials, validation_returns_credentials=True)
        data = {"provider": name, "model_type": model_type, "model": model_name}
        yield _validation(
            session, "model/validate_model_credentials", f"{key} {model_type} {model_name} credentials", provider, data
        )
        yield _invocation(session, name, model_type, model_name, {"model": model_name}, provider)


def _validation(session: Session, route: str, entry_name: str, provider: Provider, data: dict[str, Any]) -> EntryPoint:
    def call() -> Chunks:
        return session.dispatch(route, {**data, "credentials": dict(provider.credentials)})

    return EntryPoint(entry_name, call, provider, True, merge_credentials(provider))


def _invocation(
    session: Session, name: str, model_type: str, model_name: str, model: Mapping[str, Any], provider: Provider
) -> EntryPoint:
    route, body = MODEL_CALLS[model_type]

    def call() -> Chunks:
        request = {"provider": name, "model_type": model_type, "model": model_name}
        data = {**request, "credentials": dict(provider.credentials), **body(model)}
        if model_type == "tts" and not data["voice"]:
            data["voice"] = _asked_voice(session, request, provider)
        return session.dispatch(route, data)

    return EntryPoint(f"model {name} {model_type} {model_name}", call, provider)
