"""The same plugins, run by one dify-plugin release per line, against the mock: the compatibility matrix.

The releases come from $DIFY_MOCK_COMPAT_RELEASES (comma-separated; `make compat` lists one per line), by
default the oldest and the newest supported. Each runs in `.venv-compat/<release>/` (`make compat-venvs`),
except 0.10.2, which `.venv-sdk` already has. The plugins in tests/compat/plugins/ are written against the
oldest API (0.0.1b72) and detect newer calls at run time.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dify_mock.protocol.sdk_releases import LEGACY_REFUSAL, release_from_manifest
from dify_mock.testing import MockServer, PluginProcess
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGINS = Path(__file__).resolve().parent / "plugins"
RELEASES_ENV = "DIFY_MOCK_COMPAT_RELEASES"
OLDEST, NEWEST = "0.0.1b72", "0.10.2"
TOOLS, MODEL = "dify-mock-compat/compat_tools", "dify-mock-compat/compat_model"

# reverse call -> the release that brought it
INTRODUCED = {"structured_output": "0.4.0", "multimodal_embedding": "0.7.0", "multimodal_rerank": "0.7.0"}
CALLS = [
    "llm_stream",
    "llm_blocking",
    "llm_tool_call",
    "structured_output",
    "text_embedding",
    "multimodal_embedding",
    "rerank",
    "multimodal_rerank",
    "tts",
    "speech2text",
    "moderation",
    "summary",
]


def selected_releases() -> list[str]:
    configured = os.environ.get(RELEASES_ENV, "")
    releases = [item.strip() for item in configured.replace(" ", ",").split(",") if item.strip()]
    return releases or [OLDEST, NEWEST]


def release_python(release: str) -> Path:
    compat = REPO_ROOT / ".venv-compat" / release / "bin" / "python"
    if compat.exists():
        return compat
    sdk = REPO_ROOT / ".venv-sdk"
    if list(sdk.glob(f"lib/python3.*/site-packages/dify_plugin-{release}.dist-info")):
        return sdk / "bin" / "python"
    pytest.fail(
        f"no virtual environment with dify-plugin {release}: run `make compat-venvs COMPAT_RELEASES={release}` "
        f"(it creates .venv-compat/{release}/)",
        pytrace=False,
    )


def expected_manifest_release(release: str) -> str:
    version = Version(release)
    for floor, answer in (("0.6", ">=0.6"), ("0.5", ">=0.5,<0.6"), ("0.4", ">=0.4,<0.5"), ("0.2", ">=0.2,<0.4")):
        if version >= Version(floor):
            return answer
    return ">=0.0.1b51,<0.2"


@dataclass
class Matrix:
    release: str
    server: MockServer
    tools: PluginProcess
    model: PluginProcess
    registered_in: float

    def tool(self, tool: str, **parameters: Any) -> dict[str, Any]:
        messages = self.server.invoke_tool(self.tools.plugin_id, "compat_tools", tool, parameters)
        found = [m["message"]["json_object"] for m in messages if m["type"] == "json"]
        assert found, f"{tool} yielded no json message: {messages}"
        return found[0]  # type: ignore[no-any-return]

    def reverse(self, call: str) -> dict[str, Any]:
        return self.tool("reverse", call=call)


@pytest.fixture(scope="module", params=selected_releases())
def matrix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    release: str = request.param
    python = str(release_python(release))
    server = MockServer(tmp_path_factory.mktemp(f"compat-{release}"))
    server.start()
    try:
        started = time.perf_counter()
        tools = server.start_plugin(PLUGINS / "compat_tools", python=python)
        model = server.start_plugin(PLUGINS / "compat_model", python=python)
        yield Matrix(release, server, tools, model, time.perf_counter() - started)
    finally:
        server.stop()
        print(f"--- end of the dify-mock log for {release} ---\n{server.log()[-6000:]}")


def test_plugins_register_and_the_mock_tells_their_release(matrix: Matrix) -> None:
    """Releases before 0.2 ignore REMOTE_INSTALL_URL and connect to REMOTE_INSTALL_HOST/PORT (0.0.1b72, 0.1.0)."""
    plugins = {entry["plugin_id"]: entry for entry in matrix.server.plugins()}
    assert {TOOLS, MODEL} <= set(plugins)
    declaration = plugins[TOOLS]["declaration"]
    assert [p["identity"]["name"] for p in declaration["tools"]] == ["compat_tools"]
    assert declaration["endpoints"]
    assert plugins[MODEL]["declaration"]["models"][0]["provider"] == "compat_model"
    assert release_from_manifest(declaration["manifest"]) == expected_manifest_release(matrix.release)
    # The connect line names the release the plugin's process runs (read from it), not only the manifest's range.
    assert f"(dify-plugin {matrix.release}) connected over TCP" in matrix.server.log()


def test_a_tool_is_invoked(matrix: Matrix) -> None:
    messages = matrix.server.invoke_tool(TOOLS, "compat_tools", "echo", {"text": "hello"})
    assert [m["type"] for m in messages] == ["text", "json"]
    assert messages[0]["message"]["text"] == "hello"


def test_the_plugin_reports_the_calls_its_release_lacks(matrix: Matrix) -> None:
    features = matrix.tool("features")
    assert features["sdk_version"] == matrix.release
    lacking = {name for name, since in INTRODUCED.items() if Version(matrix.release) < Version(since)}
    assert set(features["missing"]) == lacking


@pytest.mark.parametrize("call", CALLS)
def test_every_reverse_call_the_release_has_is_answered(matrix: Matrix, call: str) -> None:
    answer = matrix.reverse(call)
    if call in INTRODUCED and Version(matrix.release) < Version(INTRODUCED[call]):
        assert answer["available"] is False and answer["lacks"]
        return
    assert answer["available"] is True, answer
    result = answer["result"]
    if call == "llm_stream":
        # releases up to 0.1.0 require `prompt_messages` in every LLMResultChunk: the mock always sends []
        assert "penguins" in result["text"] and result["chunks"] > 2
        assert result["usage"]["total_tokens"] > 0 and result["finish_reason"] == "stop"
    elif call == "llm_blocking":
        assert "penguins" in result["text"] and result["usage"]["completion_tokens"] > 0
    elif call == "llm_tool_call":
        # up to 0.1.0 ToolCall.type and function.name/arguments must be strings, never null
        assert result["tool_calls"][0]["name"] == "get_weather"
        assert isinstance(json.loads(result["tool_calls"][0]["arguments"])["city"], str)
    elif call == "structured_output":
        assert isinstance(result["structured_output"]["name"], str)
    elif call in ("text_embedding", "multimodal_embedding"):
        assert result["dimensions"] == 256 and result["count"] == (2 if call == "text_embedding" else 1)
    elif call == "rerank":
        assert [doc["index"] for doc in result["docs"]] == [0, 2]
    elif call == "multimodal_rerank":
        assert result["docs"][0]["index"] == 0
    elif call == "tts":
        assert result["mp3"] and result["bytes"] > 500
    elif call == "speech2text":
        assert "wav" in result["text"]
    elif call == "moderation":
        assert result == {"flagged": True, "clean": False}
    elif call == "summary":
        assert 0 < len(result["summary"]) < 1400


def test_storage_set_get_exist_delete(matrix: Matrix) -> None:
    result = matrix.reverse("storage")["result"]
    assert bytes.fromhex(result["get"]) == b"\x00penguin\xff"
    assert "load data failed" in result["get_after_delete"]
    if Version(matrix.release) >= Version("0.2"):  # storage.exist() came with 0.2
        assert (result["exist_before_delete"], result["exist_after_delete"]) == (True, False)
    else:
        assert "exist_before_delete" not in result


def test_the_endpoint_answers_through_its_hook(matrix: Matrix) -> None:
    """Up to 0.9.1 the SDK parses the raw request with dpkt, from 0.10 with h11: both must get the body."""
    http = matrix.server.http
    setup = http.post(
        "/plugin/default/endpoint/setup",
        json={"plugin_unique_identifier": TOOLS, "name": "compat", "settings": {}, "user_id": "me"},
    )
    if setup.status_code == 404 and "endpoint/setup" not in http.get("/openapi.json").text:
        pytest.skip("this build has no endpoint hooks (/plugin/{tenant}/endpoint/setup)")
    assert setup.json()["code"] == 0, setup.text
    hooks = http.get("/plugin/default/endpoint/list").json()["data"]
    url = next(hook["url"] for hook in hooks if hook["name"] == "compat")
    answer = httpx.post(f"{url}/echo/penguin?x=1", content=b'{"hello": "world"}', timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["name"] == "penguin" and body["method"] == "POST" and body["query"] == {"x": "1"}
    assert body["body"] == '{"hello": "world"}' and body["stored"] == body["body"]


def test_the_model_plugin_streams_an_llm_answer_through_dispatch(matrix: Matrix) -> None:
    data = {
        "provider": "compat_model",
        "model_type": "llm",
        "model": "echo-llm",
        "credentials": {},
        "prompt_messages": [{"role": "user", "content": "hello there"}],
        "model_parameters": {"temperature": 0},
        "stop": None,
        "tools": None,
        "stream": True,
    }
    chunks = matrix.server.dispatch("llm/invoke", MODEL, data)
    assert "".join(chunk["delta"]["message"]["content"] for chunk in chunks) == "echo: hello there"
    assert chunks[-1]["delta"]["finish_reason"] == "stop" and chunks[-1]["delta"]["usage"]["total_tokens"] > 0


def test_dify_plugin_0_0_1b17_and_older_are_refused_at_registration_naming_the_release(tmp_path: Path) -> None:
    """Up to 0.0.1b17 the SDK sent its key as a bare line, then untyped declarations: the exact bytes here.
    Such a plugin gets the refusal as a line it logs, and the mock logs it by name, instead of a reconnect loop."""
    manifest = {"version": "0.0.1", "type": "plugin", "author": "old", "name": "legacy_plugin", "meta": {}}
    with MockServer(tmp_path / "mock") as server:
        with socket.create_connection(("127.0.0.1", server.debug_port), timeout=60) as sock:
            sock.sendall(b"any-key-works\n")
            sock.sendall(json.dumps(manifest).encode() + b"\n\n" + b"[]\n\n[]\n\n[]\n\n[]\n\n")
            assert sock.recv(4096).decode().strip() == LEGACY_REFUSAL
            deadline = time.monotonic() + 60
            while "refused plugin old/legacy_plugin" not in server.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert f"refused plugin old/legacy_plugin (127.0.0.1:{sock.getsockname()[1]}): {LEGACY_REFUSAL}" in (
                server.log()
            )
            sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                sock.recv(1)  # kept open and quiet: a closed socket makes the old SDK reconnect every 5 s
        assert "old/legacy_plugin" not in server.plugin_ids()
