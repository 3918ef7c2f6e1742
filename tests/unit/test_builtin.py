"""Built-in answers: deterministic, shaped by the request, and sensible enough to test plugins against."""

from __future__ import annotations

import base64
import io
import json
import math
import wave
from typing import Any

import pytest
from dify_mock.answers.builtin.audio import AudioError, synthesize_mp3
from dify_mock.answers.builtin.models import (
    DEFAULT_DIMENSIONS,
    builtin_reply,
    embed_texts,
    last_user_text,
)
from dify_mock.answers.replies import (
    EmbeddingReply,
    LLMReply,
    ModerationReply,
    RerankReply,
    Speech2TextReply,
    SummaryReply,
    TTSReply,
)

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city", "unit"],
    },
}
SEARCH_TOOL = {"name": "search", "description": "Web search", "parameters": {"type": "object", "properties": {}}}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content, "name": "", "tool_calls": None, "tool_call_id": ""}


def llm_request(*messages: dict[str, Any], tools: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "model_type": "llm",
        "mode": "chat",
        "completion_params": {},
        "prompt_messages": list(messages),
        "tools": tools,
        "stop": None,
        "stream": True,
        **extra,
    }


def llm(request: dict[str, Any], kind: str = "llm") -> LLMReply:
    reply = builtin_reply(kind, request)
    assert isinstance(reply, LLMReply)
    return reply


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_last_user_text() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        user("first question"),
        {"role": "assistant", "content": "an answer"},
        user([{"type": "text", "data": "look at"}, {"type": "image", "data": "..."}, {"type": "text", "data": "this"}]),
        {"role": "tool", "content": "result", "tool_call_id": "call_1"},
    ]
    assert last_user_text(messages) == "look at\nthis"
    assert last_user_text(messages[:3]) == "first question"
    assert last_user_text([{"role": "system", "content": "only system"}]) == ""


def test_llm_calls_the_first_tool_with_arguments_from_its_schema() -> None:
    request = llm_request(user("What is the weather in Paris?"), tools=[WEATHER_TOOL, SEARCH_TOOL])
    reply = llm(request)
    assert reply.text == ""
    (call,) = reply.tool_calls
    assert call.name == "get_weather"
    assert call.arguments == {"city": "Paris", "unit": "celsius", "days": 1}
    assert call.id is not None and call.id.startswith("call_")
    assert llm(request) == reply


def test_llm_answers_from_the_tool_result() -> None:
    question = user("What is the weather in Paris?")
    asked = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
    }
    result = {"role": "tool", "content": "Sunny and 21 degrees", "tool_call_id": "call_1", "name": "get_weather"}
    reply = llm(llm_request(question, asked, result, tools=[WEATHER_TOOL]))
    assert reply.tool_calls == []
    assert reply.text.startswith("Based on the tool result: Sunny and 21 degrees")
    follow_up = llm(llm_request(question, asked, result, user("And in Rome?"), tools=[WEATHER_TOOL]))
    assert follow_up.tool_calls[0].arguments == {"city": "Rome", "unit": "celsius", "days": 1}


def test_llm_text_depends_on_the_prompt_and_only_on_it() -> None:
    first = llm(llm_request(user("Explain photosynthesis in plants")))
    assert first.tool_calls == []
    assert "photosynthesis" in first.text and "plants" in first.text
    assert llm(llm_request(user("Explain photosynthesis in plants"))) == first
    assert llm(llm_request(user("Summarise the French revolution"))).text != first.text


def test_llm_honours_stop_sequences_and_max_tokens() -> None:
    stopped = llm(llm_request(user("Explain photosynthesis"), stop=["key words"]))
    assert "key words" not in stopped.text and stopped.text
    short = llm(llm_request(user("Explain photosynthesis"), completion_params={"max_tokens": 3}))
    assert len(short.text) == 12 and short.finish_reason == "length"


def test_structured_output_follows_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "status": {"enum": ["active", "inactive"]},
        },
        "required": ["name", "age", "tags", "status"],
        "additionalProperties": False,
    }
    request = llm_request(user("Describe the user Alice Martin"), structured_output_schema=schema)
    reply = llm(request, "llm_structured_output")
    value = reply.structured_output
    assert value is not None
    assert set(value) == {"name", "age", "tags", "status"}
    assert value["name"] == "Alice Martin"
    assert isinstance(value["age"], int) and 0 <= value["age"] <= 150
    assert len(value["tags"]) >= 2 and all(isinstance(t, str) for t in value["tags"])
    assert value["status"] == "active"
    assert json.loads(reply.text) == value
    assert llm(request, "llm_structured_output") == reply


def embeddings(kind: str, request: dict[str, Any]) -> list[list[float]]:
    reply = builtin_reply(kind, request)
    assert isinstance(reply, EmbeddingReply) and reply.embeddings is not None
    return reply.embeddings


def test_text_embeddings_are_unit_vectors_where_shared_words_mean_closer() -> None:
    texts = ["the cat sat on the mat", "a cat sat on a mat today", "quarterly stock prices fell sharply"]
    vectors = embeddings("text_embedding", {"texts": texts, "input_type": "query"})
    assert [len(v) for v in vectors] == [DEFAULT_DIMENSIONS] * 3
    assert all(math.isclose(cosine(v, v), 1.0) for v in vectors)
    assert cosine(vectors[0], vectors[1]) > 0.5
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
    assert embeddings("text_embedding", {"texts": texts}) == vectors
    assert embed_texts(["The CAT sat on the mat"], DEFAULT_DIMENSIONS)[0] == vectors[0]


def test_embed_texts_takes_the_dimensions() -> None:
    (vector,) = embed_texts(["hello world"], 1024)
    assert len(vector) == 1024 and math.isclose(cosine(vector, vector), 1.0)
    (empty,) = embed_texts([""], 8)
    assert math.isclose(cosine(empty, empty), 1.0)


def test_multimodal_embeddings_hash_images() -> None:
    image = base64.b64encode(b"\x89PNG fake image bytes").decode()
    documents = [
        {"content": image, "content_type": "image"},
        {"content": image, "content_type": "image"},
        {"content": base64.b64encode(b"another picture").decode(), "content_type": "image"},
        {"content": "the cat sat on the mat", "content_type": "text"},
    ]
    vectors = embeddings("multimodal_embedding", {"documents": documents, "input_type": "document"})
    assert vectors[0] == vectors[1] != vectors[2]
    assert all(math.isclose(cosine(v, v), 1.0) for v in vectors)
    assert vectors[3] == embed_texts(["the cat sat on the mat"], DEFAULT_DIMENSIONS)[0]


def scores(kind: str, request: dict[str, Any]) -> list[float]:
    reply = builtin_reply(kind, request)
    assert isinstance(reply, RerankReply) and reply.scores is not None
    return reply.scores


def test_rerank_orders_documents_by_overlap_with_the_query() -> None:
    docs = [
        "Bananas are yellow fruit",
        "Dify is an open-source platform for building LLM apps",
        "what is dify",
        "Dify",
        "What is the capital of France",
    ]
    result = scores("rerank", {"query": "what is dify", "docs": docs, "score_threshold": 0.0, "top_n": 5})
    assert len(result) == len(docs)
    assert all(0.0 <= s <= 1.0 for s in result)
    assert result[2] == 1.0 == max(result)
    assert result[1] > result[0] and result[3] > result[0] and result[4] > result[0]
    assert result[0] == 0.0
    assert scores("rerank", {"query": "what is dify", "docs": docs}) == result


def test_multimodal_rerank() -> None:
    image = base64.b64encode(b"picture").decode()
    docs = [
        {"content": "a red apple", "content_type": "text"},
        {"content": "green apple pie recipe", "content_type": "text"},
        {"content": image, "content_type": "image"},
    ]
    text_scores = scores("multimodal_rerank", {"query": {"content": "red apple", "content_type": "text"}, "docs": docs})
    assert text_scores[0] > text_scores[1] > text_scores[2] == 0.0
    image_scores = scores("multimodal_rerank", {"query": {"content": image, "content_type": "image"}, "docs": docs})
    assert image_scores == [0.0, 0.0, 1.0]


def speech2text(data: bytes) -> str:
    reply = builtin_reply("speech2text", {"provider": "openai", "model": "whisper-1", "file": data.hex()})
    assert isinstance(reply, Speech2TextReply)
    return reply.text


def test_tts_then_speech2text_round_trips() -> None:
    assert builtin_reply("tts", {"content_text": "Hello", "voice": "alloy"}) == TTSReply()
    text = "Hello from the mock. It speaks in tones!"
    assert speech2text(b"".join(synthesize_mp3(text))) == text


def test_speech2text_describes_audio_without_text() -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(bytes(2 * 19200))
    assert speech2text(buffer.getvalue()) == "[mock transcription of 1.2 s of wav audio]"


def test_speech2text_rejects_what_is_not_audio() -> None:
    with pytest.raises(AudioError, match="looks like HTML"):
        speech2text(b"<html><body>not audio</body></html>")
    with pytest.raises(AudioError, match="not a hex string"):
        builtin_reply("speech2text", {"file": "zz-not-hex"})


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("How do I bake bread?", False),
        ("They want to KILL the process", True),
        ("bombs away", True),
        ("This topic is forbidden", True),
        ("skills and bombastic prose", False),
    ],
)
def test_moderation_flags_blocklisted_words(text: str, flagged: bool) -> None:
    assert builtin_reply("moderation", {"text": text}) == ModerationReply(flagged=flagged)


def test_summary_keeps_the_leading_sentences() -> None:
    text = "Prices rose sharply in May. " + "Analysts expect more of the same in the months ahead. " * 40
    reply = builtin_reply("system_summary", {"text": text, "instruction": "focus on prices"})
    assert isinstance(reply, SummaryReply)
    assert reply.summary.startswith("Prices rose sharply in May. Analysts expect")
    assert len(reply.summary) <= 200
    long_sentence = "word " * 100
    summary = builtin_reply("system_summary", {"text": long_sentence, "instruction": ""})
    assert isinstance(summary, SummaryReply) and len(summary.summary) <= 200 and summary.summary.endswith("…")


def test_unknown_type_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="storage"):
        builtin_reply("storage", {})
