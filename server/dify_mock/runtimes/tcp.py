"""Remote-debug TCP, as the daemon speaks it: handshake, declarations, assets, end; then sessions."""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import json
import logging
import re
import socket
import time
from typing import Any, cast

from dify_mock.host import Host
from dify_mock.plugins.registry import PluginRuntime
from dify_mock.protocol.framing import LineSplitter, json_line
from dify_mock.protocol.messages import DECLARATION_KINDS, ProtocolError, parse_register_message
from dify_mock.protocol.sdk_releases import LEGACY_REFUSAL, is_bare_key, release_from_manifest
from dify_mock.runtimes.events import PluginEvents
from dify_mock.runtimes.offer import offer, sdk_release
from dify_mock.runtimes.peer_process import release_of_peer
from dify_mock.store.redaction import mask_key, remember_secret

log = logging.getLogger("dify_mock.tcp")

MAX_ASSET_BYTES = 50 * 1024 * 1024  # the daemon's "assets too large, at most 50MB"
# Registrations under way hold their assets until `end`: all of them together hold at most two plugins' worth.
MAX_REGISTERING_ASSET_BYTES = 2 * MAX_ASSET_BYTES
BUSY = "server is busy now, please try again later"  # the daemon's words when it has no room for a plugin
ASSET_CHUNK_HEADS = (b'"type":"asset_chunk"', b'"type": "asset_chunk"')  # the SDK's (compact), and json.dumps'
# Past this many unread bytes to a plugin, reading from it stops until it reads (its answers wait on its own pace).
OUTGOING_HIGH_WATER = 1024 * 1024
AUTHOR_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")
NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,128}$")
QUICKACK = getattr(socket, "TCP_QUICKACK", None)
PEER_LOOKUP_SECONDS = 5.0  # reading /proc takes milliseconds; on a machine under load, a little more


class RegistrationError(ValueError):
    """The plugin's registration cannot be accepted; the text is what the daemon would write back."""


class Registering:
    """The asset bytes held by every TCP registration under way, together."""

    def __init__(self) -> None:
        self.asset_bytes = 0


class DebugConnection(asyncio.Protocol):
    """One plugin process connected over TCP."""

    kind = "tcp"

    def __init__(self, host: Host, registering: Registering | None = None) -> None:
        self.host = host
        self.registering = registering or Registering()
        self.splitter = LineSplitter(host.settings.max_line_bytes)
        self.state = "handshake"  # handshake -> declaring -> ready; or refused (kept open and idle)
        self.transport: asyncio.Transport | None = None
        self.sock: Any = None
        self.peer = "?"
        self.release_lookup: asyncio.Future[str | None] | None = None
        self.connect_line: asyncio.Task[None] | None = None
        self.tenant_id: str | None = None
        self.rejection: str | None = None
        self.refusal_detail = ""
        self.manifest: dict[str, Any] | None = None
        self.declarations: dict[str, list[dict[str, Any]]] = {}
        self.assets: dict[str, bytearray] = {}
        self.asset_bytes = 0
        self.runtime: PluginRuntime | None = None
        self.events: PluginEvents | None = None
        self.handshake_timer: asyncio.TimerHandle | None = None
        self.registration_timer: asyncio.TimerHandle | None = None
        self.answers_unread = False  # reading is paused while either of these holds
        self.calls_crowded = False

    @property
    def label(self) -> str:
        if self.manifest:
            return f"{self.manifest.get('author')}/{self.manifest.get('name')} ({self.peer})"
        return self.peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        peer = self.transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if isinstance(peer, tuple) and log.isEnabledFor(logging.INFO):  # read while the plugin registers
            self.release_lookup = asyncio.ensure_future(asyncio.to_thread(release_of_peer, peer[0], peer[1]))
        self.sock = self.transport.get_extra_info("socket")
        if self.sock is not None:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        loop = asyncio.get_running_loop()
        self.handshake_timer = loop.call_later(self.host.settings.handshake_timeout, self._handshake_expired)
        self.registration_timer = loop.call_later(self.host.settings.registration_timeout, self._registration_expired)
        self.transport.set_write_buffer_limits(high=OUTGOING_HIGH_WATER)
        log.debug("connection from %s", self.peer)

    def data_received(self, data: bytes) -> None:
        # The kernel clears TCP_QUICKACK after it acknowledges; re-arming it after every read stops the
        # plugin's two-write framing (message, then "\n\n") from waiting on a delayed ACK (~40 ms).
        if QUICKACK is not None and self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        if self.state == "refused" or (self.state == "legacy" and self.handshake_timer is None):
            return  # nothing it sends now is read: none of it is kept
        lines, errors = self.splitter.feed(data)
        for too_long in errors:
            if self.rejection is not None:  # refused already (a wrong key): what it sends now is not kept
                self._refuse_now("register failed, message too long", f"after its refusal, a line: {too_long}")
                return
            log.warning("%s: dropped a line: %s", self.label, too_long)
        for line in lines:
            try:
                self._line(line)
            except Exception:
                log.exception("%s: could not handle a line; skipped it", self.label)
        if self.events is not None and len(self.events.tasks) >= self.host.settings.max_calls_in_flight:
            self._crowded(self.events.tasks)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self.handshake_timer, self.registration_timer):
            if timer is not None:
                timer.cancel()
        self._drop_assets()
        self.state = "closed"
        if self.runtime is not None:
            log.info("plugin %s disconnected", self.runtime.plugin_id)
            self.host.registry.unregister(self.runtime, "Connection closed unexpectedly")

    # -- Connection, as the registry sees it

    def send(self, message: dict[str, Any]) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError(f"the connection to {self.label} is closed")
        self.transport.write(json_line(message))
        unread = self.transport.get_write_buffer_size()
        if unread > self.host.settings.max_outgoing_bytes:
            log.warning(
                "dropping %s: it left %d bytes of answers unread, over --max-outgoing-bytes %d",
                self.label,
                unread,
                self.host.settings.max_outgoing_bytes,
            )
            self.transport.abort()  # close() would keep the unread bytes until they are sent
            raise ConnectionError(f"{self.label} does not read what it is sent")

    def pause_writing(self) -> None:
        """The plugin is not reading its answers: stop reading its calls until it catches up."""
        if self.transport is not None:
            unread = self.transport.get_write_buffer_size()
            log.info("%s is not reading its answers (%d bytes unread): reading from it paused", self.label, unread)
            self.answers_unread = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.answers_unread = False
        self._resume_reading()

    def _crowded(self, tasks: set[asyncio.Task[None]]) -> None:
        """Too many of its reverse calls are being answered: read no more of them until half have ended."""
        if self.calls_crowded or self.transport is None:
            return
        log.info("%s has %d reverse calls in flight: reading from it paused", self.label, len(tasks))
        self.calls_crowded = True
        self.transport.pause_reading()
        for task in tasks:
            task.add_done_callback(self._call_ended)

    def _call_ended(self, _: asyncio.Task[None]) -> None:
        in_flight = len(self.events.tasks) if self.events is not None else 0
        if self.calls_crowded and in_flight <= self.host.settings.max_calls_in_flight // 2:
            self.calls_crowded = False
            self._resume_reading()

    def _resume_reading(self) -> None:
        paused = self.answers_unread or self.calls_crowded
        if not paused and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def close(self, reason: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            log.info("closing %s: %s", self.label, reason)
            if self.transport.get_write_buffer_size():
                self.transport.abort()  # a plugin that does not read would keep its unread bytes here forever
            else:
                self.transport.close()

    # -- Registration

    def _line(self, line: bytes) -> None:
        if self.state == "ready":
            self._event(line)
        elif self.state in ("handshake", "declaring"):
            self._register(line)
        elif self.state == "legacy":
            self._legacy_manifest(line)

    def _register(self, line: bytes) -> None:
        if self.rejection is not None and any(head in line[:64] for head in ASSET_CHUNK_HEADS):
            return  # a refused registration's assets are not kept: not parsed either (the SDK writes `type` first)
        try:
            message = parse_register_message(line)
        except ProtocolError as error:
            if self.state == "handshake" and is_bare_key(line):
                self._refuse_legacy()
            elif self.state == "handshake":
                self._refuse_now("handshake failed, invalid handshake message", f"first message unusable: {error}")
            else:
                self._reject(f"register failed, {error}")
            return
        if message.type == "handshake":
            self._handshake(message.data)
        elif message.type == "end":
            self._finish_registration()
        elif self.rejection is None or message.type == "manifest_declaration":
            try:
                self._declare(message.type, message.data)
            except RegistrationError as error:
                self._reject(str(error))

    def _handshake(self, data: Any) -> None:
        if self.state != "handshake":
            self._reject("handshake already completed")
            return
        self.state = "declaring"
        if self.handshake_timer is not None:
            self.handshake_timer.cancel()
        key = data.get("key") if isinstance(data, dict) else None
        if not isinstance(key, str):
            self._reject("handshake failed, invalid handshake message")
            return
        if self.host.settings.keys:  # with --key, a wrong key is someone's key too; without, any text is a key
            remember_secret(key)
        tenant = self.host.settings.tenant_for_key(key)
        if tenant is None:
            self.rejection = "handshake failed, invalid key"
            self.refusal_detail = f"its REMOTE_INSTALL_KEY {mask_key(key)} is not one of the --key values"
            return
        self.tenant_id = tenant

    def _declare(self, kind: str, data: Any) -> None:
        if kind == "manifest_declaration":
            if self.manifest is not None:
                raise RegistrationError("manifest declaration already registered")
            self.manifest = _checked_manifest(data)
        elif kind == "asset_chunk":
            self._asset(data)
        else:
            category = DECLARATION_KINDS[kind]
            if category in self.declarations:
                raise RegistrationError(f"{category} declaration already registered")
            items = [data] if isinstance(data, dict) else data
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise RegistrationError(
                    f"{category} register failed, invalid {category} declaration: not a list of objects"
                )
            self.declarations[category] = items

    def _asset(self, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("filename"), str):
            raise RegistrationError("asset chunk register failed: it needs a filename and data")
        try:
            chunk = binascii.a2b_base64(data.get("data") or "", strict_mode=True)
        except (binascii.Error, ValueError, TypeError):
            raise RegistrationError(f"asset chunk of {data['filename']} is not valid base64") from None
        self.asset_bytes += len(chunk)
        self.registering.asset_bytes += len(chunk)
        if self.asset_bytes > MAX_ASSET_BYTES:
            self._drop_assets()
            raise RegistrationError("assets too large, at most 50MB")
        if self.registering.asset_bytes > MAX_REGISTERING_ASSET_BYTES:
            self._drop_assets()
            self.refusal_detail = f"registrations under way hold over {MAX_REGISTERING_ASSET_BYTES} bytes of assets"
            raise RegistrationError(BUSY)
        self.assets.setdefault(data["filename"], bytearray()).extend(chunk)

    def _drop_assets(self) -> None:
        """Frees what this registration held (refused, ended, or the connection gone)."""
        self.registering.asset_bytes -= self.asset_bytes
        self.asset_bytes = 0
        self.assets.clear()

    def _finish_registration(self) -> None:
        if self.state == "handshake":
            self._refuse_now("handshake failed, invalid handshake message", "it sent end before a handshake")
            return
        if self.rejection is None:
            if self.manifest is None:
                self._reject("register failed, no manifest declaration was sent")
            elif not self.declarations:
                self._reject("no registration transferred, cannot initialize")
        if self.rejection is not None:
            self.state = "refused"
            detail = f" ({self.refusal_detail})" if self.refusal_detail else ""
            log.warning("refused plugin %s: %s%s", self.label, self.rejection, detail)
            # Closing makes the SDK reconnect in a loop; an idle open socket leaves it quiet with the message.
            self.send_text(self.rejection)
            self._drop_assets()
            return
        assert self.manifest is not None and self.tenant_id is not None
        self.runtime = PluginRuntime(
            tenant_id=self.tenant_id,
            manifest=self.manifest,
            declarations=self.declarations,
            assets={name: bytes(content) for name, content in self.assets.items()},
            connection=self,
        )
        self._drop_assets()
        self.events = PluginEvents(self.host, self.runtime)
        self.state = "ready"
        self.host.registry.register(self.runtime)
        self.connect_line = asyncio.get_running_loop().create_task(
            self._log_connected(self.runtime, release_from_manifest(self.manifest))
        )

    async def _log_connected(self, runtime: PluginRuntime, manifest_release: str) -> None:
        """The connect line, with the release read from the plugin's process when it could be (else the range the
        manifest dates it to)."""
        release = sdk_release(self.host, runtime.plugin_id)
        if release is None and self.release_lookup is not None:
            with contextlib.suppress(Exception):
                release = await asyncio.wait_for(asyncio.shield(self.release_lookup), PEER_LOOKUP_SECONDS)
        log.info(
            "plugin %s (dify-plugin %s) connected over TCP for tenant %s: %s",
            runtime.plugin_id,
            release or manifest_release,
            runtime.tenant_id,
            offer(runtime),
        )

    def _refuse_legacy(self) -> None:
        # Kept open and idle, as any refusal: closing would make the old SDK reconnect every 5 s.
        self.state = "legacy"
        if self.handshake_timer is not None:
            self.handshake_timer.cancel()
        self.send_text(LEGACY_REFUSAL)
        self.handshake_timer = asyncio.get_running_loop().call_later(1.0, self._log_legacy, None)

    def _legacy_manifest(self, line: bytes) -> None:
        """The legacy SDK sends its manifest right after the key: it names the plugin in the log."""
        if self.handshake_timer is None:
            return
        self.handshake_timer.cancel()
        self.handshake_timer = None
        try:
            manifest = json.loads(line)
        except ValueError:
            manifest = None
        self._log_legacy(manifest if isinstance(manifest, dict) else None)

    def _log_legacy(self, manifest: dict[str, Any] | None) -> None:
        self.handshake_timer = None
        who = f"plugin {manifest.get('author')}/{manifest.get('name')} ({self.peer})" if manifest else self.peer
        log.warning("refused %s: %s", who, LEGACY_REFUSAL)

    def _reject(self, message: str) -> None:
        if self.rejection is None:
            self.rejection = message

    def _refuse_now(self, message: str, detail: str) -> None:
        log.warning("closing %s: %s", self.peer, detail)
        self.send_text(message)
        self.state = "refused"
        if self.registration_timer is not None:
            self.registration_timer.cancel()
        if self.transport is not None:
            self.transport.close()

    def send_text(self, text: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(text.encode() + b"\n")

    def _registration_expired(self) -> None:
        if self.state in ("handshake", "declaring"):
            timeout = self.host.settings.registration_timeout
            text = self.rejection or f"register failed, no end within {timeout:g} s"
            self._refuse_now(text, f"its registration did not end within {timeout:g} s")
            self._drop_assets()

    def _handshake_expired(self) -> None:
        if self.state == "handshake":
            log.warning("closing %s: no handshake within %g s", self.peer, self.host.settings.handshake_timeout)
            if self.transport is not None:
                self.transport.close()

    # -- Sessions

    def _event(self, line: bytes) -> None:
        assert self.events is not None
        self.events.line(line)


def _checked_manifest(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RegistrationError("register failed, invalid manifest detected: not an object")
    author, name = data.get("author"), data.get("name")
    if not isinstance(author, str) or not AUTHOR_PATTERN.match(author):
        raise RegistrationError(
            f"register failed, invalid manifest detected: author {author!r} must match {AUTHOR_PATTERN.pattern}"
        )
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RegistrationError(
            f"register failed, invalid manifest detected: name {name!r} must match {NAME_PATTERN.pattern}"
        )
    return data


async def watch_heartbeats(host: Host) -> None:
    """Drops a remote plugin that has been silent for longer than the heartbeat timeout, as the daemon does."""
    timeout = host.settings.heartbeat_timeout
    while True:
        await asyncio.sleep(min(5.0, timeout / 4))
        now = time.monotonic()
        for runtime in host.registry.runtimes():
            if runtime.connection.kind == "tcp" and now - runtime.last_seen > timeout:
                runtime.connection.close(f"no heartbeat for {timeout:g} s")


async def start_debug_server(host: Host, listener: socket.socket) -> asyncio.Server:
    """Serves remote-debug connections on `listener`, a socket already bound to --host and --debug-port."""
    loop = asyncio.get_running_loop()
    registering = Registering()
    return await loop.create_server(lambda: DebugConnection(host, registering), sock=listener)
