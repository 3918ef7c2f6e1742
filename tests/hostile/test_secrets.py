"""Secrets wherever they travel: every value passed as a credential, a secret-input setting, an Authorization,
Cookie or *-Key header, or under a name that looks secret, is masked in the journal, the event stream (what the
dashboard shows), the mock's log and the files of its data folder, whatever key it then stands under and however it
is encoded: as itself, in hex (an endpoint's raw answer) or in base64 at any alignment.

The oracle here decodes every hex and base64 run it finds at every alignment and looks for the secret's bytes.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import json
import re
from pathlib import Path
from typing import Any

from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer
from model_caller_calls import result
from openai_standin import StandIn
from recording import KEY, KEY_ENV, standin_config
from wire_plugin import TOOL_PROVIDER, WirePlugin, manifest

HEX_RUN = re.compile(rb"[0-9a-fA-F]{12,}")
BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{8,}")


def leaks(blob: bytes, secret: str) -> list[str]:
    """How `secret` can still be read in `blob`: as itself, or decoded from a hex or base64 run."""
    wanted = secret.encode()
    found = ["raw"] if wanted in blob else []
    for run in HEX_RUN.findall(blob):
        for start in (0, 1):
            piece = run[start:]
            if wanted in binascii.unhexlify(piece[: len(piece) // 2 * 2]):
                found.append(f"hex {run[:40]!r}")
    for run in BASE64_RUN.findall(blob):
        for start in range(4):
            piece = run[start:]
            piece = piece[: len(piece) // 4 * 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    decoded = decode(piece)
                except (binascii.Error, ValueError):
                    continue
                if wanted in decoded:
                    found.append(f"base64 {run[:40]!r}")
    return found


def everything_kept(mock: MockServer, data_dir: Path) -> dict[str, bytes]:
    """The journal, the event stream's history, the log and each file of the data folder."""
    journal = mock.http.get("/mock/journal").content  # also waits for the store to commit what finished before
    kept = {"journal": journal, "log": mock.log().encode()}
    with mock.http.stream("GET", "/mock/events", params={"history": 1000, "full": "true"}) as events:
        lines = []
        for line in events.iter_lines():  # the plugins, the newest entries, then `ready`
            if line.strip() == "event: ready":
                break
            lines.append(line)
        kept["events"] = "\n".join(lines).encode()
    for path in data_dir.rglob("*"):
        if path.is_file():
            kept[str(path.relative_to(data_dir))] = path.read_bytes()
    return kept


def assert_masked(mock: MockServer, data_dir: Path, secrets: dict[str, str]) -> None:
    kept = everything_kept(mock, data_dir)
    assert b"***" in kept["journal"]
    found = {
        (name, where): how
        for name, secret in secrets.items()
        for where, blob in kept.items()
        if (how := leaks(blob, secret))
    }
    assert found == {}


def test_credentials_secret_names_and_their_encodings_are_masked_everywhere(mock_server):
    secrets = {
        "credential": "sk-live-Credential0001",
        "secret-name": "AKIAsecretAccess0002",
        "header": "hdr-Value-Key-0003",
    }
    plugin = WirePlugin(mock_server.debug_port)
    plugin.register(name="leaky")
    assert mock_server.wait_for_plugin("wire/leaky", timeout=60)
    data = {
        "provider": "wire",
        "tool": "noop",
        "credentials": {"anything_at_all": secrets["credential"]},
        "tool_parameters": {
            "aws_secret_access_key": secrets["secret-name"],
            "X-Custom-Key": secrets["header"],
            "note": f"the same key again: {secrets['credential']}",
        },
    }
    pool = concurrent.futures.ThreadPoolExecutor(1)
    call = pool.submit(mock_server.dispatch, "tool/invoke", "wire/leaky", data, timeout=60)
    pool.shutdown(wait=False)
    request = plugin.read_message(timeout=60)
    session_id = request["session_id"]
    # the plugin echoes and logs them, under ordinary names and encoded
    for name, secret in secrets.items():
        encoded = base64.b64encode(f"{name}:{secret}".encode()).decode()
        plugin.send({"event": "log", "data": {"level": "INFO", "message": f"{name} {encoded} {secret.encode().hex()}"}})
        message = {"type": "text", "message": {"text": f"{name}={secret}"}, "meta": {"hex": secret.encode().hex()}}
        plugin.session(session_id, "stream", message)
    plugin.session(session_id, "end", {})
    chunks = call.result(timeout=60)
    assert [chunk["message"]["text"] for chunk in chunks] == [f"{n}={s}" for n, s in secrets.items()]  # served as is
    assert_masked(mock_server, mock_server.data_dir, secrets)
    plugin.close()


def test_endpoint_secret_settings_cookies_and_authorization_are_masked_everywhere(mock_server, sdk_python):
    secrets = {"setting": "sk-endpoint-Setting-0004", "cookie": "cookieSession0005xyz", "bearer": "bearerToken0006abc"}
    mock_server.start_plugin(TEST_PLUGINS / "endpoint_plugin", python=sdk_python)
    body = {
        "plugin_unique_identifier": "dify-mock-tests/endpoint_plugin",
        "name": "leaky",
        "settings": {"greeting": "hi", "api_key": secrets["setting"]},
        "user_id": "u1",
    }
    assert mock_server.http.post("/plugin/default/endpoint/setup", json=body).json()["data"] is True
    hooks = mock_server.http.get(
        "/plugin/default/endpoint/list/plugin",
        params={"plugin_id": "dify-mock-tests/endpoint_plugin", "page": 1, "page_size": 10},
    ).json()["data"]
    hook_id = hooks[0]["hook_id"]
    headers = {"Cookie": f"theme=dark; sid={secrets['cookie']}", "Authorization": f"Bearer {secrets['bearer']}"}
    answer = mock_server.http.post(f"/e/{hook_id}/echo/x", content=b"{}", headers=headers)
    seen: dict[str, Any] = answer.json()  # the plugin sees every value as it was sent
    assert seen["settings"]["api_key"] == secrets["setting"] and secrets["cookie"] in seen["headers"]["Cookie"]
    assert_masked(mock_server, mock_server.data_dir, secrets)
    assert json.dumps(seen)  # the answer itself is the caller's, not kept


def test_a_backend_key_is_masked_in_cassettes_in_any_encoding(tmp_path, sdk_python):
    standin = StandIn(api_key_env=KEY_ENV, env={KEY_ENV: KEY})
    try:
        config = standin_config(tmp_path, standin.url)
        cassettes = tmp_path / "cassettes"
        data_dir = tmp_path / "mock"
        args = ["--config", str(config), "--record", str(cassettes), "--cassette", "run"]
        with MockServer(data_dir, extra_args=args, env={KEY_ENV: KEY}) as mock:
            plugin = mock.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
            encoded = base64.b64encode(f"key={KEY}".encode()).decode()
            prompt = f"repeat {encoded} and {KEY.encode().hex()} and {KEY}"
            assert result(mock, plugin, "llm", prompt=prompt)["text"]
            mock.stop()
            kept = {"log": mock.log().encode()}
            kept |= {
                str(path): path.read_bytes() for path in [*cassettes.rglob("*"), *data_dir.rglob("*")] if path.is_file()
            }
        assert any(path.endswith("run.yaml") for path in kept)
        assert {where: how for where, blob in kept.items() if (how := leaks(blob, KEY))} == {}
    finally:
        standin.stop()


def test_a_secret_input_parameter_is_masked_wherever_its_value_shows(mock_server):
    secret = "pin-Secret-Input-0007"
    plugin = WirePlugin(mock_server.debug_port)
    provider = json.loads(json.dumps(TOOL_PROVIDER))
    label = {"en_US": "Passcode"}
    provider["tools"][0]["parameters"] = [
        {"name": "passcode", "label": label, "human_description": label, "type": "secret-input", "form": "form"}
    ]
    plugin.send({"type": "handshake", "data": {"key": "any"}})
    plugin.send({"type": "manifest_declaration", "data": manifest("guarded")})
    plugin.send({"type": "tool_declaration", "data": [provider]})
    plugin.send({"type": "end", "data": {}})
    assert mock_server.wait_for_plugin("wire/guarded", timeout=60)
    data = {"provider": "wire", "tool": "noop", "tool_parameters": {"passcode": secret}}
    pool = concurrent.futures.ThreadPoolExecutor(1)
    call = pool.submit(mock_server.dispatch, "tool/invoke", "wire/guarded", data, timeout=60)
    pool.shutdown(wait=False)
    session_id = plugin.read_message(timeout=60)["session_id"]
    plugin.session(session_id, "stream", {"type": "text", "message": {"text": f"you said {secret}"}})
    plugin.session(session_id, "end", {})
    assert call.result(timeout=60)[0]["message"]["text"] == f"you said {secret}"
    assert_masked(mock_server, mock_server.data_dir, {"secret-input": secret})
    plugin.close()


def test_without_keys_a_plugins_remote_key_is_not_a_secret(tmp_path: Path, sdk_python: str) -> None:
    """Without --key any REMOTE_INSTALL_KEY joins, so the key guards nothing: masking its value everywhere would blank
    ordinary text (the harness's key `dify-mock` once masked every plugin id `dify-mock-tests/...`)."""
    with MockServer(tmp_path / "data") as mock:
        plugin = mock.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python, key="dify-mock")
        result(mock, plugin, "moderation", text="hello")
        journal = mock.http.get("/mock/journal").json()["entries"]
        assert {entry["plugin_id"] for entry in journal} == {"dify-mock-tests/model_caller"}
        assert "plugin dify-mock-tests/model_caller" in mock.log()
