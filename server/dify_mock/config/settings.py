"""Every setting of dify-mock in one typed model: the command-line flags, the `DIFY_MOCK_*` environment variables and
the config file's top-level keys are its fields, with one name, one default and one validation.

A field declared with `option(...)` is a setting: field `debug_port` is `--debug-port`, `DIFY_MOCK_DEBUG_PORT` and
`debug_port:` in the config file. Precedence: command line, then environment, then config file, then the default.
Fields declared without `option` are filled in by the program (the loaded config file, the plugins `run` starts).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dify_mock.config.file import AnswerConfig, ConfigFileError, read_config_file
from dify_mock.config.setting_types import Address, Bytes, Keys, List, Paths, Port, Seconds, Specs, Url, lower, option
from dify_mock.config.specs import PluginLaunch, ServerlessPlugin, SpecError, parse_serverless
from dify_mock.protocol.framing import DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_LINE_BYTES

ENV_PREFIX = "DIFY_MOCK_"
DEFAULT_TENANT = "default"
DEFAULT_URL = "http://localhost:5002"  # the spelling the banner, the dashboard and the .env lines use
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "dify-mock"  # `dify-mock check`: venvs/ and packages/ under it
INNER_API_STREAMS = ("auto", "frames", "sse")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
DEFAULT_MAX_UPLOAD_BYTES = 15 * 1024 * 1024  # Dify's UPLOAD_FILE_SIZE_LIMIT
# The daemon reads dispatch bodies whole, without a limit: its RESPONSE_MAX_BUFFER_SIZE (30 MiB), the largest message
# it passes the other way, bounds them here.
DEFAULT_MAX_REQUEST_BODY_BYTES = 30 * 1024 * 1024
DEFAULT_MAX_HEADER_BYTES = 1024 * 1024  # Go's http.DefaultMaxHeaderBytes: the daemon's http.Server sets no other
DEFAULT_MAX_OUTGOING_BYTES = 32 * 1024 * 1024  # the largest message the daemon passes (30 MiB) fits, unread, once
# The example rules of a dify-mock checkout, loaded only when asked for (--examples).
EXAMPLES = Path(__file__).resolve().parents[3] / "fixtures" / "examples.yaml"
RUN_CASSETTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_CASSETTE_NAME = 200
# Settings the config file already holds in its own form (serverless: relative to the file) or cannot hold.
NOT_IN_CONFIG_FILE = frozenset({"config", "serverless"})


class ConfigError(ValueError):
    """Settings that cannot be used; the text is one line that names the setting and says what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        validate_default=False,
    )

    # The mock's listeners and keys
    host: str = option("127.0.0.1", "the interface to listen on; beyond loopback, --key and --server-key are required")
    port: Port = option(5002, "the HTTP API's port (0: any free port)")
    debug_port: Port = option(5003, "the remote-debug TCP port plugins connect to (0: any free port)")
    key: Keys = option(
        (),
        "accept plugins with this REMOTE_INSTALL_KEY (repeatable); without it any key joins tenant 'default'",
        metavar="KEY[=TENANT_ID]",
    )
    server_key: str | None = option(None, "the X-Api-Key the plugin API and /mock/* require (none: any)")
    inner_api_key: str | None = Field(
        None,
        description="the X-Inner-Api-Key a real dify-plugin-daemon must send to /inner/api "
        "(Dify's INNER_API_KEY_FOR_PLUGIN)",
        validation_alias=AliasChoices("DIFY_MOCK_INNER_API_KEY", "INNER_API_KEY_FOR_PLUGIN"),
        json_schema_extra={"option": True, "also_env": ["INNER_API_KEY_FOR_PLUGIN"]},
    )
    files_url: Url = option(
        None,
        "the mock's address as plugins reach it: the base of upload and file URLs (default: --public-url, else "
        "http://HOST:PORT)",
    )
    public_url: Url = option(
        None,
        "the HTTP API's address as you reach it, which the start-up lines and the dashboard show: in a container "
        "whose port 5002 is published as 15002, http://localhost:15002 (default http://localhost:PORT)",
    )
    public_debug_url: Address = option(
        None,
        "the remote-debug address as plugins reach it, shown as REMOTE_INSTALL_URL: in a container whose port 5003 "
        "is published as 15003, localhost:15003 (default localhost:DEBUG_PORT)",
        metavar="HOST:PORT",
    )
    # What answers reverse calls
    fixtures: Paths = option((), "a fixture file or folder (repeatable)", metavar="PATH")
    examples: bool = option(
        False, f"also load the example rules ({EXAMPLES.name} of a dify-mock checkout); they answer after yours"
    )
    watch: bool = option(True, "reload fixture files when they change (POST /mock/reload reloads them at any time)")
    strict: bool = option(False, "fail reverse calls that no fixture rule answers")
    config: Path | None = option(
        None, "the YAML config file: live model backends, answer chains, cassettes, latency, faults", metavar="FILE"
    )
    record: Path | None = option(None, "record every answer a live backend gives into cassettes in DIR", metavar="DIR")
    replay: Path | None = option(
        None, "answer from the cassettes in DIR instead of live backends (a new call fails with a diff)", metavar="DIR"
    )
    record_mode: Literal["none", "once", "new_episodes", "all"] | None = option(
        None,
        "as in vcrpy: none (replay only), once (record a cassette that does not exist, else replay it), new_episodes "
        "(replay what it holds, record the rest into it), all (record every call again, keeping the other entries); "
        "the folder is --record or --replay. Default: none with --replay, all with --record, new_episodes with both",
    )
    cassette: str | None = option(None, "the run's cassette file name (without .yaml)", metavar="NAME")
    replay_timing: Literal["instant", "recorded"] | None = option(
        None, "replay chunks at once (instant) or with their recorded gaps (recorded)"
    )
    replay_ignore: List = option(
        (), "a request field replay does not compare, e.g. completion_params.temperature (repeatable)", metavar="FIELD"
    )
    serverless: Specs = option(
        (),
        "a plugin running with INSTALL_METHOD=serverless at URL (repeatable); FOLDER: where its declarations are",
        metavar="AUTHOR/NAME=URL[@FOLDER]",
    )
    # Storage, limits and timeouts
    data_dir: Path = option(Path(".dify-mock"), "the folder of the journal, uploaded files and storage", metavar="DIR")
    log_level: Annotated[Literal["debug", "info", "warning", "error", "critical"], BeforeValidator(lower)] = option(
        "info", "how much the mock logs"
    )
    heartbeat_timeout: Seconds = option(60.0, "drop a remote plugin silent for this many seconds")
    invoke_timeout: Seconds = option(600.0, "give up on a dispatched invocation after this many seconds")
    max_line_bytes: Bytes = option(
        DEFAULT_MAX_LINE_BYTES,
        "the longest line a plugin may send (the daemon's PLUGIN_RUNTIME_MAX_BUFFER_SIZE): past it a local plugin is "
        "stopped, as the daemon's stdout reader ends; over TCP the line is dropped, or a refused connection closed",
    )
    inner_api_stream: Literal["auto", "frames", "sse"] = option(
        "auto",
        "streaming inner API routes: length-prefixed frames (current daemons), server-sent events (daemons before "
        "June 2025), or auto: frames unless the client asks for text/event-stream",
    )
    inner_api_max_frame_bytes: Bytes = option(
        DEFAULT_MAX_FRAME_BYTES, "the largest inner API frame to send (the daemon's RESPONSE_MAX_BUFFER_SIZE)"
    )
    transaction_keepalive: Seconds = option(25.0, "seconds between keep-alive lines on a long serverless reverse call")
    max_upload_bytes: Bytes = option(DEFAULT_MAX_UPLOAD_BYTES, "the largest file a plugin may upload")
    journal_max_entries: Bytes = option(
        10_000, "keep this many journal entries in the data folder, a fair share for each plugin (its newest)"
    )
    plugin_log_rate: Bytes = option(
        50, "log lines a second of one plugin that reach the log and the journal; past that they are counted"
    )
    allowed_host: List = option(
        (),
        "a Host name to serve besides loopback, --host and the --files-url host (repeatable); a request naming any "
        "other is refused, against DNS rebinding",
        metavar="NAME",
    )
    # Bounds on what a caller or a plugin can make the mock hold (docs/security.md, "Limits")
    max_request_body_bytes: Bytes = option(
        DEFAULT_MAX_REQUEST_BODY_BYTES, "the largest HTTP request body; more: 413 (the daemon has no limit)"
    )
    max_header_bytes: Bytes = option(
        DEFAULT_MAX_HEADER_BYTES, "the largest HTTP request head; more: 431 (Go's default, which the daemon keeps)"
    )
    request_read_timeout: Seconds = option(
        60.0, "seconds for an HTTP request head, and the longest stall of a body; then 408 (the daemon: none)"
    )
    registration_timeout: Seconds = option(
        60.0, "seconds a TCP plugin has from connecting to its registration's end (the daemon: no deadline)"
    )
    max_outgoing_bytes: Bytes = option(
        DEFAULT_MAX_OUTGOING_BYTES, "bytes a plugin may leave unread (TCP: it is dropped; a child: killed, restarted)"
    )
    max_calls_in_flight: Bytes = option(16, "a TCP plugin's reverse calls answered at once; then it is not read")
    max_event_streams: Bytes = option(64, "open /mock/events streams (dashboard tabs, journal -f); more: 503")
    max_json_depth: Bytes = option(
        512, "the deepest nesting of a reverse call's request (Go's encoding/json allows 10,000; Python far less)"
    )
    # The commands that drive a running mock (invoke, journal, endpoints) and check plugins
    url: Url = option(DEFAULT_URL, "the running mock's HTTP API")
    tenant: str = option(DEFAULT_TENANT, "the tenant to act as")
    user: str = option("dify-mock-cli", "the user id sent with an invocation")
    runtime: Literal["local", "remote"] = option(
        "local", "local: the plugin is a child process over stdin/stdout (as the daemon runs it); remote: over TCP"
    )
    cache_dir: Path = option(
        DEFAULT_CACHE_DIR, "where plugin environments and unpacked packages are cached", metavar="DIR"
    )

    # Filled in by the program, not settings
    handshake_timeout: float = 10.0
    answers: AnswerConfig = Field(default_factory=AnswerConfig)  # the config file's backends, chains, faults
    launches: tuple[PluginLaunch, ...] = ()  # plugin processes `dify-mock run` starts and supervises
    serverless_plugins: tuple[ServerlessPlugin, ...] = ()  # --serverless and the config file's, parsed

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _ConfigFileSource(settings_cls)

    @property
    def keys(self) -> dict[str, str]:
        """Remote-debug key -> tenant id; empty: any key."""
        return {key: tenant or DEFAULT_TENANT for key, _, tenant in (item.partition("=") for item in self.key)}

    @property
    def fixture_paths(self) -> tuple[Path, ...]:
        """The fixture files and folders to load: --fixtures, then the examples if asked for."""
        return (*self.fixtures, *([EXAMPLES] if self.examples else []))

    @property
    def record_dir(self) -> Path | None:
        return self.record

    @property
    def replay_dir(self) -> Path | None:
        return self.replay

    @property
    def config_file(self) -> Path | None:
        return self.config

    def tenant_for_key(self, key: str) -> str | None:
        """The tenant a remote-debug key joins, or None when the key is refused."""
        keys = self.keys
        if not keys:
            return DEFAULT_TENANT
        found = None
        for known, tenant in keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                found = tenant
        return found

    @property
    def listens_everywhere(self) -> bool:
        return self.host in ("0.0.0.0", "::", "")

    @property
    def files_base_url(self) -> str:
        """Where plugins reach the HTTP API: the base of upload and file URLs (FILES_URL in Dify)."""
        if self.files_url or self.public_url:
            return str(self.files_url or self.public_url).rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else "[::1]" if self.host == "::" else self.host
        return f"http://{f'[{host}]' if ':' in host and not host.startswith('[') else host}:{self.port}"

    @property
    def connect_host(self) -> str:
        """The listening interface as a name to connect to: localhost for the loopback and the wildcard ones."""
        return "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::", "") else self.host

    @property
    def outside_url(self) -> str:
        """The HTTP API as the user reaches it: --public-url, else this machine's address and port."""
        return (self.public_url or f"http://{self.connect_host}:{self.port}").rstrip("/")

    @property
    def outside_debug_url(self) -> str:
        """REMOTE_INSTALL_URL for a plugin: --public-debug-url, else this machine's address and debug port."""
        return self.public_debug_url or f"{self.connect_host}:{self.debug_port}"

    def check(self) -> None:
        """What the mock needs beyond each value's own validation: files that exist, keys beyond loopback."""
        if not is_loopback(self.host):
            missing = [flag for flag, value in (("--key", self.key), ("--server-key", self.server_key)) if not value]
            if missing:
                raise ConfigError(
                    f"listening on {self.host} exposes the mock beyond this machine: "
                    f"set {' and '.join(missing)} (or DIFY_MOCK_KEY / DIFY_MOCK_SERVER_KEY), or use --host 127.0.0.1"
                )
        for path in self.fixtures:
            if not path.exists():
                raise ConfigError(f"--fixtures {path}: no such file or folder")
        for plugin in self.serverless_plugins:
            if plugin.folder is not None and not (plugin.folder / "manifest.yaml").is_file():
                raise ConfigError(f"--serverless {plugin.plugin_id}: {plugin.folder} has no manifest.yaml")
        if self.examples and not EXAMPLES.is_file():
            raise ConfigError(
                f"--examples: {EXAMPLES} is not there: the example rules come with a dify-mock checkout, not with an "
                "installed package; copy them from the repository and pass --fixtures"
            )
        if self.replay is not None and not self.replay.is_dir():
            raise ConfigError(f"--replay {self.replay}: no such folder of cassettes")
        if self.record_mode is not None and self.record is None and self.replay is None:
            raise ConfigError(f"--record-mode {self.record_mode}: give the cassette folder with --record DIR")
        if self.record_mode == "all" and self.record is None:
            raise ConfigError("--record-mode all records every call and replays none: give the folder as --record DIR")
        cassette_problem = run_name_problem(self.cassette or self.answers.cassettes.name)
        if cassette_problem is not None:
            given = "--cassette" if self.cassette else f"{self.config}: cassettes.name"
            raise ConfigError(f"{given}: {cassette_problem}")


def option_fields() -> dict[str, Any]:
    """The settings, by field name, in the order they are declared."""
    return {
        name: field
        for name, field in Settings.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("option")
    }


def env_names(name: str) -> list[str]:
    """The environment variables a setting is read from, first one first."""
    extra = Settings.model_fields[name].json_schema_extra
    also = extra.get("also_env", []) if isinstance(extra, dict) else []
    return [f"{ENV_PREFIX}{name.upper()}", *(str(item) for item in also)]  # type: ignore[union-attr]


_config_values: ContextVar[dict[str, Any] | None] = ContextVar("config_values", default=None)


class _ConfigFileSource(PydanticBaseSettingsSource):
    """The config file's top-level keys that name a setting; below the environment."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_config_values.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_config_values.get() or {})


def load_settings(given: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from the command line's values (`given`, by field name), the environment and the config file
    the command line or the environment names; ConfigError says in one line which value is wrong and why."""
    environ = os.environ if environ is None else environ
    config_path = _config_path(given, environ)
    file_values: dict[str, Any] = {}
    file_lines: dict[str, int] = {}
    answers = AnswerConfig()
    if config_path is not None:
        try:
            loaded = read_config_file(config_path, frozenset(option_fields()) - NOT_IN_CONFIG_FILE)
        except ConfigFileError as error:
            raise ConfigError(str(error)) from None
        answers, file_values, file_lines = loaded.answers, loaded.settings, loaded.lines
    token = _config_values.set(file_values)
    try:
        settings = Settings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as error:
        raise ConfigError(_explain(error, given, environ, config_path, file_lines)) from None
    finally:
        _config_values.reset(token)
    try:
        serverless = tuple(parse_serverless(spec) for spec in settings.serverless)
    except SpecError as error:
        raise ConfigError(str(error)) from None
    relative_to = config_path.parent if config_path is not None else Path()
    settings = settings.model_copy(
        update={"answers": answers, "serverless_plugins": serverless + answers.serverless_plugins(relative_to)}
    )
    return settings


def _config_path(given: Mapping[str, Any], environ: Mapping[str, str]) -> Path | None:
    value = given.get("config") or environ.get(f"{ENV_PREFIX}CONFIG")
    return Path(value) if value else None


def _explain(
    error: ValidationError,
    given: Mapping[str, Any],
    environ: Mapping[str, str],
    config_path: Path | None,
    file_lines: Mapping[str, int],
) -> str:
    problems = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        name = _field_of(name)
        message = str(problem["msg"]).removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        value = problem.get("input")
        if given.get(name) is not None:
            where = f"--{name.replace('_', '-')} {_shown(name, given[name])}"
        elif (variable := next((env for env in env_names(name) if environ.get(env)), None)) is not None:
            where = f"{variable}={_shown(name, environ[variable])}"
        elif name in file_lines:
            where = f"{config_path}:{file_lines[name]}: {name}: {_shown(name, value)}"
        else:
            where = f"{name} {_shown(name, value)}"
        allowed = _allowed(name)
        if allowed and problem["type"] == "literal_error":
            message = f"must be {allowed}"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def _field_of(name: str) -> str:
    if name in Settings.model_fields:
        return name
    lowered = name.lower().removeprefix(ENV_PREFIX.lower())
    return next((field for field in Settings.model_fields if field == lowered or name in env_names(field)), name)


def _shown(name: str, value: Any) -> str:
    if name in ("server_key", "inner_api_key", "key"):
        return "(not shown)"  # a key never reaches a terminal
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    return repr(value) if isinstance(value, str) else repr(str(value)) if isinstance(value, Path) else str(value)


def _allowed(name: str) -> str:
    """What a setting takes, in words, for its error and its --help line."""
    field = Settings.model_fields.get(name)
    if field is None:
        return ""
    choices = literal_choices(field.annotation)
    if choices:
        return f"one of {', '.join(choices)}"
    return ""


def literal_choices(annotation: Any) -> tuple[str, ...]:
    """The values of a Literal setting (inside Annotated or Optional), else ()."""
    if getattr(annotation, "__origin__", None) is Literal:
        return tuple(str(arg) for arg in get_args(annotation))
    for arg in get_args(annotation):
        found = literal_choices(arg)
        if found:
            return found
    return ()


def run_name_problem(name: str) -> str | None:
    """Why `name` cannot name the run's cassette (a file name inside the cassette folder, not a path), if so."""
    if RUN_CASSETTE_NAME.match(name) and len(name) <= MAX_CASSETTE_NAME:
        return None
    return (
        f"cassette name {name!r} is not a file name: use letters, digits, '.', '_' and '-' (at most {MAX_CASSETTE_NAME}, "
        "not starting with '.'); the cassette is always written inside the --record folder"
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
