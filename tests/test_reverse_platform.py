"""Apps, workflow nodes and files: a real SDK plugin (tests/plugins/platform_caller) calls them on the mock.

Most tests share one mock and one plugin (module scope): they only read, and each uses its own app ids and
queries. Tests that need another configuration start their own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from dify_mock.testing import MockServer, PluginError, PluginProcess

REPO_ROOT = Path(__file__).resolve().parent.parent
PLUGIN = REPO_ROOT / "tests" / "plugins" / "platform_caller"
PROVIDER = "platform_caller"
UPLOAD_LIMIT = 4096
Platform = tuple[MockServer, PluginProcess]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Iterator[Platform]:
    mock = MockServer(
        tmp_path_factory.mktemp("platform") / "dify-mock",
        fixtures=[REPO_ROOT / "tests" / "fixtures" / "platform.yaml"],
        extra_args=["--max-upload-bytes", str(UPLOAD_LIMIT)],
    )
    with mock:
        plugin = mock.start_plugin(PLUGIN, python=sdk_python)
        try:
            yield mock, plugin
        finally:
            print(f"--- dify-mock log ---\n{mock.log()[-6000:]}\n--- plugin output ---\n{plugin.output()[-6000:]}")


def call(platform: Platform, tool: str, **parameters: Any) -> Any:
    mock, plugin = platform
    chunks = mock.invoke_tool(plugin.plugin_id, PROVIDER, tool, parameters)
    assert [chunk["type"] for chunk in chunks] == ["json"], chunks
    return chunks[0]["message"]["json_object"]


def failure(platform: Platform, tool: str, **parameters: Any) -> str:
    with pytest.raises(PluginError) as raised:
        call(platform, tool, **parameters)
    return raised.value.message


def last_reverse(mock: MockServer, invoke_type: str) -> dict[str, Any]:
    return mock.journal(kind="reverse", type=invoke_type)[-1]


def names(events: list[dict[str, Any]]) -> list[str]:
    return [event["event"] for event in events]


def answer_of(events: list[dict[str, Any]], event: str = "message") -> str:
    return "".join(e["answer"] for e in events if e["event"] == event)


# --- apps ---------------------------------------------------------------------------------------------


def test_a_chat_app_streams_message_events_and_ends_with_usage(platform):
    events = call(
        platform, "app", kind="chat", app_id="helpdesk", query="Where is my parcel?", inputs='{"lang": "en"}'
    )["events"]
    assert names(events)[-1] == "message_end" and set(names(events)[:-1]) == {"message"}
    assert len(events) > 3  # streamed in pieces
    answer = answer_of(events)
    assert '"Where is my parcel?"' in answer and 'lang="en"' in answer
    first, end = events[0], events[-1]
    for event in events:
        assert event["conversation_id"] == first["conversation_id"] and event["message_id"] == first["message_id"]
        assert event["task_id"] == first["task_id"] and isinstance(event["created_at"], int)
    usage = end["metadata"]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert usage["currency"] == "USD"
    entry = last_reverse(platform[0], "app")
    assert entry["answered_by"] == "builtin" and entry["request"]["query"] == "Where is my parcel?"
    assert entry["request"]["response_mode"] == "streaming"


def test_a_blocking_chat_answer_is_one_message_and_the_same_call_gets_the_same_answer(platform):
    first = call(platform, "app", kind="chat", app_id="helpdesk", query="Hi", response_mode="blocking")["result"]
    again = call(platform, "app", kind="chat", app_id="helpdesk", query="Hi", response_mode="blocking")["result"]
    assert first["event"] == "message" and first["mode"] == "chat"
    assert first["answer"].startswith('You asked app helpdesk: "Hi".')
    assert first["metadata"]["usage"]["total_tokens"] > 0
    assert {k: first[k] for k in ("answer", "conversation_id", "message_id")} == {
        k: again[k] for k in ("answer", "conversation_id", "message_id")
    }
    continued = call(
        platform,
        "app",
        kind="chat",
        app_id="helpdesk",
        query="And then?",
        response_mode="blocking",
        conversation_id=first["conversation_id"],
    )["result"]
    assert continued["conversation_id"] == first["conversation_id"]
    assert continued["message_id"] != first["message_id"]


def test_a_chat_app_without_a_query_fails_as_dify_does(platform):
    message = failure(platform, "app", kind="chat", app_id="helpdesk", query="")
    # as the daemon relays Dify's 400 for a call that fails before it streams
    assert "invoke app failed: request failed with status code: 400 and respond with: " in message
    assert '"message":"missing query' in message


def test_a_workflow_app_runs_start_and_end_nodes_and_echoes_its_inputs(platform):
    inputs = {"city": "Paris", "days": 3}
    events = call(platform, "app", kind="workflow", app_id="trip-planner", inputs=json.dumps(inputs))["events"]
    assert names(events) == [
        "workflow_started",
        "node_started",
        "node_finished",
        "node_started",
        "node_finished",
        "workflow_finished",
    ]
    run_ids = {event["workflow_run_id"] for event in events}
    assert len(run_ids) == 1 and events[0]["data"]["inputs"] == inputs
    assert [e["data"]["node_type"] for e in events[1:5]] == ["start", "start", "end", "end"]
    assert events[3]["data"]["predecessor_node_id"] == "start"
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded" and finished["outputs"] == inputs and finished["total_steps"] == 2
    blocking = call(
        platform, "app", kind="workflow", app_id="trip-planner", inputs=json.dumps(inputs), response_mode="blocking"
    )["result"]
    assert blocking["workflow_run_id"] == blocking["data"]["id"] and blocking["task_id"]
    assert blocking["data"]["status"] == "succeeded" and blocking["data"]["outputs"] == inputs


def test_a_completion_app_declared_by_a_rule_streams_without_a_conversation(platform):
    events = call(platform, "app", kind="completion", app_id="writer-app", inputs='{"topic": "the sea"}')["events"]
    assert names(events)[-1] == "message_end" and "conversation_id" not in events[0]
    assert "App writer-app completed the inputs topic=" in answer_of(events)
    blocking = call(platform, "app", kind="completion", app_id="writer-app", response_mode="blocking")["result"]
    assert blocking["mode"] == "completion" and "conversation_id" not in blocking
    assert last_reverse(platform[0], "app")["answered_by"] == "rule:writer"


def test_app_rules_match_on_app_id_and_inputs_and_stream_their_pieces(platform):
    events = call(platform, "app", kind="chat", app_id="support-bot", query="Salut", inputs='{"lang": "fr"}')["events"]
    assert [e["answer"] for e in events if e["event"] == "message"] == ["Bonjour", ", ", "comment puis-je aider ?"]
    assert {e["conversation_id"] for e in events} == {"conv-42"}
    assert last_reverse(platform[0], "app")["answered_by"] == "rule:support-bot"
    # another input value: no rule matches, the built-in answer comes
    events = call(platform, "app", kind="chat", app_id="support-bot", query="Hello", inputs='{"lang": "en"}')["events"]
    assert answer_of(events).startswith('You asked app support-bot: "Hello".')


def test_agent_chat_and_chatflow_apps_stream_their_own_event_kinds(platform):
    agent = call(platform, "app", kind="chat", app_id="agent-app", query="What is the answer?")["events"]
    assert names(agent)[0] == "agent_thought" and names(agent)[-2:] == ["agent_thought", "message_end"]
    assert answer_of(agent, "agent_message") == "I looked it up: 42."
    assert agent[-2]["thought"] == "I looked it up: 42."
    chatflow = call(platform, "app", kind="chat", app_id="chatflow-app", query="Hi")["events"]
    kinds = names(chatflow)
    assert kinds[0] == "workflow_started" and kinds[-2:] == ["workflow_finished", "message_end"]
    assert answer_of(chatflow) == "Chatflow says hi."
    assert chatflow[-2]["data"]["outputs"] == {"answer": "Chatflow says hi."}
    assert {e["conversation_id"] for e in chatflow} == {chatflow[0]["conversation_id"]}
    blocking = call(platform, "app", kind="chat", app_id="chatflow-app", query="Hi", response_mode="blocking")["result"]
    assert blocking["mode"] == "advanced-chat" and blocking["answer"] == "Chatflow says hi."


def test_workflow_rules_give_outputs_text_chunks_exact_events_or_errors(platform):
    events = call(platform, "app", kind="workflow", app_id="report-workflow", inputs='{"topic": "sales Q3"}')["events"]
    assert "".join(e["data"]["text"] for e in events if e["event"] == "text_chunk") == "Sales are up."
    assert events[-1]["data"]["outputs"] == {"summary": "Sales are up.", "pages": 3}
    raw = call(platform, "app", kind="workflow", app_id="raw-app")["events"]
    assert raw == [{"event": "message", "answer": "raw"}, {"event": "message_end", "metadata": {}}]
    blocking = call(platform, "app", kind="workflow", app_id="raw-app", response_mode="blocking")["result"]
    assert blocking == {"event": "message", "answer": "raw blocking"}
    unpublished = failure(platform, "app", kind="workflow", app_id="broken-app")
    assert "invoke app failed: request failed with status code: 400" in unpublished
    assert "app is not published" in unpublished


def test_fetch_app_answers_the_parameters_shape_with_rule_values_over_the_builtin_ones(platform):
    builtin = call(platform, "fetch_app", app_id="any-app")["info"]
    for key in ("opening_statement", "suggested_questions", "user_input_form", "file_upload", "system_parameters"):
        assert key in builtin
    assert builtin["user_input_form"] == [] and builtin["system_parameters"]["file_size_limit"] == 15
    info = call(platform, "fetch_app", app_id="support-bot")["info"]
    assert info["opening_statement"] == "Hello! How can I help?"
    assert info["user_input_form"][0]["text-input"]["variable"] == "lang"
    assert info["file_upload"] == builtin["file_upload"]


# --- workflow nodes -----------------------------------------------------------------------------------

PARAMETERS = [
    {"name": "city", "type": "string", "description": "the destination"},
    {"name": "nights", "type": "number"},
    {"name": "seat", "type": "select", "options": ["aisle", "window"]},
    {"name": "breakfast", "type": "bool"},
    {"name": "guests", "type": "array[string]"},
    {"name": "ages", "type": "array[number]"},
    {"name": "rooms", "type": "array[object]"},
]


def test_the_parameter_extractor_gives_every_declared_parameter_a_value_of_its_type(platform):
    query = "Book 3 nights in Paris for Alice and Bob, window seat, breakfast included, ages 34 and 36"
    response = call(platform, "extract", parameters=json.dumps(PARAMETERS), query=query)
    outputs = response["outputs"]
    assert outputs["__is_success"] == 1 and outputs["__reason"] is None
    assert outputs["city"] == "Paris" and outputs["nights"] == 3
    assert outputs["seat"] == "window" and outputs["breakfast"] is True
    assert isinstance(outputs["guests"], list) and all(isinstance(g, str) for g in outputs["guests"])
    assert outputs["ages"] == [3, 34, 36]
    assert isinstance(outputs["rooms"], list) and all(isinstance(r, dict) for r in outputs["rooms"])
    assert response["inputs"]["query"] == query and response["process_data"]["model_name"] == "gpt-4o-mini"
    # a query that mentions nothing still gets valid values
    empty = call(platform, "extract", parameters=json.dumps(PARAMETERS), query="hello")["outputs"]
    assert isinstance(empty["nights"], int | float) and empty["seat"] in ("aisle", "window")
    assert empty["breakfast"] is False and isinstance(empty["city"], str)


def test_parameter_extractor_rules_fill_what_they_leave_out_and_are_checked_against_the_types(platform):
    declared = [
        {"name": "people", "type": "number"},
        {"name": "time", "type": "string"},
        {"name": "terrace", "type": "bool"},
    ]
    outputs = call(platform, "extract", parameters=json.dumps(declared), query="Please book a table for four")[
        "outputs"
    ]
    assert outputs["people"] == 4 and outputs["time"] == "19:30" and outputs["terrace"] is False
    assert last_reverse(platform[0], "node_parameter_extractor")["answered_by"] == "rule:booking"
    message = failure(platform, "extract", parameters=json.dumps(declared), query="a bad fixture")
    assert (
        "invoke parameter extractor failed: request failed: "
        "fixture rule:bad-type gives 'four' for the number parameter 'people'" in message
    )
    bad_type = [{"name": "when", "type": "date"}]
    message = failure(platform, "extract", parameters=json.dumps(bad_type), query="tomorrow")
    assert "parameters[0].type is 'date'; expected one of string, number, bool, select" in message


def test_the_question_classifier_picks_the_class_sharing_most_words_or_the_ruled_one(platform):
    classes = [{"id": "1", "name": "technical problem"}, {"id": "2", "name": "billing and charges"}]
    response = call(platform, "classify", classes=json.dumps(classes), query="Why was my card charged twice?")
    assert response["outputs"]["class_name"] == "billing and charges" and response["outputs"]["class_id"] == "2"
    assert response["outputs"]["usage"]["total_tokens"] > 0 and response["inputs"] == {
        "query": "Why was my card charged twice?"
    }
    first = call(platform, "classify", classes=json.dumps(classes), query="zzz")["outputs"]
    assert first["class_id"] == "1"  # no shared word: the first class, as Dify falls back
    ruled = [{"id": "1", "name": "tech"}, {"id": "2", "name": "billing"}]
    assert call(platform, "classify", classes=json.dumps(ruled), query="refund please")["outputs"]["class_id"] == "2"
    assert call(platform, "classify", classes=json.dumps(ruled), query="by id")["outputs"]["class_name"] == "billing"
    message = failure(platform, "classify", classes=json.dumps(ruled), query="an unknown class")
    assert "answers the class 'weather', but the call declares only 'tech' (id '1'), 'billing' (id '2')" in message


# --- files --------------------------------------------------------------------------------------------


def stored_files(mock: MockServer) -> list[Path]:
    return sorted((mock.data_dir / "files").iterdir())


def test_an_uploaded_file_is_stored_served_back_and_read_as_a_file_parameter(platform):
    mock, _ = platform
    content = "name,score\nada,10\n"
    uploaded = call(platform, "upload", filename="scores.csv", text=content, mimetype="text/csv")
    record = uploaded["file"]
    assert record["name"] == "scores.csv" and record["size"] == len(content) and record["mime_type"] == "text/csv"
    assert record["extension"] == ".csv" and record["type"] == "document"
    assert uploaded["app_parameter"] == {
        "tool_file_id": record["id"],
        "transfer_method": "tool_file",
        "type": "document",
    }
    url = record["preview_url"]
    assert url.startswith(f"{mock.url}/files/tools/{record['id']}.csv?")
    assert (mock.data_dir / "files" / record["id"]).read_text() == content
    response = httpx.get(url)
    assert response.status_code == 200 and response.text == content
    assert response.headers["content-type"].startswith("text/csv")
    upload_call = last_reverse(mock, "upload_file")
    assert upload_call["request"] == {"filename": "scores.csv", "mimetype": "text/csv"}
    assert upload_call["response"][0]["url"].startswith(f"{mock.url}/files/upload/for-plugin?")
    # the SDK's File downloads a file parameter from its url
    parameter = {
        "dify_model_identity": "__dify__file__",
        "url": url,
        "mime_type": "text/csv",
        "filename": "scores.csv",
        "extension": ".csv",
        "size": len(content),
        "type": "document",
    }
    read = call(platform, "read_file", file=parameter)
    assert base64.b64decode(read["base64"]).decode() == content and read["filename"] == "scores.csv"


def test_a_file_put_on_the_mock_by_hand_is_a_ready_made_file_parameter(platform):
    mock, _ = platform
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    response = mock.http.post("/mock/files", files={"file": ("pixel.png", image, "image/png")})
    assert response.status_code == 201, response.text
    described = response.json()
    assert described["type"] == "image" and described["file"]["type"] == "image"
    read = call(platform, "read_file", file=described["file"])
    assert read["sha256"] == hashlib.sha256(image).hexdigest() and read["mime_type"] == "image/png"
    listed = mock.http.get("/mock/files").json()["files"]
    assert described["id"] in [entry["id"] for entry in listed]


def test_uploads_without_a_valid_signature_of_the_wrong_type_or_too_large_are_refused(platform):
    mock, _ = platform
    before = stored_files(mock)
    call(platform, "upload", filename="ok.txt", text="fine")
    url = last_reverse(mock, "upload_file")["response"][0]["url"]
    after_ok = stored_files(mock)
    assert len(after_ok) == len(before) + 2  # the file and its record
    unsigned = httpx.post(f"{mock.url}/files/upload/for-plugin", files={"file": ("x.txt", b"x", "text/plain")})
    assert unsigned.status_code == 403 and "not signed" in unsigned.json()["message"]
    tampered = httpx.post(
        url.replace("tenant_id=default", "tenant_id=other"), files={"file": ("ok.txt", b"x", "text/plain")}
    )
    assert tampered.status_code == 403 and "signature does not match" in tampered.json()["message"]
    wrong_type = httpx.post(url, files={"file": ("ok.txt", b"<html>", "text/html")})
    assert wrong_type.status_code == 415
    assert "the file is text/html, but this upload URL was made for text/plain" in wrong_type.json()["message"]
    not_multipart = httpx.post(url, json={"file": "x"})
    assert not_multipart.status_code == 415 and "multipart/form-data" in not_multipart.json()["message"]
    no_file_field = httpx.post(url, files={"upload": ("ok.txt", b"x", "text/plain")})
    assert (
        no_file_field.status_code == 400
        and "no file in a multipart field named 'file'" in no_file_field.json()["message"]
    )
    too_large = httpx.post(url, files={"file": ("ok.txt", b"x" * (UPLOAD_LIMIT + 1), "text/plain")})
    assert too_large.status_code == 413 and f"upload limit of {UPLOAD_LIMIT} bytes" in too_large.json()["message"]
    huge = httpx.post(url, files={"file": ("ok.txt", b"x" * (UPLOAD_LIMIT * 100), "text/plain")})
    assert huge.status_code == 413
    # the plugin's own upload over the limit: its SDK reports the status and our message
    message = failure(platform, "upload", filename="big.txt", text="y" * (UPLOAD_LIMIT + 10))
    assert "upload file failed, status code: 413" in message and "--max-upload-bytes" in message
    assert stored_files(mock) == after_ok  # nothing was stored, not even half-way
    assert call(platform, "upload", filename="after.txt", text="still works")["file"]["size"] == 11


def test_the_file_route_serves_only_stored_files_with_a_valid_signature(platform):
    mock, _ = platform
    record = call(platform, "upload", filename="secret.txt", text="top")["file"]
    url = record["preview_url"]
    assert httpx.get(url).text == "top"
    file_id = record["id"]
    unsigned = httpx.get(f"{mock.url}/files/tools/{file_id}.txt")
    assert unsigned.status_code == 403
    forged = httpx.get(url.replace("sign=", "sign=AAAA"))
    assert forged.status_code == 403
    query = url.split("?", 1)[1]
    for attempt in (
        f"/files/tools/..%2F..%2Fstorage.sqlite3?{query}",
        f"/files/tools/%2e%2e%2f{file_id}.json?{query}",
        f"/files/tools/{file_id}.json/../../storage.sqlite3?{query}",
        f"/files/tools/..?{query}",
        f"/files/tools/{file_id}.json?{query}",  # the file's record sits beside it: never served
        f"/files/tools/{file_id[:-1]}x.txt?{query}",
    ):
        response = httpx.get(mock.url + attempt)
        assert response.status_code in (403, 404), (attempt, response.status_code)
        assert b"SQLite" not in response.content and b"tenant_id" not in response.content
    # another stored file's id with this file's signature: refused
    other = call(platform, "upload", filename="other.txt", text="other")["file"]
    assert httpx.get(f"{mock.url}/files/tools/{other['id']}.txt?{query}").status_code == 403
    assert httpx.get(url).text == "top"  # the server is unharmed


# --- permissions and strict mode --------------------------------------------------------------------------


def test_a_plugin_without_app_or_node_permission_is_refused_but_may_upload(tmp_path, sdk_python):
    denied = tmp_path / "platform_caller_denied"
    shutil.copytree(PLUGIN, denied)
    manifest = yaml.safe_load((denied / "manifest.yaml").read_text())
    manifest["name"] = "platform_caller_denied"
    del manifest["resource"]["permission"]["app"]
    manifest["resource"]["permission"]["node"] = {"enabled": False}
    (denied / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    with MockServer(tmp_path / "dify-mock") as mock:
        plugin = mock.start_plugin(denied, python=sdk_python)
        restricted = (mock, plugin)
        expected = "permission denied, you need to enable app access in plugin manifest"
        assert expected in failure(restricted, "app", kind="chat", app_id="a", query="hi")
        assert expected in failure(restricted, "fetch_app", app_id="a")
        node = "permission denied, you need to enable node access in plugin manifest"
        classes = json.dumps([{"id": "1", "name": "x"}])
        assert node in failure(restricted, "classify", classes=classes, query="hi")
        assert node in failure(restricted, "extract", parameters="[]", query="hi")
        assert call(restricted, "upload", filename="a.txt", text="allowed")["file"]["size"] == 7
        refused = mock.journal(kind="reverse", type="app")[-1]
        assert refused["answered_by"] == "permissions" and refused["error"] == expected


@pytest.mark.mock_server(strict=True)
def test_in_strict_mode_app_and_node_calls_need_a_rule(mock_server, platform_caller):
    with pytest.raises(PluginError) as raised:
        mock_server.invoke_tool(platform_caller.plugin_id, PROVIDER, "app", {"kind": "workflow", "app_id": "w"})
    assert "invoke app failed: request failed with status code: 400" in raised.value.message
    assert "no fixture rule answers this call (--strict)" in raised.value.message
    with pytest.raises(PluginError) as raised:
        mock_server.invoke_tool(
            platform_caller.plugin_id,
            PROVIDER,
            "classify",
            {"classes": json.dumps([{"id": "1", "name": "x"}]), "query": "hi"},
        )
    assert "no fixture rules for node_question_classifier" in raised.value.message
    # uploads are no answer to script: strict mode leaves them alone
    chunks = mock_server.invoke_tool(platform_caller.plugin_id, PROVIDER, "upload", {"filename": "a.txt", "text": "ok"})
    assert chunks[0]["message"]["json_object"]["file"]["size"] == 2
