"""Built-in node and app answers, app event shapes, and the file store's signatures, without processes."""

from __future__ import annotations

import io
import time
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from dify_mock.answers.builtin.nodes import PARAMETER_TYPES, choose_class, extract_parameters, fits
from dify_mock.answers.replies import AppReply, QuestionClassifierReply
from dify_mock.protocol.reverse_call import ReverseError
from dify_mock.reverse.app_events import blocking_response, stream_events
from dify_mock.reverse.apps import build_run
from dify_mock.store.files import LINK_LIFETIME, FileError, FileStore
from pydantic import ValidationError


@pytest.mark.parametrize("query", ["", "hello", "Send 12 red boxes to Berlin by Friday, express: yes", "42 42 42"])
def test_every_declared_parameter_gets_a_value_of_its_type(query):
    parameters = [{"name": f"p_{kind}", "type": kind, "options": ["red", "blue"]} for kind in PARAMETER_TYPES]
    values = extract_parameters(parameters, query)
    assert set(values) == {p["name"] for p in parameters}
    for parameter in parameters:
        assert fits(parameter["type"], values[parameter["name"]], parameter["options"]), parameter


def test_numbers_go_to_the_parameter_named_next_to_them():
    parameters = [{"name": "adults", "type": "number"}, {"name": "children", "type": "number"}]
    assert extract_parameters(parameters, "3 children and 2 adults") == {"adults": 2, "children": 3}


def test_the_class_sharing_most_words_wins_and_ties_go_to_the_first():
    classes = [{"id": "a", "name": "shipping delay"}, {"id": "b", "name": "refund request"}]
    assert choose_class(classes, "I want a refund for my request")["id"] == "b"
    assert choose_class(classes, "nothing in common")["id"] == "a"
    assert choose_class(classes, "refund for a delay")["id"] == "a"


def test_a_classifier_reply_names_exactly_one_class():
    with pytest.raises(ValidationError, match="exactly one of 'class_name' or 'class_id'"):
        QuestionClassifierReply(class_name="a", class_id="b")
    assert QuestionClassifierReply(error="down").error == "down"


def test_every_app_kind_streams_events_that_end_the_way_dify_ends_them():
    request = {"app_id": "a", "query": "hi", "inputs": {"x": 1}, "response_mode": "streaming"}
    endings = {
        "chat": ["message", "message_end"],
        "agent-chat": ["agent_thought", "message_end"],
        "advanced-chat": ["workflow_finished", "message_end"],
        "completion": ["message", "message_end"],
        "workflow": ["node_finished", "workflow_finished"],
    }
    for mode, ending in endings.items():
        run = build_run(request, AppReply(mode=mode), "user-1")  # type: ignore[arg-type]
        events = stream_events(run)
        assert [event["event"] for event in events][-2:] == ending, mode
        assert all(event["task_id"] == run.task_id for event in events)
        blocking = blocking_response(run)
        assert ("workflow_run_id" in blocking) == (mode == "workflow")


def test_a_chat_kind_needs_a_query():
    with pytest.raises(ReverseError, match="missing query"):
        build_run({"app_id": "a", "inputs": {}}, AppReply(mode="agent-chat"), "")


def test_signed_urls_expire_and_do_not_survive_a_restart(tmp_path: Path):
    store = FileStore(tmp_path / "files", "http://127.0.0.1:5002", max_bytes=100)
    stored = store.save(io.BytesIO(b"data"), "a.txt", "text/plain", "default", "u")
    url = store.preview_url(stored, now=time.time() - LINK_LIFETIME - 5)
    name, query = url.split("/files/tools/", 1)[1].split("?", 1)
    params = dict(parse_qsl(query))
    with pytest.raises(FileError, match="expired") as expired:
        store.check_download(name, params)
    assert expired.value.status == 403
    fresh = store.preview_url(stored).split("?", 1)[1]
    params = dict(parse_qsl(fresh))
    assert store.check_download(name, params) == stored
    restarted = FileStore(tmp_path / "files", "http://127.0.0.1:5002", max_bytes=100)
    with pytest.raises(FileError, match="earlier run"):
        restarted.check_download(name, params)


def test_a_file_over_the_limit_leaves_nothing_behind(tmp_path: Path):
    store = FileStore(tmp_path / "files", "http://127.0.0.1:5002", max_bytes=10)
    with pytest.raises(FileError) as refused:
        store.save(io.BytesIO(b"x" * 11), "a.txt", "text/plain", "default", "u")
    assert refused.value.status == 413
    assert list((tmp_path / "files").iterdir()) == []
    assert store.get("../storage") is None and store.get("0" * 32) is None
