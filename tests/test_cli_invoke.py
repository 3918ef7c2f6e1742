"""`dify-mock invoke model|datasource|trigger|endpoint` and `dify-mock endpoints`, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dify_mock.testing import MockServer

TEST_PLUGINS = Path(__file__).resolve().parent / "plugins"


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Iterator[MockServer]:
    server = MockServer(tmp_path_factory.mktemp("cli-invoke") / "dify-mock")
    server.start()
    try:
        for name in ("model_provider", "datasource_plugin", "trigger_plugin", "endpoint_plugin"):
            server.start_plugin(TEST_PLUGINS / name, python=sdk_python)
        yield server
    finally:
        server.stop()


def cli(mock: MockServer, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_MOCK_")}
    return subprocess.run(
        [sys.executable, "-m", "dify_mock", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "DIFY_MOCK_URL": mock.url},
    )


def test_model_actions(mock, tmp_path):
    streamed = cli(mock, "invoke", "model", "fake", "fake-llm", "invoke", "prompt=Hello there")
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout == "echo: Hello there\n"

    polled = cli(mock, "invoke", "model", "fake", "fake-llm", "poll", "prompt=slow one")
    assert polled.returncode == 0 and polled.stdout == "polled: slow one\n", polled.stderr

    audio = tmp_path / "hi.mp3"
    spoken = cli(
        mock, "invoke", "model", "fake", "fake-tts", "invoke", "text=hi there", "voice=nova", "--output", str(audio)
    )
    assert spoken.returncode == 0 and audio.read_bytes() == b"ID3 voice=nova;hithere", spoken.stderr
    heard = cli(mock, "invoke", "--json", "model", "fake", "fake-s2t", "invoke", f"file=@{audio}")
    assert json.loads(heard.stdout) == {"result": "heard 22 bytes starting b'ID3 '"}, heard.stderr

    ranked = cli(
        mock, "invoke", "--json", "model", "fake", "fake-rerank", "invoke", "query=big", 'docs:=["big one","x"]'
    )
    assert json.loads(ranked.stdout)["docs"][0] == {"index": 0, "text": "big one", "score": 1.0}

    refused = cli(mock, "invoke", "--credential", "api_key=bad", "model", "fake", "-", "validate")
    assert refused.returncode == 1 and "CredentialsValidateFailedError: the api_key 'bad' is refused" in refused.stderr
    wrong = cli(mock, "invoke", "model", "fake", "fake-tts", "poll")
    assert wrong.returncode == 2 and "a tts model has no action 'poll'" in wrong.stderr
    unknown = cli(mock, "invoke", "model", "nobody", "m", "invoke")
    assert unknown.returncode == 2 and "no connected plugin declares the models provider 'nobody'" in unknown.stderr


def test_datasource_and_trigger_actions(mock):
    crawled = cli(mock, "invoke", "--json", "datasource", "crawler", "crawler", "crawl", "url=https://site.test")
    assert [json.loads(line)["result"]["status"] for line in crawled.stdout.splitlines()] == ["processing", "completed"]
    content = cli(mock, "invoke", "datasource", "docs", "docs", "content", "workspace_id=w1", "page_id=p1")
    assert content.stdout.splitlines() == ["content of w1/p1 (page)", 'page_id = "p1"'], content.stderr
    download = cli(mock, "invoke", "datasource", "drive", "drive", "download", "id=a")
    assert download.stdout.strip() == "[blob: 10 bytes, text/plain]", download.stderr

    body = '{"title": "Crash", "labels": ["bug"], "sender": "ann"}'
    dispatched = cli(mock, "invoke", "--json", "trigger", "repo_events", "dispatch", "--data", body)
    answer = json.loads(dispatched.stdout)
    assert answer["events"] == ["issue_opened"] and answer["user_id"] == "ann", dispatched.stderr
    event = cli(
        mock, "invoke", "--json", "trigger", "repo_events", "event", "issue_opened", "label=bug", "--data", body
    )
    assert json.loads(event.stdout) == {
        "variables": {"title": "Crash", "method": "POST", "path": "/"},
        "cancelled": False,
    }
    subscribed = cli(
        mock, "invoke", "--json", "--credential", "api_key=k", "trigger", "repo_events", "subscribe", "repository=me/r"
    )
    assert json.loads(subscribed.stdout)["subscription"]["properties"]["external_id"] == "hook-for-me/r"


def test_endpoints_set_up_listed_and_called(mock):
    made = cli(mock, "endpoints", "setup", "dify-mock-tests/endpoint_plugin", "--name", "cli", "greeting=hey")
    assert made.returncode == 0, made.stderr
    url = made.stdout.strip()
    assert url.startswith(f"{mock.url}/e/")
    listed = cli(mock, "endpoints")
    assert f"{url}  cli  dify-mock-tests/endpoint_plugin" in listed.stdout and "GET /stream" in listed.stdout

    echoed = cli(mock, "invoke", "endpoint", "cli", "/echo/x?q=1", "-X", "POST", "-d", "ping", "-H", "X-Test: 1")
    seen = json.loads(echoed.stdout)
    assert seen["body"] == "ping" and seen["query"] == {"q": ["1"]} and seen["headers"]["X-Test"] == "1"
    assert seen["settings"] == {"greeting": "hey"}
    included = cli(mock, "invoke", "endpoint", "cli", "/status/201", "-X", "POST", "-i")
    assert included.stdout.startswith("HTTP/1.1 201 Created\n") and included.stdout.endswith("status 201")

    bad = cli(mock, "invoke", "endpoint", "cli", "/echo/x", "-H", "X_Bad: 1")
    assert bad.returncode == 1 and "refuses header names that contain '_'" in bad.stderr

    assert cli(mock, "endpoints", "disable", "cli").returncode == 0
    assert "(disabled)" in cli(mock, "endpoints").stdout
    gone = cli(mock, "invoke", "endpoint", "cli", "/echo/x")
    assert gone.returncode == 1 and "is disabled" in gone.stderr
    assert cli(mock, "endpoints", "remove", "cli").returncode == 0
    missing = cli(mock, "invoke", "endpoint", "cli", "/echo/x")
    assert missing.returncode == 2 and "no hook 'cli'" in missing.stderr
