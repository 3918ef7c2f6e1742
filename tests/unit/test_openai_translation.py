"""Dify requests to OpenAI requests, and OpenAI answers back to Dify chunks (the pure half of the backend)."""

from __future__ import annotations

import json
import time

import pytest
from dify_mock.answers.openai_translation import ChatTranslator, MalformedAnswer, chat_body, openai_messages


def test_messages_of_every_role_and_content_part():
    messages = openai_messages(
        [
            {"role": "system", "content": "be brief", "name": None},
            {
                "role": "user",
                "content": [
                    {"type": "text", "data": "what is this?"},
                    {
                        "type": "image",
                        "url": "",
                        "mime_type": "image/png",
                        "base64_data": "AAAA",
                        "format": "png",
                        "detail": "low",
                    },
                ],
            },
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}}],
            },
            {"role": "tool", "content": "a cat", "tool_call_id": "c1"},
        ]
    )
    assert messages[0] == {"role": "system", "content": "be brief"}
    assert messages[1]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
    ]
    assert messages[2]["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}}
    ]
    assert messages[3] == {"role": "tool", "content": "a cat", "tool_call_id": "c1"}


def test_chat_body_maps_parameters_tools_stop_and_structured_output():
    request = {
        "model": "gpt-4o-mini",
        "completion_params": {"temperature": 0.2, "max_tokens": 50, "dify_only_knob": 1},
        "prompt_messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "get_weather", "description": "weather", "parameters": {"type": "object"}}],
        "stop": ["END"],
        "stream": True,
        "structured_output_schema": {"type": "object", "properties": {"a": {"type": "string"}}},
    }
    body = chat_body(request, "llama3.2", structured=True, stream_usage=True)
    assert body["model"] == "llama3.2" and body["temperature"] == 0.2 and body["max_tokens"] == 50
    assert "dify_only_knob" not in body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "weather", "parameters": {"type": "object"}},
        }
    ]
    assert body["stop"] == ["END"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == request["structured_output_schema"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    blocking = chat_body({**request, "stream": False}, "m", structured=False, stream_usage=True)
    assert blocking["stream"] is False and "stream_options" not in blocking and "response_format" not in blocking


def stream_chunk(delta: dict, finish: str | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_streamed_text_then_one_closing_chunk_with_joined_tool_calls_and_usage():
    request = {"model": "gpt-4o-mini", "prompt_messages": [{"role": "user", "content": "hi"}], "stream": True}
    translator = ChatTranslator(request, structured=False, started=time.perf_counter())
    chunks = []
    for piece in (
        stream_chunk({"role": "assistant", "content": ""}),
        stream_chunk({"content": "Hel"}),
        stream_chunk({"content": "lo"}),
        stream_chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}}]}),
        stream_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        stream_chunk({}, "tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    ):
        chunks.extend(translator.feed(piece))
    chunks.append(translator.finish())
    assert [c["delta"]["message"]["content"] for c in chunks] == ["Hel", "lo", ""]
    assert [c["delta"]["index"] for c in chunks] == [0, 1, 2]
    closing = chunks[-1]["delta"]
    assert closing["message"]["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    assert closing["finish_reason"] == "tool_calls"
    assert closing["usage"]["prompt_tokens"] == 3 and closing["usage"]["total_tokens"] == 7
    assert chunks[0]["model"] == "gpt-4o-mini" and chunks[0]["delta"]["usage"] is None


def test_a_blocking_structured_answer_is_one_chunk_with_the_parsed_object():
    request = {"model": "m", "prompt_messages": [], "stream": False}
    translator = ChatTranslator(request, structured=True, started=time.perf_counter())
    answer = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": '{"a": "b"}'}, "finish_reason": "stop"}]
    }
    assert list(translator.feed(answer)) == []
    closing = translator.finish()
    assert closing["delta"]["message"]["content"] == '{"a": "b"}' and closing["structured_output"] == {"a": "b"}


@pytest.mark.parametrize(
    ("chunk", "problem"),
    [
        ([1, 2], "not a JSON object"),
        ({"id": "x"}, "no `choices` list"),
        ({"error": {"message": "quota exceeded"}}, "quota exceeded"),
        ({"choices": [{"index": 0}]}, "no `delta`"),
    ],
)
def test_chunks_that_are_not_openai_chunks_are_refused(chunk, problem):
    translator = ChatTranslator({"model": "m", "stream": True}, structured=False, started=0.0)
    with pytest.raises(MalformedAnswer, match=problem):
        list(translator.feed(chunk))


def test_structured_output_that_is_not_a_json_object_is_refused():
    translator = ChatTranslator({"model": "m", "stream": True}, structured=True, started=0.0)
    list(translator.feed(stream_chunk({"content": "not json"}, "stop")))
    with pytest.raises(MalformedAnswer, match="not JSON"):
        translator.finish()
    translator = ChatTranslator({"model": "m", "stream": True}, structured=True, started=0.0)
    list(translator.feed(stream_chunk({"content": json.dumps([1])}, "stop")))
    with pytest.raises(MalformedAnswer, match="not a JSON object"):
        translator.finish()


def test_a_backend_serves_only_its_types_providers_and_models():
    from dify_mock.answers.openai import OpenAIBackend
    from dify_mock.config.file import BackendConfig
    from dify_mock.protocol.reverse_call import ReverseCall

    backend = OpenAIBackend(
        "b",
        BackendConfig(type="openai", base_url="http://x/v1", providers=["openai"], only_models=["gpt-4o*"]),
    )

    def serves(invoke_type: str, provider: str, model: str) -> bool:
        return backend.serves(ReverseCall(invoke_type, {"provider": provider, "model": model}, "t", "p", "u", "s"))

    assert serves("llm", "langgenius/openai/openai", "gpt-4o-mini")
    assert not serves("llm", "langgenius/anthropic/anthropic", "gpt-4o-mini")
    assert not serves("llm", "openai", "o3-mini")
    assert not serves("system_summary", "openai", "gpt-4o")
