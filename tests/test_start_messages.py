"""What the terminal says when the mock starts and plugins connect: true for the setup it describes."""

from __future__ import annotations

import subprocess

import httpx
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer


def sdk_release(python: str) -> str:
    return subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('dify_plugin'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_run_names_the_sdk_release_and_does_not_print_env_lines_for_its_own_plugin(tmp_path, sdk_python):
    release = sdk_release(sdk_python)
    server = MockServer(tmp_path / "data", run_plugin=TEST_PLUGINS / "model_caller", plugin_python=sdk_python)
    with server:
        log = server.wait_for_log("is running (local runtime", timeout=120)
        assert f"/model_caller (dify-plugin {release}) is running (local runtime" in log
        assert "tools model_caller: llm, structured" in log
        assert "Put these lines in your plugin's .env" not in log
        assert (
            f"Another plugin can connect with INSTALL_METHOD=remote, REMOTE_INSTALL_URL=localhost:{server.debug_port}"
            in log
        )
        assert "uvicorn.error" not in log and "INFO    uvicorn: " in log
        assert f"HTTP API on http://localhost:{server.port}, remote debug on localhost:{server.debug_port}" in log
        info = server.http.get("/mock/info").json()
        assert info["remote_install_url"] == f"localhost:{server.debug_port}"  # the dashboard shows the same


def test_an_agent_plugins_connect_line_names_its_strategies_and_release(tmp_path, sdk_python):
    release = sdk_release(sdk_python)
    server = MockServer(
        tmp_path / "data",
        run_plugin=TEST_PLUGINS / "simple_agent",
        plugin_python=sdk_python,
        extra_args=["--runtime", "remote"],
    )
    with server:
        log = server.wait_for_log("connected over TCP")
        assert f"/simple_agent (dify-plugin {release}) connected over TCP" in log
        assert "agent strategies simple_agent: function_calling, echo, react" in log


def test_a_plugin_started_by_hand_is_named_with_the_release_its_process_runs(mock_server, model_caller, sdk_python):
    release = sdk_release(sdk_python)
    log = mock_server.wait_for_log("connected over TCP")
    assert f"/model_caller (dify-plugin {release}) connected over TCP for tenant default" in log


def test_with_a_live_backend_the_banner_says_what_answers_model_calls(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text(
        "backends:\n  local:\n    type: openai\n    base_url: http://127.0.0.1:9/v1\n"
        "chain:\n  llm: [fixtures, local, builtin]\n"
    )
    with MockServer(tmp_path / "data", extra_args=["--config", str(config)]) as server:
        log = server.wait_for_log("dify-mock is ready")
        assert "every reverse call gets the built-in answer" not in log
        assert "No fixture rules loaded: model calls go to local as the answer chains below say" in log
    with MockServer(tmp_path / "plain") as plain:
        assert "No fixture rules loaded: every reverse call gets the built-in answer." in plain.wait_for_log(
            "dify-mock is ready"
        )


def test_journal_limit_zero_means_all_as_on_the_command_line(mock_server, model_caller):
    for text in ("one", "two", "three"):
        mock_server.invoke_tool("dify-mock-tests/model_caller", "model_caller", "moderation", {"text": text})
    every = httpx.get(f"{mock_server.url}/mock/journal", params={"limit": 0}).json()["entries"]
    newest = httpx.get(f"{mock_server.url}/mock/journal", params={"limit": 1}).json()["entries"]
    assert len(every) >= 6 and len(newest) == 1  # three dispatches, each with its reverse moderation call
    assert every == httpx.get(f"{mock_server.url}/mock/journal").json()["entries"]


def test_counts_are_pluralised() -> None:
    from dify_mock.protocol.words import plural

    assert [plural(1, "file"), plural(2, "file"), plural(0, "entry", "entries")] == ["1 file", "2 files", "0 entries"]
