"""Serverless plugins: a real SDK plugin with INSTALL_METHOD=serverless, driven over POST /invoke, its reverse calls
answered on POST /backwards-invocation/transaction."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer, PluginError

MODEL_CALLER = "dify-mock-tests/model_caller"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serverless(tmp_path: Path, sdk_python: str) -> Iterator[tuple[MockServer, subprocess.Popen[bytes]]]:
    """The mock with model_caller registered as serverless, and the plugin running as its own HTTP server."""
    port = free_port()
    folder = TEST_PLUGINS / "model_caller"
    mock = MockServer(
        tmp_path / "mock", extra_args=["--serverless", f"{MODEL_CALLER}=http://127.0.0.1:{port}@{folder}"]
    )
    mock.start()
    output = (tmp_path / "plugin.log").open("wb")
    env = {
        **os.environ,
        "INSTALL_METHOD": "serverless",
        "SERVERLESS_HOST": "127.0.0.1",
        "SERVERLESS_PORT": str(port),
        "DIFY_PLUGIN_DAEMON_URL": mock.url,
        "PYTHONUNBUFFERED": "1",
    }
    plugin = subprocess.Popen(
        [sdk_python, "-m", "main"], cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert plugin.poll() is None and time.monotonic() < deadline, (tmp_path / "plugin.log").read_text()
            time.sleep(0.1)
        yield mock, plugin
    finally:
        os.killpg(plugin.pid, 9)
        plugin.wait(10)
        output.close()
        mock.stop()
        print(
            f"--- dify-mock log ---\n{mock.log()[-6000:]}\n--- plugin ---\n{(tmp_path / 'plugin.log').read_text()[-3000:]}"
        )


def test_a_serverless_plugin_is_driven_and_its_reverse_calls_answered(serverless):
    mock, _ = serverless
    entry = next(plugin for plugin in mock.plugins() if plugin["plugin_id"] == MODEL_CALLER)
    assert entry["transport"] == "serverless"
    assert "llm" in {tool["identity"]["name"] for tool in entry["declaration"]["tools"][0]["tools"]}
    chunks = mock.invoke_tool(MODEL_CALLER, "model_caller", "llm", {"prompt": "what is the weather?"})
    assert "weather" in chunks[0]["message"]["json_object"]["text"]
    reverse = mock.journal(kind="reverse", type="llm")[-1]
    assert reverse["plugin_id"] == MODEL_CALLER and reverse["error"] is None
    embedded = mock.invoke_tool(MODEL_CALLER, "model_caller", "embed", {"texts": "a\nb"})
    assert len(embedded[0]["message"]["json_object"]["embeddings"]) == 2


def test_a_failing_serverless_tool_is_reported_like_any_other(serverless):
    mock, _ = serverless
    with pytest.raises(PluginError) as failure:
        mock.invoke_tool(MODEL_CALLER, "model_caller", "fail", {})
    assert failure.value.error_type == "ValueError" and failure.value.message == "asked to fail"


def test_the_transaction_route_answers_bad_calls_in_a_shape_the_sdk_reads(serverless):
    mock, _ = serverless
    garbage = mock.http.post("/backwards-invocation/transaction", content=b"not json\n\n")
    assert garbage.status_code == 400
    (error, end) = [json.loads(line) for line in garbage.text.split("\n\n") if line]
    assert error["event"] == "backwards_response" and "session_id" in error
    assert error["data"]["event"] == "error" and "bad transaction" in error["data"]["message"]
    assert end["data"]["event"] == "end"

    invoke = {"type": "llm", "backwards_request_id": "f" * 32, "request": {"model": "m", "prompt_messages": []}}
    body = json.dumps({"event": "session", "session_id": "gone", "data": {"type": "invoke", "data": invoke}})
    unknown = mock.http.post("/backwards-invocation/transaction", content=body + "\n\n")
    assert unknown.status_code == 400
    error = json.loads(unknown.text.split("\n\n")[0])
    assert error["session_id"] == "gone" and error["data"]["backwards_request_id"] == "f" * 32
    assert "session gone is not open" in error["data"]["message"]


def test_a_serverless_plugin_that_does_not_answer_fails_the_call_clearly(tmp_path):
    port = free_port()  # nothing listens here
    with MockServer(tmp_path / "mock", extra_args=["--serverless", f"someone/absent=http://127.0.0.1:{port}"]) as mock:
        entry = next(plugin for plugin in mock.plugins() if plugin["plugin_id"] == "someone/absent")
        assert entry["transport"] == "serverless" and entry["declaration"]["manifest"]["name"] == "absent"
        with pytest.raises(PluginError) as failure:
            mock.invoke_tool("someone/absent", "absent", "anything", {})
        assert "cannot reach serverless plugin someone/absent" in failure.value.message
        assert "does not answer at" in mock.log()


def test_a_bad_serverless_option_is_refused_at_start(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dify_mock", "serve", "--serverless", "no-slash=http://x", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "'no-slash' must be the plugin id, AUTHOR/NAME" in result.stderr


def test_serverless_plugins_from_the_config_file(tmp_path):
    folder = TEST_PLUGINS / "model_caller"
    config = tmp_path / "dify-mock.yaml"
    config.write_text(f"serverless:\n  - {MODEL_CALLER}=http://127.0.0.1:{free_port()}@{folder}\n")
    with MockServer(tmp_path / "mock", extra_args=["--config", str(config)]) as mock:
        entry = next(plugin for plugin in mock.plugins() if plugin["plugin_id"] == MODEL_CALLER)
        assert entry["transport"] == "serverless" and entry["declaration"]["tools"]
    config.write_text("serverless:\n  - not-an-id=http://127.0.0.1:1\n")
    result = subprocess.run(
        [sys.executable, "-m", "dify_mock", "serve", "--config", str(config), "--data-dir", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"{config}:2" in result.stderr and "must be the plugin id" in result.stderr
