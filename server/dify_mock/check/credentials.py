"""Credentials as Dify stores them: a form filled in as a user would, then filtered and cast as Dify's API does.

Model providers' forms go through `CommonValidator._validate_and_filter_credential_form_schemas`
(`api/core/model_runtime/schema_validators/common_validator.py`, used by `ProviderCredentialSchemaValidator` and
`ModelCredentialSchemaValidator`): a field is kept only when every `show_on` condition holds, a blank field takes
its default or is dropped, a `select`/`radio` value must be one of its options, a `switch` becomes a bool.
Tool, datasource and trigger forms follow `validate_credentials_format` of Dify's tool providers
(`api/core/tools/__base/tool_provider.py`): strings stay strings, a missing optional field takes its default.
OAuth-only providers get what Dify's OAuth callback stores: a token per field of `oauth_schema.credentials_schema`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SAMPLE_SECRET = "dify-mock-check-secret"
SAMPLE_URL = "https://example.com/"
Form = list[Mapping[str, Any]] | Mapping[str, Any] | None


def fields(schema: Form) -> list[Mapping[str, Any]]:
    """The fields of a form, whether it is a list or a mapping of name -> field (`credentials_for_provider`)."""
    if isinstance(schema, Mapping):
        return [{"name": name, **field} for name, field in schema.items() if isinstance(field, Mapping)]
    return [field for field in schema or [] if isinstance(field, Mapping) and _name(field)]


def filled_form(schema: Form, given: Mapping[str, Any] | None = None, model_type: str | None = None) -> dict[str, str]:
    """What a user enters: `given` (from --inputs) first, then a field's default, then a value of its type for a
    required field, for one that a `show_on` of another field depends on, and for one that a `show_on` shows (an
    API key shown when the API-key method is chosen is optional to Dify but not to the user who chose it). Every
    value is a string, as Dify's form sends it."""
    entered: dict[str, str] = {}
    wanted = {str(rule.get("variable")) for field in fields(schema) for rule in field.get("show_on") or []}
    for field in fields(schema):
        name = _name(field)
        if given is not None and name in given:
            entered[name] = given[name]
        elif field.get("default") not in (None, ""):
            entered[name] = _text(field["default"])
        elif field.get("required") or name in wanted:
            entered[name] = _text(form_value(field))
    context = {**entered, **({"__model_type": model_type} if model_type else {})}
    for field in fields(schema):
        rules = [rule for rule in field.get("show_on") or [] if isinstance(rule, Mapping)]
        if (
            rules
            and _name(field) not in entered
            and all(context.get(str(r.get("variable"))) == r.get("value") for r in rules)
        ):
            entered[_name(field)] = _text(form_value(field))
    return entered


def model_credentials(
    schema: Form, given: Mapping[str, Any] | None = None, model_type: str | None = None
) -> dict[str, Any]:
    """`CommonValidator._validate_and_filter_credential_form_schemas` over a filled form. `model_type`: the
    `__model_type` that `ModelCredentialSchemaValidator.validate_and_filter` adds before filtering."""
    entered: dict[str, Any] = {**filled_form(schema, given, model_type)}
    if model_type is not None:
        entered["__model_type"] = model_type
    kept: dict[str, Any] = {}
    for field in fields(schema):
        rules = [rule for rule in field.get("show_on") or [] if isinstance(rule, Mapping)]
        if any(entered.get(str(rule.get("variable"))) != rule.get("value") for rule in rules):
            continue
        name = _name(field)
        value = entered.get(name)
        if not value:
            if field.get("default"):
                kept[name] = field["default"]
            continue
        if field.get("type") == "switch" and isinstance(value, str):
            kept[name] = value.lower() == "true"
        else:
            kept[name] = value
    return kept


def tool_credentials(schema: Form, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`validate_credentials_format` of Dify's tool providers: blanks are not sent, defaults fill the gaps."""
    entered = filled_form(schema, given)
    kept: dict[str, Any] = {}
    for field in fields(schema):
        name = _name(field)
        value = entered.get(name)
        if value in (None, ""):
            continue
        kept[name] = (str(value).lower() == "true") if field.get("type") == "boolean" else value
    return kept


def oauth_credentials(oauth_schema: Mapping[str, Any] | None, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The tokens Dify's OAuth callback stores: one per field of `oauth_schema.credentials_schema`."""
    schema = (oauth_schema or {}).get("credentials_schema")
    tokens = {_name(field): f"dify-mock-oauth-{_name(field)}" for field in fields(schema)}
    return {**tokens, **(given or {})} or {"access_token": "dify-mock-oauth-access_token"}


def oauth_only(provider: Mapping[str, Any], form_key: str = "credentials_schema") -> bool:
    """Credentials come only from Dify's OAuth flow: an `oauth_schema` and no form of its own."""
    oauth = provider.get("oauth_schema") or {}
    has_oauth = bool(oauth.get("credentials_schema") or oauth.get("client_schema"))
    return has_oauth and not fields(provider.get(form_key)) and not fields(provider.get("credentials_for_provider"))


def form_value(field: Mapping[str, Any]) -> Any:
    """A value of a credential field's type, from what the form shows a user: options, placeholder, label."""
    kind = str(field.get("type") or "text-input")
    options = [option.get("value") for option in field.get("options") or [] if isinstance(option, Mapping)]
    if kind in ("select", "radio") and options:
        return options[0]
    if kind in ("switch", "boolean", "checkbox"):
        return "true"
    hint = _english(field.get("placeholder"))
    name = _name(field).lower()
    if re.fullmatch(r"https?://\S+", hint):
        return hint
    if re.fullmatch(r"-?\d+(\.\d+)?", hint):
        return hint
    if any(word in name for word in ("url", "endpoint", "base", "host")):
        return SAMPLE_URL
    if kind == "secret-input" or any(word in name for word in ("key", "token", "secret", "password")):
        return SAMPLE_SECRET
    return "dify-mock-" + name.replace("_", "-")


def _english(text: Any) -> str:
    if isinstance(text, Mapping):
        text = text.get("en_US") or next(iter(text.values()), "")
    return str(text or "").strip()


def _name(field: Mapping[str, Any]) -> str:
    return str(field.get("name") or field.get("variable") or "")  # model providers' forms say `variable`


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
