"""One settings object: command-line flags, with `DIFY_MOCK_*` environment variables as their defaults."""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dify_mock.config.file import AnswerConfig, ConfigFileError, load_config_file
from dify_mock.config.specs import PluginLaunch, ServerlessPlugin, SpecError, parse_serverless
from dify_mock.protocol.framing import DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_LINE_BYTES

DEFAULT_TENANT = "default"
INNER_API_STREAMS = ("auto", "frames", "sse")
DEFAULT_MAX_UPLOAD_BYTES = 15 * 1024 * 1024  # Dify's UPLOAD_FILE_SIZE_LIMIT


RUN_CASSETTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_CASSETTE_NAME = 200


class ConfigError(ValueError):
    """Settings that cannot work together; the text says how to fix them."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5002
    debug_port: int = 5003
    keys: dict[str, str] = field(default_factory=dict)  # remote-debug key -> tenant id; empty: any key
    server_key: str | None = None
    fixtures: tuple[Path, ...] = ()
    strict: bool = False
    config_file: Path | None = None
    answers: AnswerConfig = field(default_factory=AnswerConfig)  # from the config file: backends, chains, faults
    record_dir: Path | None = None
    replay_dir: Path | None = None
    cassette: str | None = None
    replay_timing: str | None = None
    replay_ignore: tuple[str, ...] = ()
    data_dir: Path = Path(".dify-mock")
    heartbeat_timeout: float = 60.0
    handshake_timeout: float = 10.0
    invoke_timeout: float = 600.0
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    log_level: str = "info"
    launches: tuple[PluginLaunch, ...] = ()  # plugin processes `dify-mock run` starts and supervises
    serverless: tuple[ServerlessPlugin, ...] = ()
    inner_api_key: str | None = None  # the X-Inner-Api-Key a dify-plugin-daemon sends; None: any key
    inner_api_stream: str = "auto"  # auto: frames, SSE when the client asks for text/event-stream; frames; sse
    inner_api_max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    transaction_keepalive: float = 25.0  # seconds between keep-alive lines on a long serverless reverse call
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    files_url: str | None = None  # the mock's address as plugins reach it; None: http://<host>:<port>
    journal_max_entries: int = 10_000
    plugin_log_rate: int = 50  # log lines a second of one plugin that reach the log and journal; the rest are counted
    allowed_hosts: tuple[str, ...] = ()  # Host names served besides loopback, the listen address and the public URL

    def tenant_for_key(self, key: str) -> str | None:
        """The tenant a remote-debug key joins, or None when the key is refused."""
        if not self.keys:
            return DEFAULT_TENANT
        found = None
        for known, tenant in self.keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                found = tenant
        return found

    @property
    def public_url(self) -> str:
        """Where plugins reach the HTTP API: the base of upload and file URLs (FILES_URL in Dify)."""
        if self.files_url:
            return self.files_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else "[::1]" if self.host == "::" else self.host
        return f"http://{f'[{host}]' if ':' in host and not host.startswith('[') else host}:{self.port}"

    def check(self) -> None:
        if self.files_url is not None and not self.files_url.startswith(("http://", "https://")):
            raise ConfigError(f"--files-url {self.files_url!r} must start with http:// or https://")
        if self.plugin_log_rate < 1:
            raise ConfigError(f"--plugin-log-rate must be at least 1, got {self.plugin_log_rate}")
        if self.max_upload_bytes < 1:
            raise ConfigError(f"--max-upload-bytes must be at least 1, got {self.max_upload_bytes}")
        if not is_loopback(self.host):
            missing = [flag for flag, value in (("--key", self.keys), ("--server-key", self.server_key)) if not value]
            if missing:
                raise ConfigError(
                    f"listening on {self.host} exposes the mock beyond this machine: "
                    f"set {' and '.join(missing)} (or DIFY_MOCK_KEY / DIFY_MOCK_SERVER_KEY), or use --host 127.0.0.1"
                )
        for path in self.fixtures:
            if not path.exists():
                raise ConfigError(f"fixture path {path} does not exist")
        for plugin in self.serverless:
            if plugin.folder is not None and not (plugin.folder / "manifest.yaml").is_file():
                raise ConfigError(f"--serverless {plugin.plugin_id}: {plugin.folder} has no manifest.yaml")
        if self.inner_api_stream not in INNER_API_STREAMS:
            raise ConfigError(f"--inner-api-stream must be one of {', '.join(INNER_API_STREAMS)}")
        if self.replay_dir is not None and not self.replay_dir.is_dir():
            raise ConfigError(f"--replay {self.replay_dir}: no such folder of cassettes")
        cassette_problem = run_name_problem(self.cassette or self.answers.cassettes.name)
        if cassette_problem is not None:
            given = "--cassette" if self.cassette else f"{self.config_file}: cassettes.name"
            raise ConfigError(f"{given}: {cassette_problem}")


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


def parse_keys(values: Sequence[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for value in values:
        key, _, tenant = value.partition("=")
        if not key:
            raise ConfigError(f"--key {value!r}: the key is empty (use KEY or KEY=TENANT_ID)")
        keys[key] = tenant or DEFAULT_TENANT
    return keys


def _env_path(environ: Mapping[str, str], name: str) -> Path | None:
    value = environ.get(name)
    return Path(value) if value else None


def _env_list(environ: Mapping[str, str], name: str) -> list[str]:
    return [item for item in environ.get(name, "").replace(os.pathsep, ",").split(",") if item.strip()]


def add_serve_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    env = environ.get
    parser.add_argument("--host", default=env("DIFY_MOCK_HOST", "127.0.0.1"), help="interface to listen on")
    parser.add_argument("--port", type=int, default=int(env("DIFY_MOCK_PORT", "5002")), help="HTTP API port")
    parser.add_argument(
        "--debug-port",
        type=int,
        default=int(env("DIFY_MOCK_DEBUG_PORT", "5003")),
        help="remote-debug TCP port",
    )
    parser.add_argument(
        "--key",
        action="append",
        default=_env_list(environ, "DIFY_MOCK_KEY"),
        metavar="KEY[=TENANT_ID]",
        help="accept plugins with this REMOTE_INSTALL_KEY (repeatable); without it any key joins tenant 'default'",
    )
    parser.add_argument(
        "--server-key", default=env("DIFY_MOCK_SERVER_KEY"), help="require this X-Api-Key on the plugin API"
    )
    parser.add_argument(
        "--fixtures",
        action="append",
        type=Path,
        default=[Path(p) for p in _env_list(environ, "DIFY_MOCK_FIXTURES")],
        metavar="PATH",
        help="a fixture file or folder (repeatable)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        default=env("DIFY_MOCK_STRICT", "").lower() in ("1", "true", "yes"),
        help="fail reverse calls that no fixture rule answers",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=_env_path(environ, "DIFY_MOCK_CONFIG"),
        metavar="FILE",
        help="YAML config file: live model backends, answer chains per model type, cassettes, latency, faults",
    )
    parser.add_argument(
        "--record",
        type=Path,
        default=_env_path(environ, "DIFY_MOCK_RECORD"),
        metavar="DIR",
        help="record every answer a live backend gives into cassettes in DIR",
    )
    parser.add_argument(
        "--replay",
        type=Path,
        default=_env_path(environ, "DIFY_MOCK_REPLAY"),
        metavar="DIR",
        help="answer from the cassettes in DIR instead of live backends (strict: a new call fails with a diff)",
    )
    parser.add_argument(
        "--cassette", default=env("DIFY_MOCK_CASSETTE"), metavar="NAME", help="the run's cassette file name"
    )
    parser.add_argument(
        "--replay-timing",
        choices=("instant", "recorded"),
        default=env("DIFY_MOCK_REPLAY_TIMING"),
        help="replay chunks at once (instant) or with their recorded gaps",
    )
    parser.add_argument(
        "--replay-ignore",
        action="append",
        default=_env_list(environ, "DIFY_MOCK_REPLAY_IGNORE"),
        metavar="FIELD",
        help="a request field replay does not compare, e.g. completion_params.temperature (repeatable)",
    )
    parser.add_argument("--data-dir", type=Path, default=Path(env("DIFY_MOCK_DATA_DIR", ".dify-mock")))
    parser.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=float(env("DIFY_MOCK_HEARTBEAT_TIMEOUT", "60")),
        help="drop a remote plugin silent for this many seconds",
    )
    parser.add_argument(
        "--invoke-timeout",
        type=float,
        default=float(env("DIFY_MOCK_INVOKE_TIMEOUT", "600")),
        help="give up on a dispatched invocation after this many seconds",
    )
    parser.add_argument(
        "--max-line-bytes",
        type=int,
        default=int(env("DIFY_MOCK_MAX_LINE_BYTES", str(DEFAULT_MAX_LINE_BYTES))),
        help="the longest line a plugin may send; a longer one is dropped with a warning, the connection kept",
    )
    parser.add_argument("--log-level", default=env("DIFY_MOCK_LOG_LEVEL", "info"))
    parser.add_argument(
        "--serverless",
        action="append",
        default=[item for item in env("DIFY_MOCK_SERVERLESS", "").split(",") if item.strip()],
        metavar="AUTHOR/NAME=URL[@FOLDER]",
        help="a plugin running with INSTALL_METHOD=serverless at URL (repeatable); FOLDER: where its declarations are",
    )
    parser.add_argument(
        "--inner-api-key",
        default=env("DIFY_MOCK_INNER_API_KEY") or env("INNER_API_KEY_FOR_PLUGIN"),
        help="the X-Inner-Api-Key a real dify-plugin-daemon must send to /inner/api (Dify's INNER_API_KEY_FOR_PLUGIN)",
    )
    parser.add_argument(
        "--inner-api-stream",
        choices=INNER_API_STREAMS,
        default=env("DIFY_MOCK_INNER_API_STREAM", "auto"),
        help="streaming inner API routes: length-prefixed frames (current daemons), server-sent events (daemons "
        "before June 2025), or auto: frames unless the client asks for text/event-stream",
    )
    parser.add_argument(
        "--inner-api-max-frame-bytes",
        type=int,
        default=int(env("DIFY_MOCK_INNER_API_MAX_FRAME_BYTES", str(DEFAULT_MAX_FRAME_BYTES))),
        help="the largest inner API frame to send (the daemon's RESPONSE_MAX_BUFFER_SIZE)",
    )
    parser.add_argument(
        "--transaction-keepalive",
        type=float,
        default=float(env("DIFY_MOCK_TRANSACTION_KEEPALIVE", "25")),
        help="seconds between keep-alive lines on a long serverless reverse call",
    )
    parser.add_argument(
        "--max-upload-bytes",
        type=int,
        default=int(env("DIFY_MOCK_MAX_UPLOAD_BYTES", str(DEFAULT_MAX_UPLOAD_BYTES))),
        help="the largest file a plugin may upload (session.file.upload)",
    )
    parser.add_argument(
        "--files-url",
        default=env("DIFY_MOCK_FILES_URL"),
        help="the mock's address as plugins reach it, base of upload and file URLs (default http://HOST:PORT)",
    )
    parser.add_argument(
        "--journal-max-entries",
        type=int,
        default=int(env("DIFY_MOCK_JOURNAL_MAX_ENTRIES", "10000")),
        help="keep this many journal entries in the data folder, a fair share for each plugin (the newest of each)",
    )
    parser.add_argument(
        "--plugin-log-rate",
        type=int,
        default=int(env("DIFY_MOCK_PLUGIN_LOG_RATE", "50")),
        metavar="LINES",
        help="log lines a second of one plugin that reach the log and the journal; past that they are counted",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=_env_list(environ, "DIFY_MOCK_ALLOWED_HOSTS"),
        metavar="NAME",
        help="a Host name to serve besides loopback, the --host address and the --files-url host (repeatable); "
        "requests naming any other host are refused, against DNS rebinding",
    )


def _answer_config(path: Path | None) -> AnswerConfig:
    if path is None:
        return AnswerConfig()
    try:
        return load_config_file(path)
    except ConfigFileError as error:
        raise ConfigError(str(error)) from None


def _serverless(values: Sequence[str]) -> tuple[ServerlessPlugin, ...]:
    try:
        return tuple(parse_serverless(value) for value in values)
    except SpecError as error:
        raise ConfigError(str(error)) from None


def settings_from_arguments(arguments: argparse.Namespace) -> Settings:
    answers = _answer_config(arguments.config)
    settings = Settings(
        host=arguments.host,
        port=arguments.port,
        debug_port=arguments.debug_port,
        keys=parse_keys(arguments.key),
        server_key=arguments.server_key or None,
        fixtures=tuple(arguments.fixtures),
        strict=arguments.strict,
        config_file=arguments.config,
        answers=answers,
        record_dir=arguments.record,
        replay_dir=arguments.replay,
        cassette=arguments.cassette or None,
        replay_timing=arguments.replay_timing or None,
        replay_ignore=tuple(arguments.replay_ignore),
        data_dir=arguments.data_dir,
        heartbeat_timeout=arguments.heartbeat_timeout,
        invoke_timeout=arguments.invoke_timeout,
        max_line_bytes=arguments.max_line_bytes,
        log_level=arguments.log_level,
        serverless=_serverless(arguments.serverless)
        + answers.serverless_plugins(arguments.config.parent if arguments.config else Path()),
        inner_api_key=arguments.inner_api_key or None,
        inner_api_stream=arguments.inner_api_stream,
        inner_api_max_frame_bytes=arguments.inner_api_max_frame_bytes,
        transaction_keepalive=arguments.transaction_keepalive,
        max_upload_bytes=arguments.max_upload_bytes,
        files_url=arguments.files_url or None,
        journal_max_entries=arguments.journal_max_entries,
        plugin_log_rate=arguments.plugin_log_rate,
        allowed_hosts=tuple(host.strip().lower() for host in arguments.allowed_host if host.strip()),
    )
    settings.check()
    return settings
