"""What the conformance suite against the real daemon (tests/conformance) found, each difference closed and held
here without the daemon: the same request to dify-mock gets the daemon's answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dify_mock.testing import MockServer

TENANT = "7f3c2a10-5d4e-4b8a-9c1f-0a1b2c3d4e5f"
PLUGINS = Path(__file__).parent / "plugins"
PROBE, CALLER = "dify-mock-tests/conformance_probe", "dify-mock-tests/model_caller"
EXAMPLES = Path(__file__).parent.parent / "fixtures" / "examples.yaml"
TOOL_INVOKE = "/plugin/" + TENANT + "/dispatch/tool/invoke"
TOOL_STRUCT = "InvokePluginRequest[github.com/langgenius/dify-plugin-daemon/pkg/entities/requests.RequestInvokeTool]"


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    with MockServer(tmp_path_factory.mktemp("parity") / "dify-mock") as server:
        yield server
    print(f"--- end of the dify-mock log ---\n{server.log()[-6000:]}")


def inner_api(mock: MockServer, route: str, invoke_type: str, **fields: object) -> dict[str, object]:
    body = {"tenant_id": TENANT, "user_id": "u", "type": invoke_type, **fields}
    response = mock.http.post(f"/inner/api/{route}", json=body, headers={"X-Inner-Api-Key": "k"})
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_a_multimodal_rerank_without_top_n_ranks_every_document(mock):
    # The daemon decodes the plugin's request into a Go struct and forwards a missing top_n and score_threshold as
    # their zero values: 0 is "no limit" there, as None is.
    docs = [{"content": "small", "content_type": "text"}, {"content": "big one", "content_type": "text"}]
    query = {"content": "big", "content_type": "text"}
    answer = inner_api(
        mock,
        "invoke/multimodal-rerank",
        "multimodal_rerank",
        provider="cohere",
        model="rerank-v3",
        query=query,
        docs=docs,
        top_n=0,
        score_threshold=0,
    )
    assert answer["error"] == ""
    assert [doc["index"] for doc in answer["data"]["docs"]] == [1, 0]  # type: ignore[index]
    limited = inner_api(
        mock, "invoke/rerank", "rerank", provider="cohere", model="rerank-v3", query="big", docs=["a", "big"], top_n=1
    )
    assert [doc["index"] for doc in limited["data"]["docs"]] == [1]  # type: ignore[index]


def test_a_plugin_started_by_dify_mock_run_answers_the_tenant_dify_dispatches_for(tmp_path, sdk_python):
    # Dify dispatches for its workspace's id; an installed plugin answers it. Without --key, `dify-mock run` has no
    # tenant of its own to ask for, so its plugins answer any.
    plugin = Path(__file__).parent / "plugins" / "model_caller"
    with MockServer(tmp_path / "dify-mock", run_plugin=plugin, plugin_python=sdk_python) as server:
        assert server.wait_for_plugin("dify-mock-tests/model_caller", timeout=120, tenant=TENANT)
        chunks = server.dispatch(
            "tool/invoke",
            "dify-mock-tests/model_caller",
            {"provider": "model_caller", "tool": "summary", "credentials": {}, "tool_parameters": {"text": "a b c"}},
            tenant=TENANT,
        )
        assert chunks and chunks[0]["type"] == "json"
        assert server.journal(kind="dispatch")[-1]["tenant_id"] == TENANT


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Iterator[MockServer]:
    """`dify-mock run` with the probe and model_caller, as tests/conformance runs them (a short invoke timeout)."""
    server = MockServer(
        tmp_path_factory.mktemp("parity-run") / "dify-mock",
        fixtures=[EXAMPLES],
        run_plugin=[PLUGINS / "conformance_probe", PLUGINS / "model_caller"],
        plugin_python=sdk_python,
        extra_args=["--invoke-timeout", "15"],
    )
    with server:
        for plugin in (PROBE, CALLER):
            assert server.wait_for_plugin(plugin, timeout=120, tenant=TENANT)
        yield server
    print(f"--- end of the dify-mock log ---\n{server.log()[-6000:]}")


def post(server: MockServer, path: str, body: bytes, **headers: str) -> tuple[int, str, bytes]:
    sent = {"X-Plugin-ID": CALLER, "Content-Type": "application/json", **headers}
    response = server.http.post(path, content=body, headers={k: v for k, v in sent.items() if v})
    return response.status_code, response.headers["content-type"], response.content


def envelope_message(body: bytes) -> str:
    message: str = json.loads(json.loads(body)["message"])["message"]
    return message


def tool_events(server: MockServer, plugin: str, tool: str, parameters: dict[str, object]) -> list[dict[str, object]]:
    data = {"provider": plugin.rpartition("/")[2], "tool": tool, "credentials": {}, "tool_parameters": parameters}
    status, content_type, body = post(
        server, TOOL_INVOKE, json.dumps({"user_id": "u", "data": data}).encode(), **{"X-Plugin-ID": plugin}
    )
    assert status == 200 and content_type == "text/event-stream", body[:300]  # no charset, as the daemon sends it
    return [json.loads(line[6:]) for line in body.decode().split("\n\n") if line.startswith("data: ")]


def reverse_seen(server: MockServer, invoke_type: str, request: dict[str, object]) -> dict[str, object]:
    """What the probe plugin saw of a reverse call it sent as it is."""
    events = tool_events(server, PROBE, "reverse", {"invoke_type": invoke_type, "request": json.dumps(request)})
    seen: dict[str, object] = events[0]["data"]["message"]["json_object"]  # type: ignore[index]
    return seen


def test_an_unknown_route_gets_gins_not_found_before_any_key_or_plugin_is_looked_at(run):
    status, content_type, body = post(run, f"/plugin/{TENANT}/dispatch/tool/nope", b"{}", **{"X-Plugin-ID": ""})
    assert (status, content_type) == (404, "application/json; charset=utf-8")
    answer = json.loads(body)
    assert answer["code"] == "not_found" and answer["message"].startswith("route not found; ")


def test_a_missing_plugin_id_and_an_unknown_plugin_in_the_daemons_words_then_ours(run):
    status, content_type, body = post(run, TOOL_INVOKE, b"{}", **{"X-Plugin-ID": ""})
    assert (status, content_type) == (400, "application/json; charset=utf-8")
    assert envelope_message(body).startswith("plugin_id is required; ")
    status, _, body = post(run, TOOL_INVOKE, b"{}", **{"X-Plugin-ID": "someone/else"})
    assert status == 404 and json.loads(json.loads(body)["message"])["error_type"] == "PluginNotFoundError"
    assert envelope_message(body).startswith("plugin not found; plugin someone/else is not connected")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"user_id": "u"}', "application/json"),
        (b'{"data": [1]}', "application/json"),
        (b'{"data": {"provider": "model_caller", "tool": "llm"}}', "application/x-www-form-urlencoded"),
    ],
    ids=["not-json", "no-data", "data-not-an-object", "form-content-type"],
)
def test_a_body_the_daemon_cannot_bind_is_refused_with_its_validation_lines(run, body, content_type):
    status, answered_type, answer = post(run, TOOL_INVOKE, body, **{"Content-Type": content_type})
    assert (status, answered_type) == (400, "application/json; charset=utf-8")
    assert envelope_message(answer) == (
        f"Key: '{TOOL_STRUCT}.Data.InvokeToolSchema.Provider' Error:Field validation for 'Provider' failed on the "
        f"'required' tag\nKey: '{TOOL_STRUCT}.Data.InvokeToolSchema.Tool' Error:Field validation for 'Tool' failed "
        "on the 'required' tag"
    )


def test_data_without_credentials_reaches_the_plugin_as_null_and_the_sdk_refuses_it(run):
    data = {"provider": "model_caller", "tool": "summary", "tool_parameters": {"text": "a b"}}
    status, _, body = post(run, TOOL_INVOKE, json.dumps({"user_id": "u", "data": data}).encode())
    assert status == 200
    error = json.loads(json.loads(json.loads(body.decode()[6:])["message"])["message"])
    assert error["error_type"] == "ValidationError" and "credentials" in error["message"]


def test_a_tool_message_of_an_unknown_type_ends_the_stream_with_unmarshal_error(run):
    message = {"type": "mystery", "message": {"text": "?"}, "meta": None}
    events = tool_events(run, PROBE, "chunk", {"message": json.dumps(message)})
    assert [event["code"] for event in events] == [0, -500]  # "before", then the error: "after" never comes
    outer = json.loads(events[1]["message"])  # type: ignore[arg-type]
    assert outer["error_type"] == "PluginInvokeError"
    assert json.loads(outer["message"]) == {
        "error_type": "unmarshal_error",
        "message": "unmarshal json failed: Key: 'ToolResponseChunk.Type' Error:Field validation for 'Type' failed "
        "on the 'is_valid_tool_response_chunk_type' tag",
    }


def test_a_tool_message_without_its_message_passes_with_message_null(run):
    events = tool_events(run, PROBE, "chunk", {"message": json.dumps({"type": "text", "meta": None})})
    assert events[1]["data"] == {"type": "text", "message": None, "meta": None}


def test_a_reverse_request_missing_a_field_is_refused_in_the_daemons_words(run):
    seen = reverse_seen(run, "moderation", {"provider": "openai", "model": "omni-moderation-latest"})
    assert seen == {
        "answers": [],
        "error": "unmarshal backwards invoke request failed: error validating struct: Key: "
        "'InvokeModerationRequest.InvokeModerationSchema.Text' Error:Field validation for 'Text' failed on the "
        "'required' tag",
    }


def test_a_failed_reverse_llm_call_reads_as_the_daemon_relays_difys_400(run):
    request = {
        "provider": "anthropic",
        "model": "claude",
        "mode": "chat",
        "completion_params": {},
        "prompt_messages": [{"role": "user", "content": "outage"}],
        "stream": False,
    }
    seen = reverse_seen(run, "llm", request)
    assert seen["error"] == (
        "invoke llm model failed: request failed with status code: 400 and respond with: "
        '{"code":"invalid_param","message":"upstream provider is unavailable","status":400}'
    )
    assert run.journal(kind="reverse", type="llm")[-1]["error"] == "upstream provider is unavailable"


def test_relayed_llm_answers_carry_the_daemons_empty_strings(run):
    request = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "mode": "chat",
        "completion_params": {},
        "prompt_messages": [{"role": "user", "content": "hi"}],
        "stream": False,
    }
    answer = reverse_seen(run, "llm", request)["answers"][0]  # type: ignore[index]
    assert answer["system_fingerprint"] == "" and answer["delta"]["message"]["name"] == ""
    assert answer["delta"]["message"]["tool_call_id"] == ""


def test_a_stdout_line_over_the_daemons_limit_ends_the_plugins_instance(run):
    # As the daemon's reader, ours stops at a line over 5 MB and the plugin is started again; the call ends at once
    # with the reason, where the daemon's waits out its timeout (tests/conformance/allowed.py says why).
    assert tool_events(run, PROBE, "big", {"size": 4 * 1024 * 1024})[0]["code"] == 0  # under the limit: it arrives
    events = tool_events(run, PROBE, "big", {"size": 6 * 1024 * 1024})
    assert len(events) == 1 and events[0]["code"] == -500
    assert "over the limit of 5242880 bytes" in str(events[0]["message"])
    run.wait_for_plugin(PROBE, present=False, timeout=60, tenant=TENANT)  # gone, or already back
    assert run.wait_for_plugin(PROBE, timeout=120, tenant=TENANT)
    assert tool_events(run, PROBE, "big", {"size": 1000})[0]["code"] == 0


def test_a_plugin_that_never_answers_is_killed_by_timeout_in_the_daemons_words(run):
    events = tool_events(run, PROBE, "hang", {})
    assert [event["code"] for event in events] == [0, -500]
    error = json.loads(events[1]["message"])  # type: ignore[arg-type]
    assert error["error_type"] == "PluginDaemonInternalServerError"
    assert error["message"].startswith("killed by timeout; ")


def test_deleting_a_key_never_set_fails_as_the_daemons_storage_does(run):
    seen = reverse_seen(run, "storage", {"opt": "del", "key": "never-set"})
    assert seen["answers"] == [] and str(seen["error"]).startswith("delete data failed: stat persistence/")
    assert str(seen["error"]).endswith("/dify-mock-tests/conformance_probe/never-set: no such file or directory")
