"""Serverless plugins (INSTALL_METHOD=serverless): each request is `POST {url}/invoke?action=...`, answered with a
stream of the plugin's events; the plugin's reverse calls come back separately, to `/backwards-invocation/transaction`.

There is no declaration phase: the declarations come from the plugin folder given with `--serverless
ID=URL@FOLDER`, read by the same loader as the stdio runtime. Without a folder the plugin is known by its id only:
it declares nothing and every reverse call is allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import httpx

from dify_mock.config.specs import ServerlessPlugin
from dify_mock.host import Host
from dify_mock.plugins.folder import PluginFolder, load_plugin_folder
from dify_mock.plugins.registry import PluginRuntime
from dify_mock.protocol.framing import LineSplitter
from dify_mock.protocol.messages import (
    ProtocolError,
    SessionMessage,
    dumps,
    parse_plugin_event,
    parse_session_message,
)
from dify_mock.runtimes.supervisor import launch_tenant

log = logging.getLogger("dify_mock.serverless")

MAX_REQUEST_BYTES = 5 * 1024 * 1024  # the daemon's MAX_SERVERLESS_REQUEST_BYTES
RETRIES_ON_502 = 3
ALL_PERMISSIONS = {
    "tool": {"enabled": True},
    "model": {
        "enabled": True,
        "llm": True,
        "text_embedding": True,
        "rerank": True,
        "tts": True,
        "speech2text": True,
        "moderation": True,
    },
    "node": {"enabled": True},
    "endpoint": {"enabled": True},
    "app": {"enabled": True},
    "storage": {"enabled": True, "size": 1048576},
}


class ServerlessError(ValueError):
    """A serverless registration that cannot work; the text says why."""


def undeclared_manifest(plugin_id: str) -> dict[str, Any]:
    """What the mock assumes of a serverless plugin given without its folder."""
    author, _, name = plugin_id.partition("/")
    label = {language: name for language in ("zh_Hans", "pt_BR", "ja_JP", "en_US")}
    return {
        "version": "0.0.0",
        "type": "plugin",
        "author": author,
        "name": name,
        "description": label,
        "label": label,
        "resource": {"memory": 0, "permission": ALL_PERMISSIONS},
        "plugins": {},
        "meta": {"runner": {"language": "python", "version": "3.12", "entrypoint": "main"}},
    }


class ServerlessConnection:
    """Each host -> plugin request becomes one HTTP call; its streamed answer feeds the request's session."""

    kind = "serverless"

    def __init__(self, host: Host, plugin: ServerlessPlugin, client: httpx.AsyncClient) -> None:
        self.host = host
        self.plugin = plugin
        self.client = client
        self.closed = False
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            raise ConnectionError(f"serverless plugin {self.plugin.plugin_id} is no longer registered")
        if message.get("event") != "request":
            return  # reverse calls are answered on their own HTTP transaction, never through here
        task = asyncio.create_task(self.invoke(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def close(self, reason: str) -> None:
        self.closed = True
        for task in list(self.tasks):
            task.cancel()

    async def invoke(self, message: dict[str, Any]) -> None:
        session_id = str(message.get("session_id"))
        data = message.get("data")
        action = str(data.get("action", "")) if isinstance(data, dict) else ""
        body = dumps(message).encode()
        url = f"{self.plugin.url}/invoke"
        if len(body) > MAX_REQUEST_BYTES:
            self.fail(session_id, f"the request is {len(body)} bytes, over the serverless limit of {MAX_REQUEST_BYTES}")
            return
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Dify-Plugin-Session-ID": session_id,
        }
        try:
            for attempt in range(RETRIES_ON_502 + 1):
                params = {"action": action}
                async with self.client.stream("POST", url, params=params, content=body, headers=headers) as response:
                    if response.status_code == 502 and attempt < RETRIES_ON_502:
                        await asyncio.sleep(0.5 * 2**attempt)
                        continue
                    if response.status_code != 200:
                        text = (await response.aread()).decode("utf-8", "replace")
                        self.fail(session_id, f"{url} answered {response.status_code}: {text[:500]}")
                        return
                    await self.read_events(session_id, response)
                    return
        except httpx.HTTPError as error:
            self.fail(session_id, f"cannot reach serverless plugin {self.plugin.plugin_id} at {url}: {error!r}")

    async def read_events(self, session_id: str, response: httpx.Response) -> None:
        splitter = LineSplitter(self.host.settings.max_line_bytes)
        async for chunk in response.aiter_bytes():
            lines, errors = splitter.feed(chunk)
            for error in errors:
                log.warning("serverless plugin %s: dropped a line: %s", self.plugin.plugin_id, error)
            for line in lines:
                if self.event(session_id, line):
                    return
        self.deliver(session_id, SessionMessage("end", {}))  # the daemon ends a stream that stopped without `end`

    def event(self, session_id: str, line: bytes) -> bool:
        """Handles one line of an /invoke answer; True when the request has ended."""
        try:
            value = json.loads(line)
        except ValueError:
            log.warning("serverless plugin %s wrote a line that is not JSON: %.200r", self.plugin.plugin_id, line)
            return False
        if isinstance(value, dict) and "errorType" in value:  # a function platform's own error (AWS Lambda)
            self.fail(
                session_id, f"the serverless runtime failed: {value.get('errorType')}: {value.get('errorMessage')}"
            )
            return True
        try:
            event = parse_plugin_event(line)
            if event.event != "session":
                return False
            message = parse_session_message(event.data)
        except ProtocolError as error:
            log.warning("serverless plugin %s sent an invalid message (%s)", self.plugin.plugin_id, error)
            return False
        if message.type == "invoke":
            self.fail(
                session_id,
                "serverless_event_not_supported: a serverless plugin makes reverse calls through "
                "/backwards-invocation/transaction, not on its /invoke stream",
            )
            return True
        if event.session_id and event.session_id != session_id:
            log.warning(
                "serverless plugin %s answered request %s with a message for session %s: dropped (not its session)",
                self.plugin.plugin_id,
                session_id,
                event.session_id,
            )
            return False
        self.deliver(session_id, message)
        return message.type == "end"

    def fail(self, session_id: str, text: str) -> None:
        log.warning("serverless plugin %s: %s", self.plugin.plugin_id, text)
        error = {"error_type": "PluginRuntimeError", "message": text, "args": {}}
        self.deliver(session_id, SessionMessage("error", error))
        self.deliver(session_id, SessionMessage("end", {}))

    def deliver(self, session_id: str, message: SessionMessage) -> None:
        session = self.host.registry.session(session_id)
        if session is not None:
            session.events.put_nowait(message)


def serverless_runtime(host: Host, plugin: ServerlessPlugin, client: httpx.AsyncClient) -> PluginRuntime:
    folder: PluginFolder | None = None
    if plugin.folder is not None:
        folder = load_plugin_folder(plugin.folder)
        if folder.plugin_id != plugin.plugin_id:
            raise ServerlessError(
                f"--serverless {plugin.plugin_id}: the folder {plugin.folder} holds plugin {folder.plugin_id}"
            )
    return PluginRuntime(
        tenant_id=launch_tenant(host),
        manifest=folder.manifest if folder else undeclared_manifest(plugin.plugin_id),
        declarations=folder.declarations if folder else {},
        assets=folder.assets if folder else {},
        connection=ServerlessConnection(host, plugin, client),
        every_tenant=not host.settings.keys,
    )


async def check_health(plugin: ServerlessPlugin, client: httpx.AsyncClient) -> None:
    """Says at start-up whether the plugin answers; dispatch tries it either way."""
    with contextlib.suppress(asyncio.CancelledError):
        try:
            response = await client.get(f"{plugin.url}/health", timeout=3.0)
        except httpx.HTTPError as error:
            log.warning(
                "serverless plugin %s does not answer at %s/health yet (%r); dispatch will try it anyway",
                plugin.plugin_id,
                plugin.url,
                error,
            )
            return
        log.info("serverless plugin %s answers at %s (health: %d)", plugin.plugin_id, plugin.url, response.status_code)
