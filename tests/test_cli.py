"""`dify-mock serve` and `dify-mock invoke` as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from dify_mock.testing import MockServer

REPO_ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_MOCK_")}
    return subprocess.run(
        [sys.executable, "-m", "dify_mock", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean, **(env or {})},
    )


def test_invoke_tool_prints_what_the_tool_streams(mock_server, model_caller):
    done = cli("invoke", "--url", mock_server.url, "tool", "model_caller", "moderation", "text=a bomb threat")
    assert done.returncode == 0, done.stderr
    assert '"flagged": true' in done.stdout
    as_json = cli(
        "invoke", "--url", mock_server.url, "--json", "tool", "model_caller", "llm", "prompt=hi", "stream:=false"
    )
    assert as_json.returncode == 0, as_json.stderr
    assert '"type": "json"' in as_json.stdout


def test_invoke_reports_plugin_errors_and_unknown_providers(mock_server, model_caller):
    failed = cli("invoke", "--url", mock_server.url, "tool", "model_caller", "fail")
    assert failed.returncode == 1 and "ValueError: asked to fail" in failed.stderr
    unknown = cli("invoke", "--url", mock_server.url, "tool", "nowhere", "tool")
    assert unknown.returncode != 0 and "no connected plugin declares the tool provider 'nowhere'" in unknown.stderr


def test_a_fixture_typo_is_refused_at_start_naming_file_line_and_key(tmp_path):
    fixture = tmp_path / "rules.yaml"
    fixture.write_text("llm:\n  - name: greet\n    match: {promt: hello}\n    reply: {text: hi}\n")
    done = cli("serve", "--port", "0", "--debug-port", "0", "--data-dir", str(tmp_path), "--fixtures", str(fixture))
    assert done.returncode == 2
    assert f"{fixture}:3" in done.stderr and "promt" in done.stderr and "prompt" in done.stderr


def test_listening_beyond_loopback_needs_keys(tmp_path):
    done = cli("serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "--key" in done.stderr and "--server-key" in done.stderr


def test_serve_prints_the_env_lines_and_stops_cleanly_on_sigterm(tmp_path):
    server = MockServer(tmp_path / "data", fixtures=[REPO_ROOT / "fixtures"])
    server.start()
    assert server.process is not None
    deadline = time.monotonic() + 60
    while "REMOTE_INSTALL_KEY" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log()
    assert "INSTALL_METHOD=remote" in log
    assert f"REMOTE_INSTALL_URL=localhost:{server.debug_port}" in log
    assert "examples.yaml" in log
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health/check", timeout=1)
    server.process = None
    server.stop()


def test_environment_variables_configure_serve(tmp_path):
    env = {"DIFY_MOCK_STRICT": "1", "DIFY_MOCK_KEY": "k1=t1,k2"}
    server = MockServer(tmp_path / "data", env=env)
    with server:
        deadline = time.monotonic() + 60
        while "REMOTE_INSTALL_KEY" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "REMOTE_INSTALL_KEY=k1" in server.log()
        assert "--strict" in server.log()


def test_invoke_agent_streams_text_on_one_line(mock_server, simple_agent):
    model = '{"provider": "openai", "model": "gpt-4o-mini", "mode": "chat"}'
    done = cli(
        "invoke", "--url", mock_server.url, "agent", "simple_agent", "echo", f"model:={model}", "query=hello agent"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and "hello agent" in done.stdout


def test_invoke_options_may_come_after_the_kind(mock_server, model_caller):
    done = cli("invoke", "tool", "model_caller", "moderation", "text=a bomb threat", "--url", mock_server.url, "--json")
    assert done.returncode == 0, done.stderr
    assert '"flagged": true' in done.stdout and done.stdout.lstrip().startswith("{")
    before = cli("invoke", "--url", mock_server.url, "--json", "tool", "model_caller", "moderation", "text=calm")
    assert before.returncode == 0 and before.stdout.lstrip().startswith("{"), before.stderr  # --json kept


def test_invoke_tool_help_describes_its_arguments():
    done = cli("invoke", "tool", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "provider the tool provider's name" in text
    assert "name the tool's name" in text
    assert "NAME=VALUE the tool's parameters: NAME=VALUE for a string, NAME:=JSON" in text
    assert "--url URL the running mock's HTTP API [default: http://localhost:5002; env: DIFY_MOCK_URL]" in text


def test_a_missing_required_parameter_is_named_before_anything_is_invoked(mock_server, model_caller):
    before = mock_server.journal_summary(kind="dispatch")["entries"]
    done = cli("invoke", "--url", mock_server.url, "tool", "model_caller", "llm", "stream:=false")
    assert done.returncode == 2, done.stderr
    assert done.stderr == "dify-mock: tool model_caller/llm needs prompt (string): add prompt=VALUE\n"
    unknown = cli("invoke", "--url", mock_server.url, "tool", "model_caller", "lmm", "prompt=hi")
    assert unknown.returncode == 2 and "model_caller (dify-mock-tests/model_caller) has no tool 'lmm'" in unknown.stderr
    assert "llm" in unknown.stderr
    assert mock_server.journal_summary(kind="dispatch")["entries"] == before  # nothing reached the plugin


def test_invoke_exits_non_zero_when_the_plugin_fails(mock_server, model_caller):
    failed = cli("invoke", "--url", mock_server.url, "--json", "tool", "model_caller", "fail")
    assert failed.returncode == 1 and "asked to fail" in failed.stderr
    model = cli("invoke", "--url", mock_server.url, "model", "nowhere", "gpt", "invoke", "prompt=hi")
    assert model.returncode != 0 and "nowhere" in model.stderr
