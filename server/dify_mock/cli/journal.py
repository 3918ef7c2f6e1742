"""`dify-mock journal`: the journal of a running mock in the terminal, one line per call or one JSON line each."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dify_mock.cli.console import UsageError, non_negative
from dify_mock.cli.mock_client import not_running, wants_key
from dify_mock.cli.options import add_settings_options
from dify_mock.protocol.words import plural

if TYPE_CHECKING:
    import httpx

RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SEEN_KEPT = 10_000


def add_journal_parser(commands: Any, help_text: str) -> None:
    journal = commands.add_parser(
        "journal",
        help=help_text,
        description="Print what the plugins were asked and what they asked for: one line per call, or --json lines.",
    )
    add_settings_options(journal, ("url", "server_key"))
    journal.add_argument("-f", "--follow", action="store_true", help="keep printing calls as they finish")
    journal.add_argument("--json", action="store_true", help="each entry as one JSON line, complete")
    journal.add_argument("--kind", help="dispatch (host -> plugin), reverse (plugin -> host), log, ...")
    journal.add_argument("--type", help="llm, tts, tool, invoke_tool, ...")
    journal.add_argument("--plugin", help="author/name")
    journal.add_argument("--session", help="a session id")
    journal.add_argument("--tenant", help="a tenant id")
    journal.add_argument(
        "--since", type=when, help="started at or after: epoch seconds, ISO time, or 30s / 10m / 2h ago"
    )
    journal.add_argument("--until", type=when, help="started before (same forms as --since)")
    journal.add_argument("--after-id", type=non_negative, help="only entries with a greater id")
    journal.add_argument(
        "--limit", type=non_negative, default=50, help="the newest N entries first (0: all; default 50)"
    )
    journal.add_argument("--clear", action="store_true", help="delete every entry and exit")
    journal.add_argument(
        "--summary", action="store_true", help="counts instead of entries: per type, failed, per fixture rule"
    )
    journal.set_defaults(run=run_journal)


def when(value: str) -> float:
    """Epoch seconds from `1732521600`, `2026-11-25T08:00:00` or `10m` (ago)."""
    relative = RELATIVE.match(value.strip())
    if relative:
        return time.time() - float(relative.group(1)) * SECONDS[relative.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time: use epoch seconds, an ISO time or 30s / 10m / 2h / 1d"
        ) from None


def filters(arguments: argparse.Namespace) -> dict[str, Any]:
    wanted = {
        "kind": arguments.kind,
        "type": arguments.type,
        "plugin_id": arguments.plugin,
        "session_id": arguments.session,
        "tenant_id": arguments.tenant,
        "since": arguments.since,
        "until": arguments.until,
        "after_id": arguments.after_id,
    }
    return {name: value for name, value in wanted.items() if value is not None}


def run_journal(arguments: argparse.Namespace) -> int:
    import httpx

    headers = {"X-Requested-With": "dify-mock"} | ({"X-Api-Key": arguments.server_key} if arguments.server_key else {})
    printer = Printer(arguments.json, color=sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    try:
        with httpx.Client(base_url=arguments.url, headers=headers, timeout=httpx.Timeout(10, read=None)) as client:
            if arguments.clear:
                client.delete("/mock/journal").raise_for_status()
                print("journal cleared", file=sys.stderr)
                return 0
            if arguments.follow:
                return follow(client, arguments, printer)
            if arguments.summary:
                return print_summary(client, arguments)
            params = filters(arguments)
            if arguments.limit:
                params["limit"] = arguments.limit
            response = client.get("/mock/journal", params=params)
            if response.status_code == 401:
                raise wants_key()
            response.raise_for_status()
            for entry in response.json()["entries"]:
                printer.entry(entry)
    except httpx.ConnectError as error:
        raise UsageError(not_running(arguments.url, error)) from None
    except httpx.HTTPError as error:
        print(f"dify-mock: cannot read the journal at {arguments.url}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def print_summary(client: httpx.Client, arguments: argparse.Namespace) -> int:
    response = client.get("/mock/journal/summary", params=filters(arguments))
    if response.status_code == 401:
        raise wants_key()
    summary = response.raise_for_status().json()
    if arguments.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print(f"{summary['entries']} entries, {summary['failed']} failed, {summary['running']} running")
    for kind, types in sorted(summary["kinds"].items()):
        print(f"{kind}: " + ", ".join(f"{name} {count}" for name, count in sorted(types.items())))
    if summary["answered_by"]:
        print("reverse calls answered by:")
    width = max((len(name) for name in summary["answered_by"]), default=0)
    for name, count in sorted(summary["answered_by"].items(), key=lambda item: (-item[1], item[0])):
        print(f"  {name:<{width}}  {count}")
    return 0


def follow(client: httpx.Client, arguments: argparse.Namespace, printer: Printer) -> int:
    """Streams /mock/events; reconnects (without repeating entries) when the mock restarts."""
    import httpx

    params: dict[str, Any] = {**filters(arguments), "chunks": "false", "full": str(arguments.json).lower()}
    params["history"] = arguments.limit if arguments.limit else 10_000
    seen: set[int] = set()
    order: deque[int] = deque()
    waiting = False
    while True:
        try:
            with client.stream("GET", "/mock/events", params=params) as response:
                if response.status_code == 401:
                    raise wants_key()
                response.raise_for_status()
                if waiting:
                    print(f"reconnected to {arguments.url}", file=sys.stderr)
                    waiting = False
                for name, data in sse_events(response.iter_lines()):
                    if name == "plugin":
                        printer.plugin(json.loads(data))
                    elif name in ("entry", "finished"):
                        entry = json.loads(data)
                        if not entry.get("done") or entry["id"] in seen:
                            continue
                        seen.add(entry["id"])
                        order.append(entry["id"])
                        if len(order) > SEEN_KEPT:
                            seen.discard(order.popleft())
                        printer.entry(entry)
            params["history"] = 10_000  # after a restart, catch up on what finished meanwhile
        except httpx.TransportError:
            if not waiting:
                print(f"waiting for the mock at {arguments.url}…", file=sys.stderr)
                waiting = True
            time.sleep(1)


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    name, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


class Printer:
    def __init__(self, as_json: bool, color: bool) -> None:
        self.as_json = as_json
        self.color = color

    def entry(self, entry: dict[str, Any]) -> None:
        if self.as_json:
            print(json.dumps(entry, ensure_ascii=False), flush=True)
            return
        print(format_entry(entry, self.color), flush=True)

    def plugin(self, event: dict[str, Any]) -> None:
        if not self.as_json:
            plugin = event.get("plugin") or {}
            print(
                f"-- plugin {plugin.get('plugin_id')} {event.get('event')} (tenant {plugin.get('tenant_id')})",
                flush=True,
            )


def _answered_by(entry: dict[str, Any]) -> str:
    """`rule:greeting (rules.yaml:3)`; a rule without a name is already called by its place: `rule:rules.yaml:3`."""
    answered_by = str(entry.get("answered_by") or "-")
    rule = entry.get("rule")
    return f"{answered_by} ({rule})" if rule and answered_by != f"rule:{rule}" else answered_by


def format_entry(entry: dict[str, Any], color: bool = False) -> str:
    """`08:52:07.570 reverse  tts  model_caller  rule:greeting (rules.yaml:3)  1.0 ms  "hello" -> 2 chunks`, plus an
    error line."""
    started = datetime.fromtimestamp(float(entry.get("time") or 0))
    clock = started.strftime("%H:%M:%S.") + f"{started.microsecond // 1000:03d}"
    duration = entry.get("duration_ms")
    status = "running" if not entry.get("done") else f"{duration:.1f} ms" if duration is not None else "done"
    parts = [
        clock,
        f"#{entry.get('id')}",
        f"{entry.get('kind', ''):8}",
        f"{entry.get('type', '')}",
        str(entry.get("plugin_id", "")),
        _answered_by(entry),
        status,
    ]
    line = "  ".join(parts) + f"  {summarize_request(entry)} -> {summarize_response(entry)}"
    error = entry.get("error")
    if error:
        text = f"    error: {error}"
        line += "\n" + (f"\033[31m{text}\033[0m" if color else text)
    return line


def _short(value: Any, width: int = 70) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def summarize_request(entry: dict[str, Any]) -> str:
    request = entry.get("request")
    if not isinstance(request, dict):
        return _short(request)
    for message in reversed(request.get("prompt_messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _short(message.get("content"))
    if "tool" in request and "provider" in request:
        parameters = request.get("tool_parameters", request.get("parameters", {}))
        return f"{request['provider']}/{request['tool']} {_short(parameters, 50)}"
    for name in ("content_text", "text", "query"):
        if name in request:
            return _short(request[name])
    return _short({key: value for key, value in request.items() if key not in ("credentials", "user_id")})


def summarize_response(entry: dict[str, Any]) -> str:
    chunks = [chunk for chunk in entry.get("response") or [] if isinstance(chunk, dict)]
    text = ""
    calls: list[str] = []
    for chunk in chunks:
        message = (chunk.get("delta") or {}).get("message") or {}
        if isinstance(message.get("content"), str):
            text += message["content"]
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            calls.append(f"{function.get('name')}({function.get('arguments')})")
        if chunk.get("type") == "text":
            text += str((chunk.get("message") or {}).get("text", ""))
        elif chunk.get("type") == "json":
            text += json.dumps((chunk.get("message") or {}).get("json_object"), ensure_ascii=False)
    if calls:
        return _short("calls " + ", ".join(calls))
    if text:
        return _short(text)
    count = len(entry.get("response") or [])
    return plural(count, "chunk")
