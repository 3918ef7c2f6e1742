"""Masking of credentials in everything the mock keeps (journal, cassettes, logs)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

from dify_mock.store.redaction import MASK, redact
from hypothesis import given
from hypothesis import strategies as st

KEYS = st.sampled_from(["content", "api_key", "OPENAI_API_KEY", "credentials", "token", "model", "x-secret", "text"])
LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
VALUES = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=30
)


def secrets_left(value: Any) -> list[Any]:
    """Every value still readable under a key that names a secret, or inside a credentials mapping."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "credentials" and isinstance(item, dict):
                found += [secret for secret in item.values() if secret not in (None, MASK)]
            elif key in ("api_key", "OPENAI_API_KEY", "token", "x-secret") and isinstance(item, str | int | float):
                found += [item] if item != MASK else []
            else:
                found += secrets_left(item)
    elif isinstance(value, list):
        for item in value:
            found += secrets_left(item)
    return found


def containers(value: Any) -> list[Any]:
    found = [value] if isinstance(value, dict | list) else []
    for item in value.values() if isinstance(value, dict) else value if isinstance(value, list) else []:
        found += containers(item)
    return found


@given(VALUES)
def test_no_secret_survives_and_the_input_is_left_as_it_was(value: Any) -> None:
    before = copy.deepcopy(value)
    redacted = redact(value)
    assert secrets_left(redacted) == []
    assert value == before
    # A copy through and through: callers (cassettes, the journal) change what they get back.
    originals = {id(container) for container in containers(value)}
    assert not [container for container in containers(redacted) if id(container) in originals]


def test_ordinary_values_are_kept_and_credentials_masked() -> None:
    chunk = {
        "delta": {"message": {"content": "hi", "tool_calls": [{"name": "t", "arguments": "{}"}]}},
        "credentials": {"api_key": "sk-1", "base_url": "http://x", "unset": None},
        "headers": [{"Authorization": "Bearer sk-2"}],
        "max_tokens": 5,
    }
    assert redact(chunk) == {
        "delta": {"message": {"content": "hi", "tool_calls": [{"name": "t", "arguments": "{}"}]}},
        "credentials": {"api_key": MASK, "base_url": MASK, "unset": None},
        "headers": [{"Authorization": MASK}],
        "max_tokens": 5,
    }


def test_mapping_subclasses_are_masked_too() -> None:
    assert redact(OrderedDict(password="hunter2", name="n")) == {"password": MASK, "name": "n"}
