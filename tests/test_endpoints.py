"""Plugin endpoints end to end: real HTTP to `/e/{hook_id}/...`, a real SDK plugin behind it, hooks managed as
the Dify API manages them (`/plugin/{tenant}/endpoint/...`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dify_mock.testing import MockServer, PluginProcess

TEST_PLUGINS = Path(__file__).resolve().parent / "plugins"
PLUGIN_ID = "dify-mock-tests/endpoint_plugin"


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Iterator[MockServer]:
    """One mock with the endpoint plugin for the tests that only add hooks of their own."""
    server = MockServer(tmp_path_factory.mktemp("endpoints") / "dify-mock")
    server.start()
    try:
        server.start_plugin(TEST_PLUGINS / "endpoint_plugin", python=sdk_python)
        yield server
    finally:
        server.stop()
        print(f"--- end of the dify-mock log ---\n{server.log()[-6000:]}")


def management(mock: MockServer, action: str, body: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    if body is None:
        response = mock.http.get(f"/plugin/default/endpoint/{action}", params=params, headers=mock._headers())
    else:
        response = mock.http.post(f"/plugin/default/endpoint/{action}", json=body, headers=mock._headers())
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def setup_hook(mock: MockServer, name: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = management(
        mock,
        "setup",
        {"plugin_unique_identifier": PLUGIN_ID, "name": name, "settings": settings or {}, "user_id": "u1"},
    )
    assert answer == {"code": 0, "message": "success", "data": True}
    entries = management(mock, "list/plugin", plugin_id=PLUGIN_ID, page=1, page_size=100)["data"]
    entry: dict[str, Any] = next(entry for entry in reversed(entries) if entry["name"] == name)
    return entry


def inner_message(answer: dict[str, Any]) -> str:
    message: str = json.loads(answer["message"])["message"]
    return message


def test_get_and_post_reach_the_plugin_as_the_daemon_rewrites_them(mock):
    hook = setup_hook(mock, "echo", {"greeting": "hello", "api_key": "sk-secret-value", "mode": "loud"})
    url = f"/e/{hook['hook_id']}"

    got = mock.http.get(f"{url}/echo/a/b?b=2&a=1&a=3", headers={"X-Test": "round-trip", "User-Agent": "probe/1"})
    assert got.status_code == 200 and got.headers["x-echo"] == "yes"
    seen = got.json()
    assert seen["method"] == "GET" and seen["path"] == "/echo/a/b" and seen["values"] == {"rest": "a/b"}
    assert seen["query"] == {"a": ["1", "3"], "b": ["2"]}
    assert seen["headers"]["X-Test"] == "round-trip" and seen["headers"]["User-Agent"] == "probe/1"
    assert seen["headers"]["Dify-Hook-Id"] == hook["hook_id"]
    assert seen["headers"]["Dify-Hook-Url"] == f"http://127.0.0.1:{mock.port}/e/{hook['hook_id']}/echo/a/b"
    assert "Content-Length" not in seen["headers"] and seen["body"] == ""
    # The plugin gets the settings as they were set, secrets included; the session knows its endpoint.
    assert seen["settings"] == {"greeting": "hello", "api_key": "sk-secret-value", "mode": "loud"}
    assert seen["endpoint_id"] == hook["id"]

    posted = mock.http.post(
        f"{url}/echo/x", content=b'{"n": 1}', headers={"Content-Type": "application/json", "X-Forwarded-For": "1.2.3.4"}
    )
    seen = posted.json()
    assert seen["method"] == "POST" and seen["body"] == '{"n": 1}'
    assert seen["headers"]["Content-Length"] == "8" and seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["User-Agent"].startswith("python-httpx")
    assert "X-Forwarded-For" not in seen["headers"]  # the daemon removes the caller's traces

    for method in ("PUT", "DELETE", "OPTIONS"):
        assert mock.http.request(method, f"{url}/echo/m").json()["method"] == method
    head = mock.http.head(f"{url}/echo/h")
    assert head.status_code == 200 and head.content == b"" and head.headers["x-echo"] == "yes"

    # Go writes an empty POST body as a chunked body holding only its terminator; the plugin sees exactly that.
    empty = mock.http.post(f"{url}/echo/empty").json()
    assert empty["body"] == "0\r\n\r\n" and empty["headers"]["Content-Length"] == "5"

    # The journal shows the request readable, with the secret setting masked.
    entry = mock.journal(kind="dispatch", type="invoke_endpoint")[-1]
    assert entry["request"]["method"] == "POST" and entry["request"]["path"] == "/echo/empty"
    assert entry["request"]["settings"]["api_key"] != "sk-secret-value"
    assert "sk-secret-value" not in json.dumps(entry["request"])


def test_status_and_headers_come_from_the_plugin(mock):
    hook = setup_hook(mock, "status")
    answer = mock.http.post(f"/e/{hook['hook_id']}/status/201")
    assert answer.status_code == 201 and answer.text == "status 201"
    assert answer.headers["x-probe"] == "yes" and answer.headers["set-cookie"] == "a=1"
    unrouted = mock.http.get(f"/e/{hook['hook_id']}/nowhere")
    assert unrouted.status_code == 404 and "Failed to dispatch endpoint request" in unrouted.text


def test_a_streamed_answer_is_passed_on_as_it_comes(mock, tmp_path):
    hook = setup_hook(mock, "stream")
    gate = tmp_path / "gate"
    with mock.http.stream("GET", f"/e/{hook['hook_id']}/stream", params={"gate": str(gate)}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        received = b""
        pieces = response.iter_bytes()
        while b"two" not in received:
            received += next(pieces)  # the plugin holds back "three" until the gate exists
        assert b"three" not in received
        gate.write_text("open")
        for piece in pieces:
            received += piece
    assert received == b"data: one\n\ndata: two\n\ndata: three\n\n"


def test_plugin_failures_are_reported_the_way_the_daemon_reports_them(mock):
    hook = setup_hook(mock, "failures")
    url = f"/e/{hook['hook_id']}"

    # An exception in the endpoint: the SDK answers a 500 of its own.
    failed = mock.http.get(f"{url}/fail")
    assert failed.status_code == 500 and failed.text == "Internal Server Error: asked to fail"

    # A stream that breaks after it began: the error text ends the body.
    broken = mock.http.get(f"{url}/broken")
    assert broken.status_code == 200 and broken.text.startswith("partial;")
    assert "the stream broke" in broken.text

    # A header name with '_': the SDK cannot parse the request; the mock says why, as JSON with 500.
    bad = mock.http.get(f"{url}/echo/x", headers={"X-My_Header": "v"})
    assert bad.status_code == 500
    error = bad.json()
    assert error["code"] == -500 and error["data"] is None
    outer = json.loads(error["message"])
    assert outer["error_type"] == "PluginDaemonInternalServerError"
    plugin_error = json.loads(outer["message"])
    assert plugin_error["error_type"] == "ValueError" and "Invalid HTTP header" in plugin_error["message"]
    assert "X-My_Header".lower() in plugin_error["message"].lower() and "'_'" in plugin_error["message"]

    # Nothing else was disturbed: the same plugin answers the next request.
    assert mock.http.get(f"{url}/echo/after").json()["path"] == "/echo/after"


def test_unrouted_methods_unknown_and_disabled_hooks_are_not_found(mock):
    hook = setup_hook(mock, "toggled")
    url = f"/e/{hook['hook_id']}/echo/x"
    patched = mock.http.patch(url)
    assert patched.status_code == 404 and "PATCH" in patched.text

    unknown = mock.http.get("/e/no-such-hook/echo/x")
    assert unknown.status_code == 404 and "no hook 'no-such-hook'" in inner_message(unknown.json())

    assert management(mock, "disable", {"endpoint_id": hook["id"]})["data"] is True
    disabled = mock.http.get(url)
    assert disabled.status_code == 404 and "disabled" in inner_message(disabled.json())
    listed = management(mock, "list", page=1, page_size=100)["data"]
    assert next(entry for entry in listed if entry["id"] == hook["id"])["enabled"] is False

    assert management(mock, "enable", {"endpoint_id": hook["id"]})["data"] is True
    assert mock.http.get(url).status_code == 200

    assert management(mock, "remove", {"endpoint_id": hook["id"]})["data"] is True
    assert mock.http.get(url).status_code == 404
    missing = management(mock, "remove", {"endpoint_id": hook["id"]})
    assert missing["code"] == -404 and "endpoint not found" in inner_message(missing)


def test_hook_management_checks_what_the_daemon_checks(mock):
    hook = setup_hook(mock, "managed", {"greeting": "hi", "api_key": "sk-0123456789"})
    # Listed as the daemon lists: secrets masked, the endpoint group as declaration.
    assert hook["settings"] == {"greeting": "hi", "api_key": "sk*********89"}
    assert hook["tenant_id"] == "default" and hook["plugin_id"] == PLUGIN_ID and hook["user_id"] == "u1"
    assert hook["expired_at"].startswith("2050-01-01")
    assert [setting["name"] for setting in hook["declaration"]["settings"]] == ["greeting", "api_key", "mode"]
    assert any(endpoint["path"] == "/stream" for endpoint in hook["declaration"]["endpoints"])

    # An update that sends the masked secret back keeps the secret.
    updated = management(
        mock,
        "update",
        {
            "endpoint_id": hook["id"],
            "name": "renamed",
            "settings": {"greeting": "yo", "api_key": hook["settings"]["api_key"]},
        },
    )
    assert updated["data"] is True
    seen = mock.http.get(f"/e/{hook['hook_id']}/echo/u").json()
    assert seen["settings"] == {"greeting": "yo", "api_key": "sk-0123456789"}

    wrong_option = management(
        mock, "setup", {"plugin_unique_identifier": PLUGIN_ID, "name": "x", "settings": {"mode": "shouty"}}
    )
    assert wrong_option["code"] == -400 and "setting mode is not a valid option" in inner_message(wrong_option)
    not_connected = management(mock, "setup", {"plugin_unique_identifier": "someone/else:0.0.1@abc", "name": "x"})
    assert not_connected["code"] == -404 and "someone/else is not connected" in inner_message(not_connected)
    bad_body = mock.http.post("/plugin/default/endpoint/setup", json={"name": "no identifier"})
    assert bad_body.status_code == 400 and "plugin_unique_identifier" in inner_message(bad_body.json())


def test_a_plugin_without_endpoint_permission_cannot_have_hooks(mock_server, model_caller):
    refused = mock_server.http.post(
        "/plugin/default/endpoint/setup", json={"plugin_unique_identifier": model_caller.plugin_id, "name": "x"}
    ).json()
    assert refused["code"] == -403 and "resource.permission.endpoint.enabled" in inner_message(refused)


@pytest.mark.mock_server(server_key="s3rver")
def test_management_needs_the_server_key_but_hooks_do_not(mock_server, sdk_python):
    mock_server.start_plugin(TEST_PLUGINS / "endpoint_plugin", python=sdk_python)
    anonymous = httpx.post(
        f"{mock_server.url}/plugin/default/endpoint/setup", json={"plugin_unique_identifier": PLUGIN_ID}
    )
    assert anonymous.status_code == 401
    hook = setup_hook(mock_server, "keyed")
    assert httpx.get(f"{mock_server.url}/e/{hook['hook_id']}/echo/open").status_code == 200


def test_hooks_survive_a_restart_but_their_secrets_do_not(tmp_path, sdk_python):
    data_dir = tmp_path / "dify-mock"
    with MockServer(data_dir) as first:
        first.start_plugin(TEST_PLUGINS / "endpoint_plugin", python=sdk_python)
        hook = setup_hook(first, "kept", {"greeting": "persisted", "api_key": "sk-never-on-disk"})
    stored = b"".join(path.read_bytes() for path in data_dir.glob("endpoints.sqlite3*"))
    assert b"persisted" in stored and b"sk-never-on-disk" not in stored

    with MockServer(data_dir) as second:
        plugin: PluginProcess = second.start_plugin(TEST_PLUGINS / "endpoint_plugin", python=sdk_python)
        listed = management(second, "list", page=1, page_size=100)["data"]
        assert [entry["hook_id"] for entry in listed] == [hook["hook_id"]]
        seen = second.http.get(f"/e/{hook['hook_id']}/echo/again").json()
        assert seen["settings"] == {"greeting": "persisted"}
        assert "secret settings api_key were not kept across the restart" in second.log()
        assert plugin.alive()


def test_hooks_from_the_config_file_have_stable_urls(tmp_path, sdk_python):
    config = tmp_path / "dify-mock.yaml"
    config.write_text(
        "endpoints:\n"
        "  - plugin_id: dify-mock-tests/endpoint_plugin\n"
        "    name: from-config\n"
        "    hook_id: demo-hook\n"
        "    settings: {greeting: from the config file}\n"
        "  - plugin_id: dify-mock-tests/endpoint_plugin\n"
        "    name: derived\n"
    )
    with MockServer(tmp_path / "dify-mock", extra_args=["--config", str(config)]) as mock:
        mock.start_plugin(TEST_PLUGINS / "endpoint_plugin", python=sdk_python)
        seen = mock.http.get("/e/demo-hook/echo/x").json()
        assert seen["settings"] == {"greeting": "from the config file"}
        listed = management(mock, "list", page=1, page_size=100)["data"]
        derived = next(entry["hook_id"] for entry in listed if entry["name"] == "derived")
    with MockServer(tmp_path / "dify-mock", extra_args=["--config", str(config)]) as again:
        listed = management(again, "list", page=1, page_size=100)["data"]
        assert sorted(entry["hook_id"] for entry in listed) == sorted(["demo-hook", derived])

    config.write_text("endpoints:\n  - plugin_id: no-author\n")
    refused = MockServer(tmp_path / "refused", extra_args=["--config", str(config)])
    with pytest.raises(RuntimeError, match="did not become healthy"):
        refused.start(attempts=1)
    assert "endpoints.0.plugin_id" in refused.log()
