"""The journal in SQLite under --data-dir: filters, restarts, SIGKILL, bounds, redaction, `dify-mock journal`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer

MODEL_CALLER = "dify-mock-tests/model_caller"


def moderate(server: MockServer, text: str, credentials: dict[str, str] | None = None) -> None:
    server.invoke_tool(MODEL_CALLER, "model_caller", "moderation", {"text": text}, credentials)


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_MOCK_")}
    return subprocess.run(
        [sys.executable, "-m", "dify_mock", *args], capture_output=True, text=True, timeout=timeout, env=clean
    )


def test_filters_on_type_kind_plugin_session_time_and_ids_over_http_and_in_the_terminal(mock_server, model_caller):
    before = time.time()
    moderate(mock_server, "first")
    mock_server.invoke_tool(MODEL_CALLER, "model_caller", "llm", {"prompt": "hello"})
    moderate(mock_server, "third")

    everything = mock_server.journal()
    assert [entry["id"] for entry in everything] == sorted(entry["id"] for entry in everything)
    assert {"id", "time", "kind", "type", "tenant_id", "plugin_id", "session_id", "request", "response"} <= set(
        everything[0]
    )
    assert {"answered_by", "error", "duration_ms", "done"} <= set(everything[0])

    get = mock_server.http.get
    moderations = get("/mock/journal", params={"type": "moderation"}).json()["entries"]
    assert [entry["request"]["text"] for entry in moderations] == ["first", "third"]
    reverse = get("/mock/journal", params={"kind": "reverse"}).json()["entries"]
    assert {entry["type"] for entry in reverse} == {"moderation", "llm"}
    assert get("/mock/journal", params={"plugin_id": "someone/else"}).json()["entries"] == []

    llm_call = next(entry for entry in reverse if entry["type"] == "llm")
    session = get("/mock/journal", params={"session_id": llm_call["session_id"]}).json()["entries"]
    assert [entry["type"] for entry in session] == ["invoke_tool", "llm"]  # the tool call and its reverse call

    assert len(get("/mock/journal", params={"since": before}).json()["entries"]) == len(everything)
    assert get("/mock/journal", params={"until": before}).json()["entries"] == []

    newest_two = get("/mock/journal", params={"limit": 2}).json()["entries"]
    assert [entry["id"] for entry in newest_two] == [entry["id"] for entry in everything[-2:]]
    first_id = everything[0]["id"]
    page = get("/mock/journal", params={"after_id": first_id, "limit": 2}).json()["entries"]
    assert [entry["id"] for entry in page] == [entry["id"] for entry in everything[1:3]]

    one = get(f"/mock/journal/{llm_call['id']}").json()
    assert one["request"]["prompt_messages"][-1]["content"] == "hello"
    assert get("/mock/journal/999999").status_code == 404
    assert get("/mock/journal", params={"limit": -1}).status_code == 400

    # The same from the command line: `dify-mock journal`.
    pretty = cli("journal", "--url", mock_server.url, "--type", "llm")
    assert pretty.returncode == 0, pretty.stderr
    assert pretty.stdout.count("\n") == 1 and "reverse" in pretty.stdout and "hello" in pretty.stdout

    as_json = cli("journal", "--url", mock_server.url, "--json", "--kind", "dispatch", "--since", "5m")
    assert as_json.returncode == 0, as_json.stderr
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [entry["type"] for entry in lines] == ["invoke_tool", "invoke_tool", "invoke_tool"]

    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_MOCK_")}
    follower = subprocess.Popen(
        [sys.executable, "-m", "dify_mock", "journal", "-f", "--url", mock_server.url, "--type", "moderation"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean,
    )
    try:
        assert follower.stdout is not None
        assert "first" in follower.stdout.readline()  # the history comes first
        assert "third" in follower.stdout.readline()
        moderate(mock_server, "while following")
        assert "while following" in follower.stdout.readline()
    finally:
        follower.terminate()
        follower.wait(timeout=60)

    cleared = cli("journal", "--url", mock_server.url, "--clear")
    assert cleared.returncode == 0 and mock_server.journal() == []
    bad = cli("journal", "--url", mock_server.url, "--since", "yesterday-ish")
    assert bad.returncode == 2 and "is not a time" in bad.stderr


def test_the_journal_survives_sigkill_and_restarts_is_redacted_on_disk_and_cleared_on_demand(tmp_path, sdk_python):
    data = tmp_path / "data"
    server = MockServer(data).start()
    try:
        server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
        moderate(server, "written before the kill", credentials={"api_key": "sk-very-secret-value"})
        entries = server.journal()
        assert entries[0]["request"]["credentials"] == {"api_key": "***"}
        time.sleep(0.5)  # finished entries are committed within 50 ms
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=60)
    finally:
        server.stop()
    on_disk = b"".join(path.read_bytes() for path in data.glob("journal.sqlite3*"))
    assert b"written before the kill" in on_disk
    assert b"sk-very-secret-value" not in on_disk

    with MockServer(data, extra_args=["--journal-max-entries", "1"]) as server:
        assert server.journal() == entries[-1:]  # the newest one kept, as it was
        server.clear_journal()
        assert server.journal() == []
    with MockServer(data) as server:
        assert server.journal() == []


@pytest.mark.mock_server(server_key="api-secret")
def test_journal_command_needs_the_server_key_when_one_is_set(mock_server):
    refused = cli("journal", "--url", mock_server.url)
    assert refused.returncode == 2 and "server key" in refused.stderr
    allowed = cli("journal", "--url", mock_server.url, "--server-key", "api-secret")
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.mock_server(fixtures=["tests/fixtures/journal_summary.yaml"])
def test_the_summary_counts_calls_per_type_and_per_fixture_rule(mock_server, model_caller):
    for text in ("forbidden one", "hello", "forbidden two", "nothing matches"):
        moderate(mock_server, text)
    mock_server.invoke_tool(MODEL_CALLER, "model_caller", "llm", {"prompt": "hi"})

    summary = mock_server.http.get("/mock/journal/summary").json()
    assert summary["entries"] == 10 and summary["failed"] == 0 and summary["running"] == 0
    assert summary["kinds"] == {"dispatch": {"invoke_tool": 5}, "reverse": {"llm": 1, "moderation": 4}}
    assert summary["rules"] == {"flags-forbidden": 2, "passes-hello": 1}
    assert summary["answered_by"] == {"rule:flags-forbidden": 2, "rule:passes-hello": 1, "builtin": 2}

    llm_only = mock_server.http.get("/mock/journal/summary", params={"type": "llm"}).json()
    assert llm_only["kinds"] == {"reverse": {"llm": 1}} and llm_only["rules"] == {}
    assert mock_server.journal_summary(type="moderation")["rules"] == summary["rules"]

    printed = cli("journal", "--url", mock_server.url, "--summary")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines() == [
        "10 entries, 0 failed, 0 running",
        "dispatch: invoke_tool 5",
        "reverse: llm 1, moderation 4",
        "reverse calls answered by:",
        "  builtin               2",
        "  rule:flags-forbidden  2",
        "  rule:passes-hello     1",
    ]
    as_json = cli("journal", "--url", mock_server.url, "--summary", "--json", "--kind", "reverse")
    assert json.loads(as_json.stdout)["kinds"] == {"reverse": {"llm": 1, "moderation": 4}}
