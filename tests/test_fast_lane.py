"""The fast lane (dispatch and the inner API without FastAPI's routing): still in the OpenAPI document, still guarded,
and a path that only looks like a lane route goes to FastAPI, which answers it as before."""

from __future__ import annotations

import pytest
from dify_mock.testing import MockServer


def test_the_openapi_document_describes_the_lane_routes(mock_server: MockServer) -> None:
    document = mock_server.http.get("/openapi.json").raise_for_status().json()
    dispatch = document["paths"]["/plugin/{tenant_id}/dispatch/{route}"]["post"]
    parameters = {parameter["name"]: parameter for parameter in dispatch["parameters"]}
    assert parameters["X-Plugin-ID"]["required"] is True
    assert "tool/invoke" in parameters["route"]["schema"]["enum"]
    assert "post" in document["paths"]["/inner/api/{route}"]


@pytest.mark.mock_server(server_key="let-me-in")
def test_a_wrong_key_is_refused_in_the_lane_as_the_daemon_refuses_it(mock_server: MockServer) -> None:
    body = {"user_id": "u", "data": {"provider": "p", "tool": "t"}}
    for headers in ({}, {"X-Api-Key": "wrong"}):
        refused = mock_server.http.post("/plugin/default/dispatch/tool/invoke", json=body, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == -401 and "PluginDaemonUnauthorizedError" in refused.json()["message"]
    allowed = mock_server.http.post(
        "/plugin/default/dispatch/tool/invoke", json=body, headers={"X-Api-Key": "let-me-in", "X-Plugin-ID": "a/b"}
    )
    assert allowed.status_code == 404 and "a/b is not connected" in allowed.json()["message"]


def test_paths_that_only_look_like_lane_routes_get_fastapis_answers(mock_server: MockServer) -> None:
    http = mock_server.http
    assert http.post("/plugin//dispatch/tool/invoke", json={}).status_code == 404
    assert http.post("/plugin/a/b/dispatch/tool/invoke", json={}).status_code == 404
    assert http.get("/plugin/default/dispatch/tool/invoke").status_code == 405
    assert http.post("/plugin/default/dispatch", json={}).status_code == 307  # FastAPI's redirect to the slash
    unknown = http.post("/plugin/default/dispatch/", json={}, headers={"X-Plugin-ID": "a/b"})
    assert unknown.status_code == 404 and unknown.json()["message"].startswith("route not found; ")
    assert "Traceback" not in mock_server.log()
