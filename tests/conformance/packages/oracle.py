"""The real verdict on a plugin folder: `dify plugin package` (the real CLI) then the real daemon's upload and install
(which makes the environment and starts the plugin), through `daemonctl` (DIFY_DAEMON_CTL). When the CLI refuses,
the folder is zipped as the CLI would have zipped it and given to the daemon alone, so that a refusal that only the
CLI makes can be told apart. An installed plugin is uninstalled again, so that the daemon runs one at a time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dify_mock.plugins.difyignore import packaged_files

ACCEPT, REFUSE = "accept", "refuse"
INSTALL_SECONDS = 600
UV = str(Path(sys.executable).with_name("uv"))  # the CLI exports requirements.txt from uv.lock with it


@dataclass
class Verdict:
    cli: str  # what `dify plugin package` did
    daemon: str  # what the daemon did with the CLI's package, or with our zip when the CLI refused
    cli_says: str = ""
    daemon_says: str = ""

    @property
    def overall(self) -> str:
        return ACCEPT if self.cli == ACCEPT and self.daemon == ACCEPT else REFUSE

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def verdict(ctl: str, folder: Path, state: Path, work: Path, timeout: float = 900) -> Verdict:
    work.mkdir(parents=True, exist_ok=True)
    package = work / f"{folder.name}.difypkg"
    env = dict(os.environ, UV_PATH=os.environ.get("UV_PATH", UV))
    made = subprocess.run(
        [ctl, "package", str(folder), str(package)], capture_output=True, text=True, env=env, timeout=timeout
    )
    cli, cli_says = ACCEPT, ""
    if made.returncode != 0 or not package.is_file():
        cli, cli_says = REFUSE, _cli_error(made.stdout + made.stderr)
        zip_like_the_cli(folder, package)
    accepted, daemon_says = install(state, package)
    package.unlink(missing_ok=True)
    return Verdict(cli, ACCEPT if accepted else REFUSE, cli_says, daemon_says)


def upload(state: Path, package: Path) -> tuple[bool, str, str]:
    """The daemon's upload of a package: (taken, the daemon's message if not, the unique identifier if so)."""
    client = json.loads((state / "client.json").read_text())
    base = f"{client['url']}/plugin/{client['tenant']}/management"
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="dify_pkg"; filename="plugin.difypkg"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + package.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = _call(f"{base}/install/upload/package", client["key"], body, f"multipart/form-data; boundary={boundary}")
    if answer.get("code") != 0:
        return False, _message(answer), ""
    return True, "", str(answer["data"]["unique_identifier"])


def install(state: Path, package: Path) -> tuple[bool, str]:
    """The daemon's upload then install, as `daemonctl install` does them, keeping the daemon's message on a 400;
    an installed plugin is uninstalled again."""
    client = json.loads((state / "client.json").read_text())
    base = f"{client['url']}/plugin/{client['tenant']}/management"
    uploaded, says, identifier = upload(state, package)
    if not uploaded:
        return False, f"upload: {says}"
    request = {"plugin_unique_identifiers": [identifier], "source": "package", "metas": [{}]}
    started = _call(f"{base}/install/identifiers", client["key"], json.dumps(request).encode())
    if started.get("code") != 0:
        return False, f"install: {_message(started)}"
    data = started.get("data") or {}
    if not data.get("all_installed"):
        deadline = time.monotonic() + INSTALL_SECONDS
        while True:
            task = (_call(f"{base}/install/tasks/{data['task_id']}", client["key"]).get("data")) or {}
            if task.get("status") == "success":
                break
            if task.get("status") == "failed":
                plugins = task.get("plugins") or [{}]
                return False, f"install: {str(plugins[0].get('message') or task)[:600]}"
            if time.monotonic() > deadline:
                return False, f"install: not finished within {INSTALL_SECONDS} s"
            time.sleep(1)
    uninstall(client, base, identifier)
    return True, ""


def zip_like_the_cli(folder: Path, package: Path) -> None:
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in packaged_files(folder):
            archive.write(folder / name, name)


def uninstall(client: dict[str, str], base: str, identifier: str) -> None:
    listed = _call(f"{base}/list?page=1&page_size=256", client["key"])
    for plugin in (listed.get("data") or {}).get("list") or []:
        if plugin.get("plugin_unique_identifier") == identifier:
            body = json.dumps({"plugin_installation_id": plugin["installation_id"]}).encode()
            _call(f"{base}/uninstall", client["key"], body)


def _call(url: str, key: str, body: bytes | None = None, content_type: str = "application/json") -> dict[str, Any]:
    headers = {"X-Api-Key": key} | ({"Content-Type": content_type} if body is not None else {})  # gin binds by it
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=600) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as error:  # the daemon's 400 carries its message in the body
        text = error.read().decode("utf-8", errors="replace")
        try:
            return json.loads(text)  # type: ignore[no-any-return]
        except ValueError:
            return {"code": error.code, "message": text}


def _message(answer: dict[str, Any]) -> str:
    message = str(answer.get("message", answer))
    try:
        inner = json.loads(message)
    except ValueError:
        return message
    return str(inner.get("message", message)) if isinstance(inner, dict) else message


def _cli_error(output: str) -> str:
    errors = [line for line in output.splitlines() if "ERROR" in line]
    line = errors[-1] if errors else (output.strip().splitlines() or [""])[-1]
    found = re.search(r'error="?(.*?)"?$', line)
    return (found.group(1) if found else line).replace("\\n", " ").strip()[:400]
