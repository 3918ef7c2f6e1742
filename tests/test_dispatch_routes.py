"""Every dispatch route of the daemon, driven through `/plugin/{tenant}/dispatch/...` into real SDK plugins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dify_mock.protocol.raw_http import build_request
from dify_mock.testing import MockServer, PluginError

TEST_PLUGINS = Path(__file__).resolve().parent / "plugins"
MODELS = "dify-mock-tests/model_provider"
DATASOURCES = "dify-mock-tests/datasource_plugin"
TRIGGERS = "dify-mock-tests/trigger_plugin"
# Every route of the daemon's dispatch group (protocol.md 7.1); each is exercised below, agent_strategy/invoke
# in test_reverse_tool.py with the simple_agent plugin.
ROUTES = {
    "tool/invoke",
    "tool/validate_credentials",
    "tool/get_runtime_parameters",
    "agent_strategy/invoke",
    "llm/invoke",
    "llm/num_tokens",
    "text_embedding/invoke",
    "text_embedding/num_tokens",
    "multimodal_embedding/invoke",
    "rerank/invoke",
    "multimodal_rerank/invoke",
    "tts/invoke",
    "tts/model/voices",
    "speech2text/invoke",
    "moderation/invoke",
    "model/validate_provider_credentials",
    "model/validate_model_credentials",
    "model/schema",
    "model/polling/start",
    "model/polling/check",
    "oauth/get_authorization_url",
    "oauth/get_credentials",
    "oauth/refresh_credentials",
    "dynamic_select/fetch_parameter_options",
    "datasource/validate_credentials",
    "datasource/get_website_crawl",
    "datasource/get_online_document_pages",
    "datasource/get_online_document_page_content",
    "datasource/online_drive_browse_files",
    "datasource/online_drive_download_file",
    "trigger/invoke_event",
    "trigger/validate_credentials",
    "trigger/dispatch_event",
    "trigger/subscribe",
    "trigger/unsubscribe",
    "trigger/refresh",
}
LLM = {"provider": "fake", "model_type": "llm", "model": "fake-llm", "credentials": {"api_key": "k"}}
PROMPT = [{"role": "user", "content": "hello big world"}]
SUBSCRIPTION = {
    "expires_at": 1000,
    "endpoint": "http://127.0.0.1:5002/triggers/sub-1",
    "parameters": {"repository": "me/repo"},
    "properties": {"webhook_secret": "s3cret", "external_id": "hook-1"},
}


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Iterator[MockServer]:
    server = MockServer(tmp_path_factory.mktemp("dispatch") / "dify-mock")
    server.start()
    try:
        for name in ("model_provider", "datasource_plugin", "trigger_plugin"):
            server.start_plugin(TEST_PLUGINS / name, python=sdk_python)
        yield server
    finally:
        server.stop()
        print(f"--- end of the dify-mock log ---\n{server.log()[-6000:]}")


def test_the_mock_serves_every_route_of_the_daemon():
    from dify_mock.http.dispatch import DISPATCH_ROUTES

    assert set(DISPATCH_ROUTES) == ROUTES


def test_llm_streams_calls_tools_counts_tokens(mock):
    chunks = mock.dispatch(
        "llm/invoke",
        MODELS,
        {**LLM, "prompt_messages": PROMPT, "model_parameters": {"temperature": 0.1}, "stream": True},
    )
    assert "".join(chunk["delta"]["message"]["content"] for chunk in chunks) == "echo: hello big world"
    assert len(chunks) == 4 and chunks[-1]["delta"]["finish_reason"] == "stop"
    assert chunks[-1]["delta"]["usage"]["prompt_tokens"] == 3 and chunks[0]["delta"]["usage"] is None

    whole = mock.dispatch("llm/invoke", MODELS, {**LLM, "prompt_messages": PROMPT, "stream": False})
    assert len(whole) == 1 and whole[0]["delta"]["message"]["content"] == "echo: hello big world"

    tool = {"name": "search", "description": "find", "parameters": {"type": "object", "properties": {}}}
    called = mock.dispatch("llm/invoke", MODELS, {**LLM, "prompt_messages": PROMPT, "tools": [tool]})
    call = called[0]["delta"]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "search", "arguments": json.dumps({"query": "hello big world"})}

    counted = mock.dispatch("llm/num_tokens", MODELS, {**LLM, "prompt_messages": PROMPT, "tools": [tool]})
    assert counted == [{"num_tokens": 4}]

    with pytest.raises(PluginError) as failure:
        mock.dispatch("llm/invoke", MODELS, {**LLM, "prompt_messages": [{"role": "user", "content": "raise"}]})
    assert failure.value.error_type == "InvokeError" and "asked to fail" in failure.value.message


def test_llm_polling_answers_plain_json(mock):
    started = mock.dispatch("model/polling/start", MODELS, {**LLM, "prompt_messages": PROMPT, "stream": False})
    assert started[0]["status"] == "running" and started[0]["next_check_after_seconds"] == 1
    state = started[0]["plugin_state"]
    assert state == {"prompt": "hello big world", "checks": 0}

    running = mock.dispatch("model/polling/check", MODELS, {**LLM, "plugin_state": state})
    assert running[0]["status"] == "running"
    done = mock.dispatch("model/polling/check", MODELS, {**LLM, "plugin_state": running[0]["plugin_state"]})
    assert done[0]["status"] == "succeeded"
    assert done[0]["result"]["message"]["content"] == "polled: hello big world"

    raw = mock.http.post(
        "/plugin/default/dispatch/model/polling/check",
        json={"user_id": "u", "data": {**LLM, "plugin_state": {}}},
        headers={"X-Plugin-ID": MODELS},
    )
    assert raw.status_code == 500 and raw.headers["content-type"] == "application/json; charset=utf-8"
    assert "ValidationError" in raw.json()["message"]  # plugin_state must not be empty


def test_embeddings_rerank_and_their_multimodal_forms(mock):
    embed = {"provider": "fake", "model_type": "text-embedding", "model": "fake-embed", "credentials": {}}
    vectors = mock.dispatch("text_embedding/invoke", MODELS, {**embed, "texts": ["a b", "c"], "input_type": "query"})
    assert vectors[0]["embeddings"] == [[3.0, 2.0, 1.0], [1.0, 1.0, 1.0]] and vectors[0]["usage"]["tokens"] == 3
    assert mock.dispatch("text_embedding/num_tokens", MODELS, {**embed, "texts": ["a b", "c"]}) == [
        {"num_tokens": [2, 1]}
    ]
    documents = [{"content": "hi", "content_type": "text"}, {"content": "aGk=", "content_type": "image"}]
    multimodal = mock.dispatch(
        "multimodal_embedding/invoke", MODELS, {**embed, "documents": documents, "input_type": "document"}
    )
    assert multimodal[0]["embeddings"] == [[2.0, 0.0], [4.0, 1.0]]

    rerank = {"provider": "fake", "model_type": "rerank", "model": "fake-rerank", "credentials": {}}
    ranked = mock.dispatch(
        "rerank/invoke",
        MODELS,
        {**rerank, "query": "big world", "docs": ["a world", "big world", "x"], "score_threshold": 0.4, "top_n": None},
    )
    assert [(doc["index"], doc["score"]) for doc in ranked[0]["docs"]] == [(1, 1.0), (0, 0.5)]
    query = {"content": "big", "content_type": "text"}
    docs = [{"content": "small", "content_type": "text"}, {"content": "big one", "content_type": "text"}]
    multimodal_ranked = mock.dispatch(
        "multimodal_rerank/invoke",
        MODELS,
        {**rerank, "query": query, "docs": docs, "score_threshold": None, "top_n": 1},
    )
    assert multimodal_ranked[0]["docs"] == [{"index": 1, "text": "big one", "score": 1.0}]


def test_audio_and_moderation_models(mock):
    tts = {"provider": "fake", "model_type": "tts", "model": "fake-tts", "credentials": {}}
    audio = mock.dispatch("tts/invoke", MODELS, {**tts, "content_text": "hi there", "voice": "nova", "tenant_id": "t"})
    assert [bytes.fromhex(chunk["result"]) for chunk in audio] == [b"ID3 voice=nova;", b"hi", b"there"]
    assert {chunk["mime_type"] for chunk in audio} == {"audio/mpeg"}
    voices = mock.dispatch("tts/model/voices", MODELS, {**tts, "language": "fr-FR"})
    assert voices == [{"voices": [{"name": "Nova", "value": "nova"}]}]

    heard = mock.dispatch(
        "speech2text/invoke",
        MODELS,
        {"provider": "fake", "model_type": "speech2text", "model": "fake-s2t", "file": b"RIFF\0\0\0\0WAVEdata".hex()},
    )
    assert heard == [{"result": "heard 16 bytes starting b'RIFF'"}]

    moderation = {"provider": "fake", "model_type": "moderation", "model": "fake-mod"}
    assert mock.dispatch("moderation/invoke", MODELS, {**moderation, "text": "a forbidden word"}) == [{"result": True}]
    assert mock.dispatch("moderation/invoke", MODELS, {**moderation, "text": "fine"}) == [{"result": False}]


def test_credentials_and_model_schema(mock):
    valid = mock.dispatch(
        "model/validate_provider_credentials", MODELS, {"provider": "fake", "credentials": {"api_key": "ok"}}
    )
    assert valid == [{"result": True, "credentials": {"api_key": "ok"}}]
    with pytest.raises(PluginError) as refused:
        mock.dispatch(
            "model/validate_provider_credentials", MODELS, {"provider": "fake", "credentials": {"api_key": "bad"}}
        )
    assert refused.value.error_type == "CredentialsValidateFailedError"
    with pytest.raises(PluginError) as refused_model:
        mock.dispatch("model/validate_model_credentials", MODELS, {**LLM, "credentials": {"api_key": "bad"}})
    assert "refused for fake-llm" in refused_model.value.message
    assert mock.dispatch("model/validate_model_credentials", MODELS, LLM)[0]["result"] is True

    schema = mock.dispatch("model/schema", MODELS, LLM)[0]["model_schema"]
    assert schema["model"] == "fake-llm" and schema["features"] == ["tool-call", "polling"]
    assert [rule["name"] for rule in schema["parameter_rules"]] == ["temperature", "max_tokens"]
    assert mock.dispatch("model/schema", MODELS, {**LLM, "model": "unknown"}) == [{"model_schema": None}]


def test_datasources_all_six_actions(mock):
    with pytest.raises(PluginError) as refused:
        mock.dispatch(
            "datasource/validate_credentials", DATASOURCES, {"provider": "crawler", "credentials": {"api_key": "bad"}}
        )
    assert refused.value.error_type == "ToolProviderCredentialValidationError"
    valid = mock.dispatch("datasource/validate_credentials", DATASOURCES, {"provider": "crawler", "credentials": {}})
    assert valid == [{"result": True}]

    crawl = mock.dispatch(
        "datasource/get_website_crawl",
        DATASOURCES,
        {"provider": "crawler", "datasource": "crawler", "datasource_parameters": {"url": "https://site.test"}},
    )
    assert [chunk["result"]["status"] for chunk in crawl] == ["processing", "completed"]
    assert [page["source_url"] for page in crawl[1]["result"]["web_info_list"]] == [
        "https://site.test/1",
        "https://site.test/2",
    ]

    pages = mock.dispatch(
        "datasource/get_online_document_pages", DATASOURCES, {"provider": "docs", "datasource": "docs"}
    )
    assert pages[0]["result"][0]["workspace_id"] == "w1" and pages[0]["result"][0]["pages"][0]["page_id"] == "p1"
    content = mock.dispatch(
        "datasource/get_online_document_page_content",
        DATASOURCES,
        {"provider": "docs", "datasource": "docs", "page": {"workspace_id": "w1", "page_id": "p1", "type": "page"}},
    )
    assert content[0] == {"type": "text", "message": {"text": "content of w1/p1 (page)"}, "meta": None}
    assert content[1]["message"] == {"variable_name": "page_id", "variable_value": "p1", "stream": False}

    listing = mock.dispatch(
        "datasource/online_drive_browse_files",
        DATASOURCES,
        {"provider": "drive", "datasource": "drive", "request": {"bucket": "b", "prefix": "d/", "max_keys": 5}},
    )
    bucket = listing[0]["result"][0]
    assert (
        bucket["bucket"] == "b"
        and [f["id"] for f in bucket["files"]] == ["d/file1", "d/file2"]
        and bucket["is_truncated"]
    )
    download = mock.dispatch(
        "datasource/online_drive_download_file",
        DATASOURCES,
        {"provider": "drive", "datasource": "drive", "request": {"id": "d/file1"}},
    )
    assert download[0]["type"] == "blob" and download[0]["meta"]["mime_type"] == "text/plain"


def test_triggers_all_six_actions(mock):
    with pytest.raises(PluginError) as refused:
        mock.dispatch(
            "trigger/validate_credentials", TRIGGERS, {"provider": "repo_events", "credentials": {"api_key": "bad"}}
        )
    assert "the api_key 'bad' is refused" in refused.value.message
    assert mock.dispatch(
        "trigger/validate_credentials", TRIGGERS, {"provider": "repo_events", "credentials": {"api_key": "k"}}
    ) == [{"result": True}]

    body = json.dumps({"title": "Crash", "labels": ["bug"], "sender": "ann"}).encode()
    webhook = build_request(
        "POST", "/triggers/sub-1", [("Content-Type", "application/json"), ("X-Signature", "s3cret")], body, "127.0.0.1"
    ).hex()
    dispatched = mock.dispatch(
        "trigger/dispatch_event",
        TRIGGERS,
        {
            "provider": "repo_events",
            "subscription": SUBSCRIPTION,
            "raw_http_request": webhook,
            "credentials": None,
            "credential_type": None,
        },
    )[0]
    assert dispatched["user_id"] == "ann" and dispatched["events"] == ["issue_opened"]
    assert dispatched["payload"]["title"] == "Crash"
    response = bytes.fromhex(dispatched["response"])
    assert response.startswith(b"HTTP/1.1 202 ") and response.endswith(b'{"accepted": "issue_opened"}')
    unsigned = build_request("POST", "/triggers/sub-1", [], body, "127.0.0.1").hex()
    with pytest.raises(PluginError) as rejected:
        mock.dispatch(
            "trigger/dispatch_event",
            TRIGGERS,
            {"provider": "repo_events", "subscription": SUBSCRIPTION, "raw_http_request": unsigned},
        )
    assert rejected.value.error_type == "TriggerValidationError"

    event = {
        "provider": "repo_events",
        "event": "issue_opened",
        "subscription": SUBSCRIPTION,
        "raw_http_request": webhook,
    }
    invoked = mock.dispatch("trigger/invoke_event", TRIGGERS, {**event, "parameters": {"label": "bug"}, "payload": {}})
    assert invoked == [
        {"variables": {"title": "Crash", "method": "POST", "path": "/triggers/sub-1"}, "cancelled": False}
    ]
    ignored = mock.dispatch("trigger/invoke_event", TRIGGERS, {**event, "parameters": {"label": "feature"}})
    assert ignored == [{"variables": {}, "cancelled": True}]

    constructor = {"provider": "repo_events", "credentials": {"api_key": "k"}, "credential_type": "api-key"}
    created = mock.dispatch(
        "trigger/subscribe",
        TRIGGERS,
        {**constructor, "endpoint": "http://127.0.0.1/t/1", "parameters": {"repository": "me/repo"}},
    )[0]["subscription"]
    assert created["endpoint"] == "http://127.0.0.1/t/1" and created["properties"]["external_id"] == "hook-for-me/repo"
    removed = mock.dispatch("trigger/unsubscribe", TRIGGERS, {**constructor, "subscription": SUBSCRIPTION})
    assert removed == [{"subscription": {"success": True, "message": "deleted hook-1"}}]
    refreshed = mock.dispatch("trigger/refresh", TRIGGERS, {**constructor, "subscription": SUBSCRIPTION})
    assert refreshed[0]["subscription"]["expires_at"] == 4600


def test_oauth_for_tools_triggers_and_datasources(mock):
    system = {"redirect_uri": "http://127.0.0.1:5002/oauth/callback", "system_credentials": {"client_id": "cid"}}
    url = mock.dispatch("oauth/get_authorization_url", TRIGGERS, {"provider": "oauth_tool", **system})
    assert url == [
        {
            "authorization_url": "https://auth.example/authorize?client_id=cid&redirect_uri=http://127.0.0.1:5002/oauth/callback&state=xyz"
        }
    ]
    callback = build_request("GET", "/oauth/callback?code=abc&state=xyz", [], b"", "127.0.0.1:5002").hex()
    credentials = mock.dispatch(
        "oauth/get_credentials", TRIGGERS, {"provider": "oauth_tool", **system, "raw_http_request": callback}
    )
    assert credentials == [{"metadata": {}, "credentials": {"access_token": "token-abc"}, "expires_at": 4102444800}]
    refreshed = mock.dispatch(
        "oauth/refresh_credentials",
        TRIGGERS,
        {"provider": "oauth_tool", **system, "credentials": {"access_token": "t"}},
    )
    assert refreshed == [{"credentials": {"access_token": "t-refreshed"}, "expires_at": 4102444801}]

    trigger_url = mock.dispatch("oauth/get_authorization_url", TRIGGERS, {"provider": "repo_events", **system})
    assert trigger_url[0]["authorization_url"].startswith("https://code.example/oauth?client_id=cid")
    datasource = mock.dispatch(
        "oauth/get_credentials", DATASOURCES, {"provider": "docs", **system, "raw_http_request": callback}
    )
    assert datasource[0]["metadata"] == {"avatar_url": "https://docs.example/a.png", "name": "Docs user"}
    assert datasource[0]["credentials"] == {"access_token": "token-for-abc"}

    with pytest.raises(PluginError) as unsupported:
        mock.dispatch("oauth/get_authorization_url", DATASOURCES, {"provider": "crawler", **system})
    assert "does not support OAuth" in unsupported.value.message


def test_dynamic_select_for_a_subscription_an_event_and_a_tool(mock):
    def options(data: dict[str, Any]) -> list[str]:
        answer = mock.dispatch("dynamic_select/fetch_parameter_options", TRIGGERS, data)
        return [option["value"] for option in answer[0]["options"]]

    provider = {"provider": "repo_events", "provider_action": "provider", "parameter": "repository"}
    assert options({**provider, "credentials": {"api_key": "me"}, "credential_type": "api-key"}) == [
        "me/alpha",
        "me/beta",
    ]
    assert options({"provider": "repo_events", "provider_action": "issue_opened", "parameter": "label"}) == [
        "bug",
        "feature",
    ]
    tool = {"provider": "oauth_tool", "provider_action": "pick", "parameter": "channel"}
    assert options({**tool, "credentials": {"access_token": "T"}, "credential_type": "oauth2"}) == [
        "#general",
        "#random",
    ]


def test_tools_with_oauth_credentials_and_unrouted_runtime_parameters(mock):
    picked = mock.invoke_tool(
        TRIGGERS, "oauth_tool", "pick", {"channel": "#general"}, {"access_token": "T"}, credential_type="oauth2"
    )
    assert picked == [{"type": "text", "message": {"text": "picked #general with oauth2 (T)"}, "meta": None}]
    assert mock.validate_tool_credentials(TRIGGERS, "oauth_tool", {"api_key": "x"}) == [{"result": True}]
    # SDK 0.10.2 registers no route for get_tool_runtime_parameters: the plugin sends only `end`, an empty stream.
    assert mock.dispatch("tool/get_runtime_parameters", TRIGGERS, {"provider": "oauth_tool", "tool": "pick"}) == []
    entry = mock.journal(kind="dispatch", type="get_tool_runtime_parameters")[-1]
    assert entry["response"] == [] and entry["error"] is None
