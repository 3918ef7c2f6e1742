"""Hooks kept by the mock: masking, settings validation, config-file hooks with stable ids, secrets off disk."""

from __future__ import annotations

import pytest
from dify_mock.config.file import HookConfig
from dify_mock.store.hooks import HookStore, add_config_hooks, mask_secret, validate_settings
from pydantic import ValidationError

CONFIGS = [
    {"name": "greeting", "type": "text-input", "required": True},
    {"name": "api_key", "type": "secret-input"},
    {"name": "mode", "type": "select", "options": [{"value": "a"}, {"value": "b"}]},
    {"name": "on", "type": "boolean"},
]


def test_masks_like_the_daemon():
    assert mask_secret("sk-0123456789") == "sk*********89"
    assert mask_secret("short") == "*****"


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"greeting": "hi"}, None),
        ({}, "missing required setting: greeting"),
        ({"greeting": 3}, "setting greeting is not a string"),
        ({"greeting": "hi", "mode": "c"}, "setting mode is not a valid option (expected one of: a, b)"),
        ({"greeting": "hi", "on": "yes"}, "setting on is not a boolean"),
        ({f"k{n}": "v" for n in range(65)}, "too many setting fields (65; at most 64)"),
    ],
)
def test_settings_are_checked_like_the_daemon(settings, problem):
    assert validate_settings(settings, CONFIGS) == problem


def test_config_hooks_keep_their_ids_and_stay_off_disk(tmp_path):
    entries = [
        HookConfig(plugin_id="me/plugin", name="main", settings={"api_key": "sk-in-config"}),
        HookConfig(plugin_id="me/plugin", name="fixed", hook_id="my-hook", enabled=False),
    ]
    first = HookStore(tmp_path / "endpoints.sqlite3")
    hooks = add_config_hooks(first, entries).list()
    first.close()
    again = HookStore(tmp_path / "endpoints.sqlite3")
    assert again.list() == []  # nothing of the config file was written
    same = add_config_hooks(again, entries).list()
    assert sorted(hook.hook_id for hook in same) == sorted(hook.hook_id for hook in hooks)
    fixed = again.by_hook_id("my-hook")
    assert fixed is not None and not fixed.enabled and fixed.name == "fixed"
    main = next(hook for hook in same if hook.name == "main")
    assert len(main.hook_id) == 16 and main.settings == {"api_key": "sk-in-config"}
    assert b"sk-in-config" not in b"".join(path.read_bytes() for path in tmp_path.iterdir())


def test_config_hooks_refuse_bad_entries(tmp_path):
    with pytest.raises(ValidationError, match="plugin_id"):
        HookConfig(plugin_id="no-author")
    with pytest.raises(ValidationError, match="extra"):
        HookConfig.model_validate({"plugin_id": "me/p", "setting": {}})
    store = HookStore(tmp_path / "endpoints.sqlite3")
    twice = [HookConfig(plugin_id="me/p", hook_id="same"), HookConfig(plugin_id="me/q", hook_id="same")]
    with pytest.raises(ValueError, match="hook id 'same' is given to two hooks"):
        add_config_hooks(store, twice)
