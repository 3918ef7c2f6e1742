"""Live model backends, end to end: a real SDK plugin, dify-mock, and an OpenAI-compatible server on loopback.

The server is tests/openai_standin.py started as a subprocess; nothing here mocks an HTTP client.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import miniaudio
import pytest
import yaml
from dify_mock.testing import MockServer, PluginError, PluginProcess
from model_caller_calls import result, wav_bytes
from openai_standin import StandIn

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_CALLER = REPO_ROOT / "tests" / "plugins" / "model_caller"
KEY_ENV = "STANDIN_TEST_API_KEY"
KEY = "sk-standin-Zq8v3XkP0sEcReT-7f41"
LIVE_TYPES = ["llm", "text_embedding", "rerank", "tts", "speech2text", "moderation"]
WEATHER_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn(api_key_env=KEY_ENV, env={KEY_ENV: KEY})
    try:
        yield server
    finally:
        server.stop()


def write_config(folder: Path, base_url: str, **extra: Any) -> Path:
    config: dict[str, Any] = {
        "backends": {
            "standin": {
                "type": "openai",
                "base_url": base_url,
                "api_key_env": KEY_ENV,
                "models": {"gpt-4o-mini": "standin-chat", "whisper-1": "standin-whisper"},
                "timeout": 2,
            }
        },
        "chain": {kind: ["fixtures", "replay", "standin", "builtin"] for kind in LIVE_TYPES},
        **extra,
    }
    path = folder / "dify-mock.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextlib.contextmanager
def running(
    folder: Path,
    sdk_python: str,
    args: list[str],
    *,
    with_key: bool = True,
    fixtures: list[Path] | None = None,
    plugin_env: dict[str, str] | None = None,
) -> Iterator[tuple[MockServer, PluginProcess]]:
    env = {KEY_ENV: KEY} if with_key else {}
    server = MockServer(folder, fixtures=fixtures or [], extra_args=args, env=env)
    server.start()
    try:
        plugin = server.start_plugin(MODEL_CALLER, python=sdk_python, env=plugin_env)
        yield server, plugin
    finally:
        server.stop()
        print(f"--- dify-mock log ({server.log_path}) ---\n{server.log()[-6000:]}")


def assert_key_nowhere(mock: MockServer, *files: Path) -> None:
    journal = json.dumps(mock.journal())
    assert KEY not in journal
    assert KEY not in mock.log()
    for file in files:
        assert KEY not in file.read_text(encoding="utf-8"), f"the API key is in {file}"


def every_call(mock: MockServer, plugin: PluginProcess) -> dict[str, Any]:
    """One call of every model type the backend serves, as the model_caller plugin reports them."""
    return {
        "stream": result(mock, plugin, "llm", prompt="Hello there"),
        "blocking": result(mock, plugin, "llm", prompt="Hello there", stream=False),
        "tools": result(mock, plugin, "llm", prompt="Weather in Paris?", with_tools=True),
        "stop": result(mock, plugin, "llm", prompt="Hello there friend", stop="friend"),
        "structured": result(mock, plugin, "structured", prompt="a pet", schema=json.dumps(WEATHER_SCHEMA)),
        "embed": result(mock, plugin, "embed", texts="first text\nsecond text"),
        "rerank": result(mock, plugin, "rerank", query="cats", docs="dogs bark\ncats purr\ncats and dogs", top_n=2),
        "tts": result(mock, plugin, "tts", text="Hello from the stand-in", voice="alloy"),
        "speech2text": result(mock, plugin, "speech2text", audio_hex=wav_bytes(0.3).hex()),
        "moderation": result(mock, plugin, "moderation", text="something dangerous"),
    }


def test_every_model_type_is_answered_by_the_live_backend(standin, tmp_path, sdk_python):
    config = write_config(tmp_path, standin.url)
    with running(tmp_path / "mock", sdk_python, ["--config", str(config)]) as (mock, plugin):
        answers = every_call(mock, plugin)
        stream, blocking = answers["stream"], answers["blocking"]
        assert stream["text"] == "Stand-in says: Hello there" == blocking["text"]
        assert stream["chunks"][:4] == ["Stand-in ", "says: ", "Hello ", "there"]
        assert stream["finish_reason"] == "stop" and stream["usage"]["prompt_tokens"] == 2
        assert stream["model"] == "gpt-4o-mini"  # the plugin's model name, whatever the backend calls it
        call = answers["tools"]["tool_calls"][0]
        assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Paris"}
        assert answers["tools"]["finish_reason"] == "tool_calls"
        assert answers["stop"]["text"] == "Stand-in says: Hello there "
        assert answers["structured"]["structured_output"] == {"name": "name value", "age": 7}
        embeddings = answers["embed"]["embeddings"]
        assert len(embeddings) == 2 and len(embeddings[0]) == 8 and embeddings[0] != embeddings[1]
        assert [doc["index"] for doc in answers["rerank"]["docs"]] == [1, 2]
        assert answers["rerank"]["docs"][0]["score"] == 1.0
        audio = b"".join(bytes.fromhex(chunk) for chunk in answers["tts"]["chunks"])
        assert miniaudio.decode(audio).duration > 0.3
        assert (
            answers["speech2text"]["text"]
            == f"transcribed {len(wav_bytes(0.3))} bytes of audio.wav with standin-whisper"
        )
        assert answers["moderation"]["flagged"] is True
        # the stand-in flags "dangerous", the built-in answer flags "bomb": this answer came from the backend
        assert result(mock, plugin, "moderation", text="a bomb")["flagged"] is False

        entries = mock.journal(kind="reverse")
        assert {entry["answered_by"] for entry in entries} == {"backend:standin"}
        assert {entry["type"] for entry in entries} == {*LIVE_TYPES, "llm_structured_output"}
        sent = standin.requests()
        assert {request["authorization"] for request in sent} == {f"Bearer {KEY}"}
        chats = [r["body"] for r in sent if r["path"] == "/v1/chat/completions"]
        assert {chat["model"] for chat in chats} == {"standin-chat"}
        assert chats[0]["stream"] is True and chats[0]["stream_options"] == {"include_usage": True}
        assert chats[1]["stream"] is False
        assert [tool["function"]["name"] for tool in chats[2]["tools"]] == ["get_weather", "get_time"]
        assert chats[3]["stop"] == ["friend"]
        assert chats[4]["response_format"]["json_schema"]["schema"] == WEATHER_SCHEMA
        # types an OpenAI API cannot serve keep the default chain
        summary = result(mock, plugin, "summary", text="Plugins call back into Dify. " * 60, instruction="short")
        assert (
            summary["summary"] and mock.journal(kind="reverse", type="system_summary")[-1]["answered_by"] == "builtin"
        )
        assert_key_nowhere(mock)


def test_record_then_replay_after_the_backend_is_gone_then_a_changed_prompt_fails_with_a_diff(
    standin, tmp_path, sdk_python
):
    config = write_config(tmp_path, standin.url)
    cassettes = tmp_path / "cassettes"
    with running(tmp_path / "record", sdk_python, ["--config", str(config), "--record", str(cassettes)]) as (
        mock,
        plugin,
    ):
        recorded = every_call(mock, plugin)
    cassette = cassettes / "cassette.yaml"
    data = yaml.safe_load(cassette.read_text(encoding="utf-8"))
    assert [entry["type"] for entry in data["entries"]] == [
        "llm", "llm", "llm", "llm", "llm_structured_output", "text_embedding", "rerank", "tts", "speech2text", "moderation"
    ]  # fmt: skip
    first = data["entries"][0]
    assert first["answered_by"] == "backend:standin"
    assert first["request"]["prompt_messages"][0]["content"] == "Hello there"
    assert [chunk["data"]["delta"]["message"]["content"] for chunk in first["chunks"]][:4] == [
        "Stand-in ", "says: ", "Hello ", "there"
    ]  # fmt: skip
    assert all(isinstance(chunk["ms"], float) for chunk in first["chunks"])
    assert data["entries"][8]["request"]["file"].startswith("sha256:")  # audio is kept as its digest
    standin.stop()

    args = ["--config", str(config), "--replay", str(cassettes)]
    with running(tmp_path / "replay", sdk_python, args, with_key=False) as (mock, plugin):
        replayed = every_call(mock, plugin)
        for name in recorded:
            assert replayed[name] == recorded[name], name
        entries = mock.journal(kind="reverse")
        assert [entry["answered_by"] for entry in entries] == [f"replay:cassette#{n}" for n in range(1, 11)]
        # every chunk is the recorded one, byte for byte
        assert entries[0]["response"] == [chunk["data"] for chunk in first["chunks"]]

        with pytest.raises(PluginError) as failure:
            result(mock, plugin, "llm", prompt="Hello Rome")
        message = failure.value.message
        assert "replay: no recorded llm call matches this request (strict replay)" in message
        assert "nearest is" in message and "entry 1" in message and "prompt_messages[0].content" in message
        assert "-  content: Hello there" in message and "+  content: Hello Rome" in message
        assert mock.journal(kind="reverse")[-1]["answered_by"] == "replay"
        assert mock.http.get("/mock/cassettes").json()["cassettes"][0]["unused"] == []
        assert_key_nowhere(mock, cassette)

    # entries no call used are reported, over HTTP and in the log when the mock stops
    with running(tmp_path / "replay2", sdk_python, args, with_key=False) as (mock, plugin):
        result(mock, plugin, "llm", prompt="Hello there")
        report = mock.http.get("/mock/cassettes").json()["cassettes"][0]
        assert report["entries"] == 10 and report["replayed"] == 1
        assert {"entry": 2, "type": "llm", "summary": "prompt Hello there"} in report["unused"]
        mock.stop()
        assert "9 of 10 entries never replayed" in mock.log()


FAILURES = [
    ({"status": 503, "message": "overloaded"}, "HTTP 503 Service Unavailable: overloaded"),
    (
        {"status": 400, "message": "bad model", "echo_key": True},
        "HTTP 400 Bad Request: bad model (you sent Bearer ***)",
    ),
    ({"malformed_json": True, "times": 1}, "HTTP 200 but the body is not JSON"),
    ({"garbage": True}, "HTTP 200 but the stream holds a line that is not server-sent events"),
    ({"cut_after": 2}, "the connection broke off mid-answer"),
    ({"delay": 4}, "no answer within 2 s (timeout; no HTTP status)"),
]


def test_a_failing_backend_gives_a_clear_error_keeps_the_mock_serving_and_records_nothing(
    standin, tmp_path, sdk_python
):
    config = write_config(tmp_path, standin.url)
    cassette = tmp_path / "cassettes" / "cassette.yaml"
    args = ["--config", str(config), "--record", str(cassette.parent)]
    with running(tmp_path / "mock", sdk_python, args) as (mock, plugin):
        for knobs, expected in FAILURES:
            standin.control(**knobs)
            tool, parameters = ("embed", {"texts": "one"}) if "malformed_json" in knobs else ("llm", {"prompt": "Hi"})
            with pytest.raises(PluginError) as failure:
                result(mock, plugin, tool, **parameters)
            message = failure.value.message
            assert f"backend 'standin' (POST {standin.url}/" in message, knobs
            assert expected in message, (knobs, message)
            assert KEY not in message
            standin.control()
            assert result(mock, plugin, "llm", prompt="still here?")["text"] == "Stand-in says: still here?"
        kinds = [entry["type"] for entry in yaml.safe_load(cassette.read_text())["entries"]]
        assert kinds == ["llm"] * len(FAILURES)  # only the answers that completed
        assert_key_nowhere(mock, cassette)


def test_an_unreachable_backend_and_a_missing_key_are_named(tmp_path, sdk_python):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    config = write_config(tmp_path, f"http://127.0.0.1:{port}/v1")
    cassettes = tmp_path / "cassettes"
    with running(tmp_path / "mock", sdk_python, ["--config", str(config), "--record", str(cassettes)]) as (
        mock,
        plugin,
    ):
        with pytest.raises(PluginError) as failure:
            result(mock, plugin, "moderation", text="hi")
        assert f"backend 'standin' (POST http://127.0.0.1:{port}/v1/moderations): cannot connect (no HTTP status)" in (
            failure.value.message
        )
        assert result(mock, plugin, "summary", text="x " * 600, instruction="i")["summary"]  # still serving
    assert not (cassettes / "cassette.yaml").exists()
    with running(tmp_path / "nokey", sdk_python, ["--config", str(config)], with_key=False) as (mock, plugin):
        assert f"warning: backend 'standin': the environment variable {KEY_ENV} (api_key_env) is not set" in mock.log()
        with pytest.raises(PluginError) as failure:
            result(mock, plugin, "llm", prompt="Hi")
        assert f"the environment variable {KEY_ENV} (api_key_env) is not set" in failure.value.message


def test_one_cassette_per_test(standin, tmp_path, sdk_python):
    config = write_config(tmp_path, standin.url, cassettes={"per": "test"})
    cassettes = tmp_path / "cassettes"
    with running(tmp_path / "record", sdk_python, ["--config", str(config), "--record", str(cassettes)]) as (
        mock,
        plugin,
    ):
        with pytest.raises(PluginError, match="no test named its cassette yet"):
            result(mock, plugin, "llm", prompt="Hi")
        mock.use_cassette("tests/test_a.py::test_one[x]")
        result(mock, plugin, "llm", prompt="one")
        mock.use_cassette("tests/test_a.py::test_two")
        result(mock, plugin, "llm", prompt="two")
    assert sorted(path.name for path in cassettes.iterdir()) == [
        "tests_test_a.py_test_one_x.yaml",
        "tests_test_a.py_test_two.yaml",
    ]
    standin.stop()
    with running(tmp_path / "replay", sdk_python, ["--config", str(config), "--replay", str(cassettes)]) as (
        mock,
        plugin,
    ):
        mock.use_cassette("tests/test_a.py::test_two")
        assert result(mock, plugin, "llm", prompt="two")["text"] == "Stand-in says: two"
        with pytest.raises(PluginError, match=r"nearest is .*test_two\.yaml entry 1"):
            result(mock, plugin, "llm", prompt="one")  # recorded, but in the other test's cassette


def test_faults_per_rule_and_globally(standin, tmp_path, sdk_python):
    config = write_config(
        tmp_path,
        standin.url,
        faults={"moderation": {"error": "moderation is down (global fault)"}},
        latency={"tts": {"per_chunk": 0.01, "first_chunk": 0.02}},
    )
    args = ["--config", str(config)]
    fixtures = [REPO_ROOT / "tests" / "fixtures" / "faults.yaml"]
    plugin_env = {"MAX_INVOCATION_TIMEOUT": "2"}  # the SDK's own timeout for a reverse call that never answers
    with running(tmp_path / "mock", sdk_python, args, fixtures=fixtures, plugin_env=plugin_env) as (mock, plugin):
        with pytest.raises(PluginError, match=r"the model crashed \(scripted\)"):
            result(mock, plugin, "llm", prompt="please fail midway")
        entry = mock.journal(kind="reverse", type="llm")[-1]
        assert [chunk["delta"]["message"]["content"] for chunk in entry["response"]] == ["one ", "two "]
        assert entry["answered_by"] == "rule:fails-mid-stream"
        assert entry["error"] == "the model crashed (scripted)"

        broken = result(mock, plugin, "llm", prompt="broken tools please", with_tools=True)["tool_calls"][0]
        assert broken["name"] == "get_weather" and broken["arguments"] == '{"city":'
        with pytest.raises(ValueError):
            json.loads(broken["arguments"])

        assert result(mock, plugin, "llm", prompt="answer slowly")["text"] == "a b c d e f"

        with pytest.raises(PluginError, match="invocation exited without response after 2 seconds"):
            result(mock, plugin, "llm", prompt="hang forever")

        with pytest.raises(PluginError):
            result(mock, plugin, "llm", prompt="drop the line")
        dropped = mock.journal(kind="reverse", type="llm")[-1]
        assert dropped["error"] == "fault: dropped the plugin's connection"
        assert len(dropped["response"]) == 1
        assert mock.wait_for_plugin(plugin.plugin_id, present=False, timeout=60)
        assert mock.wait_for_plugin(plugin.plugin_id, timeout=60)  # the SDK reconnects; the mock kept serving
        assert result(mock, plugin, "llm", prompt="Hello again")["text"] == "Stand-in says: Hello again"

        with pytest.raises(PluginError, match=r"moderation is down \(global fault\)"):
            result(mock, plugin, "moderation", text="anything")
        assert mock.journal(kind="reverse", type="moderation")[-1]["answered_by"] == "backend:standin"
        chunks = result(mock, plugin, "tts", text="paced audio", voice="alloy")["chunks"]
        assert miniaudio.decode(b"".join(bytes.fromhex(chunk) for chunk in chunks)).duration > 0.3

        hung = [e for e in mock.journal(kind="reverse", type="llm") if e["answered_by"] == "rule:never-answers"]
        assert hung and hung[0]["response"] == []
