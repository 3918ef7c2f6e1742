"""What the commands that drive a running mock share: its URL and key options, the HTTP client, the daemon's
envelopes unwrapped, a plugin found by its provider, and dispatch calls streamed."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dify_mock.cli.console import UsageError, describe_error, parse_parameters
from dify_mock.cli.options import CLIENT_SETTINGS, add_settings_options

if TYPE_CHECKING:
    import httpx


class CliError(Exception):
    """Ends the command with this message on stderr and exit code 1."""


class PluginFailed(CliError):
    """The plugin's stream ended with an error event."""


# What an error message calls a provider of each declaration category.
PROVIDER_NOUNS = {"tools": "tool", "agent_strategies": "agent"}


def add_client_options(parser: argparse.ArgumentParser) -> None:
    add_settings_options(parser, CLIENT_SETTINGS)
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_request_options(parser: argparse.ArgumentParser, what: str, method: str) -> None:
    parser.add_argument("-X", "--method", default=method, help=f"method of {what} (default {method})")
    parser.add_argument("-d", "--data", help=f"body of {what}; @FILE reads a file")
    parser.add_argument(
        "-H", "--header", action="append", default=[], metavar="NAME:VALUE", help=f"a header of {what} (repeatable)"
    )


def runner(command: Callable[[argparse.Namespace, httpx.Client], int]) -> Callable[[argparse.Namespace], int]:
    def run(arguments: argparse.Namespace) -> int:
        import httpx

        headers = {"X-Requested-With": "dify-mock"} | (
            {"X-Api-Key": arguments.server_key} if arguments.server_key else {}
        )
        try:
            with httpx.Client(base_url=arguments.url, headers=headers, timeout=None) as client:
                return command(arguments, client)
        except CliError as error:
            print(f"dify-mock: {error}", file=sys.stderr)
            return 1
        except httpx.ConnectError as error:
            raise UsageError(not_running(arguments.url, error)) from None
        except httpx.HTTPError as error:
            print(f"dify-mock: cannot reach the mock at {arguments.url}: {error}", file=sys.stderr)
            return 1

    return run


def not_running(url: str, error: Exception) -> str:
    """What to do when nothing answers at the mock's URL."""
    reason = str(error).split("] ", 1)[-1] or type(error).__name__
    return (
        f"no dify-mock answers at {url} ({reason}): start one with `dify-mock serve` (or `make run`), "
        "or point --url (DIFY_MOCK_URL) at the one that runs"
    )


def wants_key() -> UsageError:
    return UsageError("the mock wants its server key: pass --server-key or set DIFY_MOCK_SERVER_KEY")


def parameters_of(items: Sequence[str]) -> dict[str, Any]:
    """name=value (a string; value @FILE reads the file as text) and name:=<json>."""

    parameters = parse_parameters(items)
    for name, value in parameters.items():
        if isinstance(value, str) and value.startswith("@") and len(value) > 1:
            parameters[name] = read_file(value[1:]).decode("utf-8", errors="replace")
    return parameters


def read_file(path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def find_plugin(client: httpx.Client, tenant: str, category: str, provider: str, given: str | None) -> str:
    """The connected plugin declaring `provider` in `category` (tools, agent_strategies, models, datasources,
    triggers), unless the user `given` one."""
    if given:
        return given
    plugins = envelope(client.get(f"/plugin/{tenant}/management/list"))
    for plugin in plugins:
        for declared in plugin["declaration"].get(category) or []:
            name = declared.get("provider") if category == "models" else (declared.get("identity") or {}).get("name")
            if name == provider:
                return str(plugin["plugin_id"])
    connected = ", ".join(plugin["plugin_id"] for plugin in plugins) or "no plugin is connected"
    noun = PROVIDER_NOUNS.get(category, category)
    raise UsageError(f"no connected plugin declares the {noun} provider {provider!r} ({connected})")


def envelope(response: httpx.Response) -> Any:
    if response.status_code == 401:
        raise wants_key()
    try:
        body = response.json()
    except ValueError:
        raise CliError(f"{response.status_code}: {response.text[:300]}") from None
    if response.status_code >= 400 or not isinstance(body, dict) or body.get("code", 0) != 0:
        message = body.get("message", "") if isinstance(body, dict) else str(body)
        raise CliError(f"{response.status_code}: {describe_error(str(message))}")
    return body.get("data")


def dispatch(
    client: httpx.Client, arguments: argparse.Namespace, route: str, plugin: str, data: dict[str, Any]
) -> Iterator[Any]:
    """Each chunk the plugin streams for `route`; CliError on any error."""
    from dify_mock.testing import parse_sse_events

    body = {"user_id": arguments.user, "data": data}
    path = f"/plugin/{arguments.tenant}/dispatch/{route}"
    with client.stream("POST", path, json=body, headers={"X-Plugin-ID": plugin}) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
            yield envelope(response)
            return
        buffer = b""
        for piece in response.iter_bytes():
            buffer += piece
            complete, _, buffer = buffer.rpartition(b"\n\n")
            for event in parse_sse_events(complete + b"\n\n") if complete else []:
                if event.get("code", 0) != 0:
                    raise PluginFailed(describe_error(event.get("message", "")))
                yield event.get("data")


def show(value: Any, as_json: bool) -> None:
    print(json.dumps(value, ensure_ascii=False) if as_json else json.dumps(value, ensure_ascii=False, indent=2))
