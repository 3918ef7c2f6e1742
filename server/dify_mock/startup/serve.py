"""Runs the HTTP API and the remote-debug listener in one event loop until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sqlite3
import sys
from collections.abc import Coroutine
from typing import Any

import uvicorn

from dify_mock.answers.rules import RuleBook
from dify_mock.config.settings import Settings
from dify_mock.host import Host, build_host
from dify_mock.http.limits import head_protocol
from dify_mock.runtimes.lifecycle import describe_started
from dify_mock.startup.app import create_app
from dify_mock.startup.listeners import ListenError, Listeners, bind_listeners
from dify_mock.store.disk import unwritable_because, write_failure

log = logging.getLogger("dify_mock")


def banner(host: Host) -> str:
    settings = host.settings
    url = settings.outside_url
    client_options = ("" if url == "http://localhost:5002" else f" --url {url}") + (
        " --server-key <the server key>" if settings.server_key else ""
    )
    connect = settings.connect_host
    everywhere = " (listening on every interface)" if settings.listens_everywhere else ""
    lines = [
        f"dify-mock is ready: HTTP API on http://{connect}:{settings.port}, remote debug on {connect}:"
        f"{settings.debug_port}{everywhere}",
        *_connect_lines(settings),
        f"Dashboard: {url}/",
        f"Journal:   {settings.data_dir / 'journal.sqlite3'}; follow it with `dify-mock journal -f{client_options}`",
        "",
    ]
    counts = host.rules.counts()
    for path in settings.fixtures:
        if path.is_dir() and not any(found.suffix.lower() in (".yaml", ".yml") for found in path.rglob("*")):
            lines.append(f"warning: --fixtures {path}: no .yaml or .yml file in this folder")
    if counts:
        lines.append("Fixture rules loaded:")
        for source, per_key in counts.items():
            summary = ", ".join(f"{key}: {count}" for key, count in per_key.items()) or "no rules"
            lines.append(f"    {source}  ({summary})")
    else:
        lines.append(_without_rules(host))
    for warning in host.rules.warnings():
        lines.append(f"warning: {warning}")
    if settings.strict:
        lines.append("--strict: a reverse call that no rule answers fails.")
    lines.extend(host.chain.describe())
    lines.extend(describe_started(settings))
    return "\n".join(lines)


def _connect_lines(settings: Settings) -> list[str]:
    """The .env lines for a plugin the user starts; `dify-mock run` starts its plugin itself."""
    address = settings.outside_debug_url
    key = next(iter(settings.keys), "any-key-works")
    if settings.launches:
        return [f"Another plugin can connect with INSTALL_METHOD=remote, REMOTE_INSTALL_URL={address}.", ""]
    return [
        "Put these lines in your plugin's .env, then run `python -m main`:",
        "",
        "    INSTALL_METHOD=remote",
        f"    REMOTE_INSTALL_URL={address}",
        f"    REMOTE_INSTALL_KEY={key}",
        "",
    ]


def _without_rules(host: Host) -> str:
    """What answers reverse calls when no fixture rule does: live backends or cassettes for the model types whose
    chain has them, the built-in answer for everything else."""
    live = host.chain.live_links()
    if not live:
        return "No fixture rules loaded: every reverse call gets the built-in answer."
    return (
        f"No fixture rules loaded: model calls go to {', '.join(live)} as the answer chains below say; "
        "other reverse calls get the built-in answer."
    )


async def run(host: Host, listeners: Listeners) -> None:
    config = uvicorn.Config(
        create_app(host, listeners.debug),
        host=host.settings.host,
        port=host.settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        lifespan="on",
        http=head_protocol(host.settings.max_header_bytes, host.settings.request_read_timeout),
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    # uvicorn handles SIGINT/SIGTERM while it serves, then re-raises the signal to the handler it found:
    # a handler that does nothing lets the process finish its shutdown and exit with status 0.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: None)
    serving = asyncio.create_task(server.serve(sockets=[listeners.http]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        print(banner(host), flush=True)
    await serving
    if not server.started:
        raise SystemExit(1)


def serve(settings: Settings, rules: RuleBook) -> int:
    for what, folder in (("the data folder", settings.data_dir), ("the --record folder", settings.record_dir)):
        problem = unwritable_because(folder) if folder is not None and folder.is_dir() else None
        if problem is not None:  # said now: found at the first write, it would fail a plugin's call instead
            print(f"dify-mock: cannot start: cannot write to {what} {folder}: {problem}", file=sys.stderr)
            return 2
    try:
        listeners = bind_listeners(settings.host, settings.port, settings.debug_port)
    except ListenError as error:
        print(f"dify-mock: {error}", file=sys.stderr)
        return 2
    port, debug_port = listeners.ports  # the ones the system picked for 0
    settings = settings.model_copy(update={"port": port, "debug_port": debug_port})
    try:
        host = build_host(settings, rules)
    except (OSError, sqlite3.Error) as error:  # the data folder cannot be written: full, or read-only
        listeners.close()
        print(f"dify-mock: cannot start: {write_failure(error, settings.data_dir)}", file=sys.stderr)
        return 2
    # What start-up built (modules, models, routes) lives as long as the process: out of the collector's sight,
    # each collection of the oldest generation no longer walks it.
    gc.freeze()
    try:
        _run_loop(run(host, listeners))
    except SystemExit as stop:
        return int(stop.code or 0)
    finally:
        host.close()
        listeners.close()
    log.info("dify-mock stopped")
    return 0


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
