"""The two setups the suite compares, and what one answer of each looks like.

- daemon: the real dify-plugin-daemon (started with `daemonctl up`) runs each plugin over its local runtime and calls
  dify-mock's inner API (the `inner` mock) for every reverse call;
- direct: `dify-mock run` runs the same plugin folders over its own local runtime and answers the reverse calls
  itself.

Both mocks load the same fixture files, so the same rule answers the same reverse call on both sides.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from dify_mock.testing import MockServer
from dify_mock.testing.sse import SSEParser

SERVER_KEY = "daemon-server-key"  # what `daemonctl up` sets; the direct mock is given the same
REQUEST_TIMEOUT = 180.0
NOT_RUNNING = ("plugin runtime not found", "no proper instance", "no available node")


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    def parsed(self) -> Any:
        """SSE events as a list of JSON values, a JSON body as JSON, anything else as text."""
        text = self.body.decode("utf-8", errors="replace")
        if self.content_type.startswith("text/event-stream"):
            parser = SSEParser()
            events = parser.feed(text) + parser.close()
            return [_json_or_text(event) for event in events]
        return _json_or_text(text)

    def shown(self) -> dict[str, Any]:
        return {"status": self.status, "content_type": self.content_type, "body": self.parsed()}


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass
class Side:
    """One setup: where to send dispatch requests, and the mock whose journal holds its reverse calls."""

    name: str
    url: str
    tenant: str
    journal: MockServer
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT)

    def send(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        response = self.client.post(path.replace("{tenant}", self.tenant), content=body, headers=headers)
        return Answer(response.status_code, response.headers.get("content-type", ""), response.content)

    def wait_ready(self, plugin_id: str, timeout: float = 180.0) -> None:
        """Until the plugin runs: the daemon starts installed plugins in the background (again after a restart, or
        after a plugin's instance died), and answers `no available node` or `no proper instance` meanwhile."""
        deadline = time.monotonic() + timeout
        body = json.dumps({"user_id": "ready", "data": {"provider": "readiness", "credentials": {}}}).encode()
        headers = {"X-Api-Key": SERVER_KEY, "X-Plugin-ID": plugin_id, "Content-Type": "application/json"}
        while True:
            answer = self.send("/plugin/{tenant}/dispatch/tool/validate_credentials", body, headers)
            text = answer.body.decode(errors="replace")
            if not any(sign in text for sign in NOT_RUNNING):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{plugin_id} is not running on {self.name} after {timeout:g} s: {text[:500]}")
            time.sleep(0.5)

    def mark(self) -> int:
        """Puts the mock's scenarios back in `started` (each case starts alike on both sides); the journal's last
        entry id, after which the case's own entries come."""
        return int(self.journal.reset()["journal_last_id"])

    def reverse_calls(self, after_id: int) -> list[dict[str, Any]]:
        return self.journal.journal(kind="reverse", after_id=after_id)


def daemonctl(ctl: str, state: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Runs `daemonctl ARGS`; its stdout. DIFY_DAEMON_STATE keeps even `package` (which unpacks the binaries) in
    `state`, away from the shared default."""
    full = {**os.environ, "DIFY_DAEMON_STATE": str(state), **(env or {})}
    done = subprocess.run([ctl, *args], capture_output=True, text=True, env=full, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"daemonctl {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def parse_up(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
