"""Dify's inner API as a real dify-plugin-daemon calls it: envelopes, length-prefixed frames, errors, hex encodings.

The frames are read by a decoder written here from the specification (inner-api.md section 2.3, the daemon's
`parser.LengthPrefixedChunking`), not with the server's encoder: every header byte is checked.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dify_mock.testing import MockServer
from leaving_client import streaming_post

KEY = "QaHbTe77-inner-key"
TENANT = "7f3c1e3a-0000-4000-8000-000000000001"


class FrameError(AssertionError):
    pass


def decode_frames(body: bytes) -> list[bytes]:
    """Frames back to back: magic 0x0F, a reserved 0 byte, header length 10 (uint16 LE), then a 10-byte header
    whose first 4 bytes are the data length (uint32 LE) and whose other 6 are zero, then the data. The body must
    end exactly at a frame boundary."""
    frames = []
    offset = 0
    while offset < len(body):
        if len(body) - offset < 4:
            raise FrameError(f"{len(body) - offset} stray bytes at offset {offset}")
        magic, reserved = body[offset], body[offset + 1]
        (header_length,) = struct.unpack_from("<H", body, offset + 2)
        if magic != 0x0F:
            raise FrameError(f"magic number mismatch at offset {offset}: {magic:#x}")
        if reserved != 0:
            raise FrameError(f"reserved byte is {reserved} at offset {offset + 1}")
        if header_length != 10:
            raise FrameError(f"header length mismatch: {header_length}")
        header = body[offset + 4 : offset + 14]
        if len(header) != 10:
            raise FrameError("truncated header")
        (length,) = struct.unpack_from("<I", header, 0)
        if header[4:] != b"\x00" * 6:
            raise FrameError(f"reserved header bytes are {header[4:].hex()}")
        data = body[offset + 14 : offset + 14 + length]
        if len(data) != length:
            raise FrameError(f"frame at {offset} announces {length} bytes, has {len(data)}")
        frames.append(data)
        offset += 14 + length
    return frames


def envelopes(body: bytes) -> list[dict[str, Any]]:
    decoded = [json.loads(frame) for frame in decode_frames(body)]
    for envelope in decoded:
        assert set(envelope) == {"data", "error"}, envelope
    return decoded


def post(mock: MockServer, route: str, body: dict[str, Any], key: str | None = KEY, **headers: str) -> Any:
    sent = {"X-Inner-Api-Key": key, **headers} if key is not None else headers
    return mock.http.post(f"/inner/api/{route}", json=body, headers=sent)


def daemon_body(invoke_type: str, **fields: Any) -> dict[str, Any]:
    """What the daemon sends: the plugin's request with tenant_id, user_id and type added."""
    return {"tenant_id": TENANT, "user_id": "user-1", "type": invoke_type, **fields}


LLM = daemon_body(
    "llm",
    provider="openai",
    model="gpt-4o-mini",
    mode="chat",
    completion_params={"temperature": 0.7},
    prompt_messages=[
        {"role": "system", "content": "be brief", "name": "", "tool_calls": None, "tool_call_id": ""},
        {
            "role": "user",
            "content": "what is the weather in Paris?",
            "name": "",
            "tool_calls": None,
            "tool_call_id": "",
        },
    ],
    tools=None,
    stop=None,
    stream=True,
)


@pytest.fixture(scope="module")
def inner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    """One mock for the tests that only read: started with the inner API key."""
    server = MockServer(tmp_path_factory.mktemp("inner") / "dify-mock", extra_args=["--inner-api-key", KEY])
    with server:
        yield server
    print(f"--- end of the dify-mock log ---\n{server.log()[-6000:]}")


def test_llm_answers_in_length_prefixed_frames(inner):
    response = post(inner, "invoke/llm", LLM)
    assert response.status_code == 200
    assert response.content[:4] == b"\x0f\x00\x0a\x00"
    frames = envelopes(response.content)
    assert all(frame["error"] == "" for frame in frames) and len(frames) > 2
    chunks = [frame["data"] for frame in frames]
    assert all(chunk["delta"]["message"]["role"] == "assistant" for chunk in chunks)
    assert all(isinstance(chunk["delta"]["message"]["tool_calls"], list) for chunk in chunks)
    text = "".join(chunk["delta"]["message"]["content"] for chunk in chunks)
    assert "weather" in text
    assert chunks[-1]["delta"]["usage"]["total_tokens"] > 0 and all(c["delta"]["usage"] is None for c in chunks[:-1])
    entry = inner.journal(kind="reverse", type="llm")[-1]
    assert entry["tenant_id"] == TENANT and entry["plugin_id"] == "dify-plugin-daemon/inner-api"


def test_a_non_streaming_llm_call_is_one_frame(inner):
    frames = envelopes(post(inner, "invoke/llm", {**LLM, "stream": False}).content)
    assert len(frames) == 1 and frames[0]["data"]["delta"]["usage"] is not None


def test_structured_output_frames_carry_the_object(inner):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = {**LLM, "type": "llm_structured_output", "structured_output_schema": schema}
    frames = envelopes(post(inner, "invoke/llm/structured-output", body).content)
    assert isinstance(frames[-1]["data"]["structured_output"]["city"], str)


def test_tts_frames_hold_hex_audio(inner):
    body = daemon_body("tts", provider="openai", model="tts-1", content_text="hello", voice="alloy")
    frames = envelopes(post(inner, "invoke/tts", body).content)
    audio = bytes.fromhex(frames[0]["data"]["result"])
    assert audio[:3] == b"ID3" or audio[0] == 0xFF


def test_tool_frames_are_tool_messages(inner):
    body = daemon_body(
        "tool",
        tool_type="builtin",
        provider="time",
        tool="current_time",
        tool_parameters={"timezone": "UTC"},
        credential_id="",
    )
    frames = envelopes(post(inner, "invoke/tool", body).content)
    assert {frame["data"]["type"] for frame in frames} >= {"text", "json"}


def test_app_frames_stream_the_apps_events(inner):
    body = daemon_body(
        "app", app_id="app-1", inputs={}, query="hello", response_mode="streaming", conversation_id="", user=""
    )
    frames = envelopes(post(inner, "invoke/app", body).content)
    assert frames and all(isinstance(frame["data"], dict) and "event" in frame["data"] for frame in frames)


def test_unary_routes_answer_one_json_envelope(inner):
    embedding = post(
        inner,
        "invoke/text-embedding",
        daemon_body("text_embedding", provider="openai", model="text-embedding-3-small", texts=["a", "b"]),
    )
    assert embedding.status_code == 200 and embedding.headers["content-type"] == "application/json"
    body = embedding.json()
    assert body["error"] == "" and len(body["data"]["embeddings"]) == 2

    rerank = post(
        inner,
        "invoke/rerank",
        daemon_body(
            "rerank", provider="c", model="r", query="cat", docs=["a cat", "a dog"], score_threshold=0, top_n=2
        ),
    ).json()["data"]
    assert rerank["docs"][0]["text"] == "a cat"

    moderation = post(inner, "invoke/moderation", daemon_body("moderation", provider="o", model="m", text="bomb"))
    assert moderation.json() == {"data": {"result": True}, "error": ""}

    documents = [{"content": "a cat", "content_type": "text"}, {"content": "a dog", "content_type": "text"}]
    multimodal = post(
        inner,
        "invoke/multimodal-embedding",
        daemon_body("multimodal_embedding", provider="p", model="m", documents=documents, input_type="document"),
    ).json()
    assert multimodal["error"] == "" and len(multimodal["data"]["embeddings"]) == 2
    query = {"content": "cat", "content_type": "text"}
    body = daemon_body("multimodal_rerank", provider="p", model="m", query=query, docs=documents, top_n=2)
    ranked = post(inner, "invoke/multimodal-rerank", {**body, "score_threshold": 0}).json()["data"]["docs"]
    assert [doc["index"] for doc in ranked] == [0, 1]

    extractor = post(
        inner,
        "invoke/parameter-extractor",
        daemon_body(
            "node_parameter_extractor",
            parameters=[{"name": "city", "type": "string", "options": [], "description": "a city", "required": True}],
            model={"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}},
            query="weather in Paris tomorrow",
            instruction="",
        ),
    ).json()
    assert extractor["error"] == "" and "city" in extractor["data"]["outputs"]

    summary = post(inner, "invoke/summary", daemon_body("system_summary", text="One. Two. " * 200, instruction=""))
    assert summary.json()["data"]["summary"]

    classifier = post(
        inner,
        "invoke/question-classifier",
        daemon_body(
            "node_question_classifier",
            classes=[{"id": "1", "name": "billing"}, {"id": "2", "name": "tech"}],
            model={"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}},
            query="my card was charged twice",
            instruction="",
        ),
    ).json()
    assert classifier["error"] == "" and {"inputs", "process_data", "outputs"} <= set(classifier["data"])


def test_speech2text_reads_hex_audio(inner):
    audio = bytes.fromhex(
        envelopes(
            post(
                inner,
                "invoke/tts",
                daemon_body("tts", provider="o", model="tts-1", content_text="hello world", voice="alloy"),
            ).content
        )[0]["data"]["result"]
    )
    answer = post(
        inner, "invoke/speech2text", daemon_body("speech2text", provider="o", model="w", file=audio.hex())
    ).json()
    assert answer["error"] == "" and "hello" in answer["data"]["result"]


def test_fetch_app_and_encrypt_are_double_wrapped(inner):
    app = post(inner, "fetch/app/info", daemon_body("fetch_app", app_id="app-1")).json()
    assert app["error"] == "" and "user_input_form" in app["data"]["data"]
    settings = {"api_key": "secret-value"}
    body = daemon_body("encrypt", opt="encrypt", namespace="endpoint", identity="e1", data=settings, config=[])
    assert post(inner, "invoke/encrypt", body).json() == {"data": {"data": settings}, "error": ""}
    cleared = post(inner, "invoke/encrypt", {**body, "opt": "clear"}).json()
    assert cleared == {"data": {"data": {}}, "error": ""}
    assert "secret-value" not in json.dumps(inner.journal(type="encrypt"))


def test_an_upload_url_takes_the_file(inner):
    answer = post(inner, "upload/file/request", daemon_body("upload_file", filename="a.txt", mimetype="text/plain"))
    url = answer.json()["data"]["url"]
    assert "/files/upload/for-plugin?" in url
    uploaded = inner.http.post(url, files={"file": ("a.txt", b"hello file", "text/plain")})
    assert uploaded.status_code == 201 and uploaded.json()["size"] == len(b"hello file")


def test_server_sent_events_when_the_client_asks(inner):
    response = post(inner, "invoke/llm", LLM, Accept="text/event-stream")
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [block for block in response.text.split("\n\n") if block]
    assert all(event.startswith("data: ") for event in events)
    assert json.loads(events[-1][6:])["data"]["delta"]["finish_reason"] == "stop"
    refused = post(inner, "invoke/llm", LLM, Accept="text/event-stream;q=0, */*")
    decode_frames(refused.content)


def test_a_wrong_or_missing_key_gets_404_as_from_dify(inner):
    for key in ("wrong", None):
        response = post(inner, "invoke/llm", LLM, key=key)
        assert response.status_code == 404 and "<title>404 Not Found</title>" in response.text
    server_lines = [line for line in inner.log().splitlines() if not line.startswith("--- dify-mock testing harness")]
    assert any("wrong or missing X-Inner-Api-Key" in line for line in server_lines)
    assert not any(KEY in line for line in server_lines)


def test_a_body_without_tenant_id_is_refused_as_dify_does(inner):
    body = {key: value for key, value in LLM.items() if key != "tenant_id"}
    response = post(inner, "invoke/llm", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_param" and "tenant_id is required" in response.json()["message"]
    unknown = post(inner, "invoke/nothing-here", LLM)
    assert unknown.status_code == 404


@pytest.mark.mock_server(extra_args=["--inner-api-key", KEY], strict=True)
def test_errors_before_and_during_a_call(mock_server):
    early = post(mock_server, "invoke/llm", LLM)  # --strict and no rule: the model call fails before streaming
    assert early.status_code == 400 and "no fixture rule answers this call" in early.json()["message"]
    unary = post(mock_server, "invoke/text-embedding", daemon_body("text_embedding", model="m", texts=["a"]))
    assert unary.status_code == 200
    assert unary.json()["data"] is None and "no fixture rule answers this call" in unary.json()["error"]


@pytest.mark.mock_server(extra_args=["--inner-api-key", KEY, "--inner-api-max-frame-bytes", "300"])
def test_a_chunk_over_the_frame_limit_ends_the_stream_with_an_error_frame(mock_server):
    long = {**LLM, "prompt_messages": [{"role": "user", "content": "tell me everything " * 40}]}
    frames = envelopes(post(mock_server, "invoke/llm", long).content)
    assert frames[-1]["data"] is None
    assert "over the limit of 300 bytes" in frames[-1]["error"]
    assert all(frame["error"] == "" for frame in frames[:-1])
    assert "--inner-api-max-frame-bytes" in mock_server.log()


def test_the_decoder_rejects_what_the_daemon_rejects():
    good = b"\x0f\x00\x0a\x00" + struct.pack("<I", 2) + b"\x00" * 6 + b"{}"
    assert decode_frames(good + good) == [b"{}", b"{}"]
    for broken in (b"\x0e" + good[1:], good[:2] + b"\x0b\x00" + good[4:], good[:-1], good + b"\x0f"):
        with pytest.raises(FrameError):
            decode_frames(broken)


def test_a_hang_lasts_until_the_daemon_gives_up(tmp_path):
    """A `hang` fault on the inner API sends the first chunks and then nothing, until the caller disconnects."""
    fixture = tmp_path / "hang.yaml"
    fixture.write_text(
        "llm:\n  - name: hangs\n    match: {prompt: {contains: hang please}}\n"
        "    reply: {chunks: ['one ', 'two ', 'three']}\n"
        "    fault: {hang: true, after_chunks: 1}\n"
    )
    with MockServer(tmp_path / "dify-mock", fixtures=[fixture], extra_args=["--inner-api-key", KEY]) as mock:
        hanging = {**LLM, "prompt_messages": [{"role": "user", "content": "hang please"}]}
        headers = {"X-Inner-Api-Key": KEY}
        with streaming_post(mock.port, "/inner/api/invoke/llm", hanging, headers, until=b"one ") as daemon:
            daemon.settimeout(1.0)
            with pytest.raises(TimeoutError):  # hanging: nothing more comes
                daemon.recv(65536)
        deadline = time.monotonic() + 60
        while not (done := [entry for entry in mock.journal(kind="reverse", type="llm") if entry.get("done")]):
            assert time.monotonic() < deadline, "the hung call did not end after its caller left"
            time.sleep(0.1)
        assert "never answered (hang)" in done[0]["error"]
        assert post(mock, "invoke/llm", LLM).status_code == 200  # and the next call is served
