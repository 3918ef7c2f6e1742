"""A recording mock killed with SIGKILL while a plugin makes calls: after a restart, the cassette parses, holds every
call the plugin had received in full, no half-written file is left, and it replays.

"Received in full" is what the test can see: a tool call returned, so its plugin had the answer's last chunk and
end. The mock writes an entry before it sends the answer's last chunk, so each of those is on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer
from model_caller_calls import result
from openai_standin import StandIn
from recording import KEY, KEY_ENV, cassette_entries, standin_config

WORKERS = 3
CALLS_BEFORE_THE_KILL = 12
# A per-test cassette named by a test id whose parameter tries to climb out of the cassette folder.
TEST_ID = "tests/test_app.py::test_answers[../../outside]"
CASSETTE = "tests_test_app.py_test_answers_.._.._outside.yaml"


def dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def test_a_recording_killed_mid_call_keeps_every_acknowledged_answer_and_replays_after_a_restart(tmp_path, sdk_python):
    standin = StandIn(api_key_env=KEY_ENV, env={KEY_ENV: KEY})
    standin.control(chunk_delay=0.05)  # answers take a while: the kill finds calls half answered
    config = standin_config(tmp_path, standin.url, cassettes={"per": "test"})
    cassettes = tmp_path / "cassettes"
    args = ["--config", str(config), "--record", str(cassettes)]
    acknowledged: dict[str, str] = {}
    stop = threading.Event()
    server = MockServer(tmp_path / "record", extra_args=args, env={KEY_ENV: KEY})
    try:
        server.start()
        plugin = server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
        assert server.use_cassette(TEST_ID) + ".yaml" == CASSETTE

        def call_until_stopped(worker: int) -> None:
            for number in range(10_000):
                if stop.is_set():
                    return
                prompt = f"worker {worker} call {number}"
                try:
                    acknowledged[prompt] = result(server, plugin, "llm", prompt=prompt)["text"]
                except Exception:  # the mock was killed under this call
                    return

        workers = [threading.Thread(target=call_until_stopped, args=(n,), daemon=True) for n in range(WORKERS)]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < CALLS_BEFORE_THE_KILL and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.process is not None
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=60)
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        asked = [request for request in standin.requests() if request["path"].endswith("/chat/completions")]
    finally:
        stop.set()
        server.stop()
        standin.stop()
    assert len(acknowledged) >= CALLS_BEFORE_THE_KILL, f"only {len(acknowledged)} calls before the deadline"
    print(f"{len(acknowledged)} calls acknowledged, {len(asked)} asked of the backend when the mock was killed")

    assert sorted(path.name for path in tmp_path.rglob("*.yaml")) == sorted(
        [CASSETTE, "dify-mock.yaml"]
    )  # the cassette and the config file
    recorded = {entry["request"]["prompt_messages"][-1]["content"] for entry in cassette_entries(cassettes / CASSETTE)}
    assert set(acknowledged) <= recorded
    # What a killed recorder may leave: its temporary file, named after its pid; a later start removes it.
    leftover = cassettes / f".{CASSETTE}.{dead_pid()}.tmp"
    leftover.write_text("version: 1\nentries:\n- type: llm\n  request: {prompt_mess", encoding="utf-8")

    args = ["--config", str(config), "--replay", str(cassettes), "--record", str(cassettes)]
    with MockServer(tmp_path / "replay", extra_args=args, env={KEY_ENV: KEY}) as server:  # no backend now
        assert not leftover.exists()
        assert f"removed {leftover}" in server.log()
        assert sorted(path.name for path in cassettes.iterdir()) == [CASSETTE]
        plugin = server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
        server.use_cassette(TEST_ID)
        for prompt, text in sorted(acknowledged.items()):
            assert result(server, plugin, "llm", prompt=prompt)["text"] == text
        answered_by = {entry["answered_by"] for entry in server.journal(kind="reverse", type="llm")}
        assert {name.split("#")[0] for name in answered_by} == {f"replay:{CASSETTE.removesuffix('.yaml')}"}
        assert "Traceback" not in server.log()
