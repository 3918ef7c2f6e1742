"""Command-line options made from the settings model: one flag per setting, its help saying its default and its
environment variable; the values given are checked by the model, with the environment and the config file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dify_mock.config.settings import Settings, env_names, literal_choices, load_settings, option_fields

SETTINGS_NAMES = "settings_names"

# The settings `serve` and `run` take: everything the mock itself uses.
SERVER_SETTINGS = (
    "host",
    "port",
    "debug_port",
    "key",
    "server_key",
    "fixtures",
    "examples",
    "watch",
    "strict",
    "config",
    "record",
    "replay",
    "record_mode",
    "cassette",
    "replay_timing",
    "replay_ignore",
    "serverless",
    "data_dir",
    "log_level",
    "heartbeat_timeout",
    "invoke_timeout",
    "max_line_bytes",
    "inner_api_key",
    "inner_api_stream",
    "inner_api_max_frame_bytes",
    "transaction_keepalive",
    "max_upload_bytes",
    "files_url",
    "public_url",
    "public_debug_url",
    "journal_max_entries",
    "max_request_body_bytes",
    "max_header_bytes",
    "request_read_timeout",
    "registration_timeout",
    "max_outgoing_bytes",
    "max_calls_in_flight",
    "max_event_streams",
    "max_json_depth",
    "plugin_log_rate",
    "allowed_host",
)
# The settings of the commands that talk to a running mock.
CLIENT_SETTINGS = ("url", "server_key", "tenant")


def add_settings_options(parser: argparse.ArgumentParser, names: tuple[str, ...]) -> None:
    """Adds --NAME for each setting; a value left out comes from DIFY_MOCK_NAME, the config file or the default."""
    fields = option_fields()
    for name in names:
        field = fields[name]
        flag = f"--{name.replace('_', '-')}"
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        help_text = f"{field.description} [{describe(name, field.default)}]"
        choices = literal_choices(field.annotation)
        metavar = extra.get("metavar") or ("{" + ",".join(choices) + "}" if choices else None)
        if field.annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        elif isinstance(field.default, tuple):
            parser.add_argument(flag, action="append", default=argparse.SUPPRESS, metavar=metavar, help=help_text)
        else:
            parser.add_argument(flag, default=argparse.SUPPRESS, metavar=metavar or name.upper(), help=help_text)
    known = parser.get_default(SETTINGS_NAMES) or ()
    parser.set_defaults(**{SETTINGS_NAMES: (*known, *names)})


def describe(name: str, default: Any) -> str:
    """`one of a, b; default: x; env: DIFY_MOCK_NAME` for a setting's help line."""
    parts = []
    choices = literal_choices(Settings.model_fields[name].annotation)
    if choices:
        parts.append(f"one of {', '.join(choices)}")
    if default not in (None, (), ""):
        shown = "on" if default is True else "off" if default is False else default
        if isinstance(shown, Path) and shown.is_absolute() and shown.is_relative_to(Path.home()):
            shown = f"~/{shown.relative_to(Path.home())}"
        parts.append(f"default: {shown}")
    parts.append(f"env: {' or '.join(env_names(name))}")
    return "; ".join(parts).replace("%", "%%")


def settings_of(arguments: argparse.Namespace) -> Settings:
    """The settings from what the command line gave, the environment and the config file; ConfigError when a value
    is wrong. Each setting the command declared is then also on `arguments`, resolved."""
    names = getattr(arguments, SETTINGS_NAMES, ())
    given = {name: getattr(arguments, name) for name in names if hasattr(arguments, name)}
    settings = load_settings(given)
    for name in names:
        setattr(arguments, name, getattr(settings, name))
    return settings
