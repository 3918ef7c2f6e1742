"""What the conformance suite against the real daemon (tests/conformance) found, each difference closed and held
here without the daemon: the same request to dify-mock gets the daemon's answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dify_mock.testing import MockServer

TENANT = "7f3c2a10-5d4e-4b8a-9c1f-0a1b2c3d4e5f"


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
