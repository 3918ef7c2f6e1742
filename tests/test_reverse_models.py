"""Every `session.model.*` call a real SDK plugin makes, answered by the mock over real sockets."""

from __future__ import annotations

import json
import math
from typing import Any

import miniaudio
import pytest
from dify_mock.testing import MockServer, PluginError
from model_caller_calls import result, wav_bytes

PROVIDER = "model_caller"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def last_reverse(mock: MockServer, invoke_type: str) -> dict[str, Any]:
    entries = mock.journal(kind="reverse", type=invoke_type)
    assert entries, f"no reverse {invoke_type} call in the journal"
    return entries[-1]


def test_llm_streams_a_deterministic_answer_that_depends_on_the_prompt(mock_server, model_caller):
    first = result(mock_server, model_caller, "llm", prompt="Tell me about penguins")
    again = result(mock_server, model_caller, "llm", prompt="Tell me about penguins")
    other = result(mock_server, model_caller, "llm", prompt="Explain quantum tunnelling")
    assert first["text"] and first["text"] == again["text"]
    assert first["text"] != other["text"]
    assert "penguins" in first["text"]
    assert len(first["chunks"]) > 2 and "".join(first["chunks"]) == first["text"]
    chunks = last_reverse(mock_server, "llm")["response"]
    assert all(isinstance(c["delta"]["message"]["tool_calls"], list) for c in chunks)
    assert [c["delta"]["usage"] is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    usage = chunks[-1]["delta"]["usage"]
    assert isinstance(usage["prompt_price"], str) and usage["total_tokens"] > 0
    assert chunks[-1]["delta"]["finish_reason"] == "stop"


def test_llm_without_streaming_gets_the_same_text_and_usage(mock_server, model_caller):
    streamed = result(mock_server, model_caller, "llm", prompt="What is a haiku?")
    blocking = result(mock_server, model_caller, "llm", prompt="What is a haiku?", stream=False)
    assert blocking["text"] == streamed["text"]
    assert blocking["usage"]["completion_tokens"] > 0
    assert len(last_reverse(mock_server, "llm")["response"]) == 1


def test_builtin_llm_calls_an_offered_tool_with_valid_arguments(mock_server, model_caller):
    answer = result(mock_server, model_caller, "llm", prompt="Is it cold outside?", with_tools=True)
    assert answer["text"] == ""
    call = answer["tool_calls"][0]
    assert call["name"] == "get_weather"
    assert isinstance(json.loads(call["arguments"])["city"], str)


@pytest.mark.mock_server(fixtures=["fixtures/models.yaml"])
def test_fixture_replies_are_used_in_turn_and_named_in_the_journal(mock_server, model_caller):
    first = result(mock_server, model_caller, "llm", prompt="weather in Paris?", with_tools=True)
    assert first["tool_calls"][0]["name"] == "get_weather"
    assert json.loads(first["tool_calls"][0]["arguments"]) == {"city": "Paris"}
    second = result(mock_server, model_caller, "llm", prompt="weather in Paris?", with_tools=True)
    assert second["text"] == "It is sunny in Paris."
    assert [e["answered_by"] for e in mock_server.journal(kind="reverse", type="llm")] == ["rule:weather"] * 2
    # the rule asks for the get_weather tool: without tools it does not match
    third = result(mock_server, model_caller, "llm", prompt="weather in Paris?")
    assert third["text"] != "It is sunny in Paris."
    assert last_reverse(mock_server, "llm")["answered_by"] == "builtin"


@pytest.mark.mock_server(fixtures=["fixtures/models.yaml"])
def test_stop_words_cut_the_answer(mock_server, model_caller):
    answer = result(mock_server, model_caller, "llm", prompt="count to five", stop="STOP")
    assert answer["text"] == "one two three "
    answer = result(mock_server, model_caller, "llm", prompt="count to five")
    assert answer["text"] == "one two three STOP four five"


@pytest.mark.mock_server(fixtures=["fixtures/models.yaml"])
def test_a_scripted_error_reaches_the_plugin_as_a_backwards_invocation_error(mock_server, model_caller):
    with pytest.raises(PluginError) as failure:
        result(mock_server, model_caller, "llm", prompt="please fail")
    assert "the model is down (scripted)" in failure.value.message
    assert last_reverse(mock_server, "llm")["error"] == "the model is down (scripted)"  # the answerer's words


@pytest.mark.mock_server(fixtures=["fixtures/models.yaml"], strict=True)
def test_strict_mode_fails_unmatched_calls_naming_the_nearest_rule(mock_server, model_caller):
    with pytest.raises(PluginError) as failure:
        result(mock_server, model_caller, "llm", prompt="weather in Rome?")
    message = failure.value.message
    assert "--strict" in message and "weather" in message and "tools" in message
    assert result(mock_server, model_caller, "llm", prompt="weather in Rome?", with_tools=True)["tool_calls"]


def test_structured_output_is_valid_against_the_schema(mock_server, model_caller):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "kind": {"enum": ["cat", "dog"]},
        },
        "required": ["name", "age", "tags", "kind"],
    }
    answer = result(mock_server, model_caller, "structured", prompt="describe a pet", schema=json.dumps(schema))
    output = answer["structured_output"]
    assert isinstance(output["name"], str) and isinstance(output["age"], int) and output["age"] >= 0
    assert output["tags"] and all(isinstance(tag, str) for tag in output["tags"])
    assert output["kind"] in ("cat", "dog")


@pytest.mark.mock_server(fixtures=["fixtures/models.yaml"])
def test_embeddings_put_similar_texts_closer(mock_server, model_caller):
    texts = "the cat sat on the mat\nthe cat sat on a mat today\nquarterly stock market report"
    answer = result(mock_server, model_caller, "embed", texts=texts)
    near, far = answer["embeddings"][1], answer["embeddings"][2]
    assert len(answer["embeddings"]) == 3 and len(near) == 256
    assert cosine(answer["embeddings"][0], near) > cosine(answer["embeddings"][0], far)
    assert answer["usage"]["tokens"] > 0
    assert len(result(mock_server, model_caller, "embed", texts="eight dims please")["embeddings"][0]) == 8


def test_multimodal_embedding(mock_server, model_caller):
    answer = result(mock_server, model_caller, "multimodal_embed", text="a red bicycle")
    assert len(answer["embeddings"]) >= 1 and len(answer["embeddings"][0]) == 256


def test_rerank_honours_top_n_and_score_threshold(mock_server, model_caller):
    docs = "cats are small felines\nthe weather is mild\ncats and dogs are pets"
    ranked = result(mock_server, model_caller, "rerank", query="cats", docs=docs, score_threshold=0.0, top_n=2)["docs"]
    assert len(ranked) == 2
    assert ranked[0]["score"] >= ranked[1]["score"]
    assert {doc["index"] for doc in ranked} == {0, 2}
    strict = result(mock_server, model_caller, "rerank", query="cats", docs=docs, score_threshold=0.99, top_n=3)
    assert all(doc["score"] >= 0.99 for doc in strict["docs"])
    assert len(strict["docs"]) < 3


def test_multimodal_rerank(mock_server, model_caller):
    docs = "cats are small felines\nthe weather is mild"
    ranked = result(mock_server, model_caller, "multimodal_rerank", query="cats", docs=docs)["docs"]
    assert ranked[0]["index"] == 0


def test_tts_streams_chunks_that_each_play_as_mp3(mock_server, model_caller):
    answer = result(mock_server, model_caller, "tts", text="Hello there. This is the second sentence.", voice="alloy")
    chunks = [bytes.fromhex(chunk) for chunk in answer["chunks"]]
    assert len(chunks) >= 2
    for chunk in chunks:
        decoded = miniaudio.decode(chunk)
        assert decoded.num_frames > 0 and decoded.duration > 0.1


def test_speech2text_reads_wav_and_mp3_and_refuses_what_is_not_audio(mock_server, model_caller):
    assert "wav" in result(mock_server, model_caller, "speech2text", audio_hex=wav_bytes(0.5).hex())["text"]
    spoken = result(mock_server, model_caller, "tts", text="round trip works", voice="alloy")["chunks"]
    assert result(mock_server, model_caller, "speech2text", audio_hex=spoken[0])["text"] == "round trip works"
    with pytest.raises(PluginError) as failure:
        result(mock_server, model_caller, "speech2text", audio_hex=b"<html>nope</html>".hex())
    assert "not audio" in failure.value.message


@pytest.mark.mock_server(fixtures=["fixtures/models.yaml"])
def test_moderation(mock_server, model_caller):
    assert result(mock_server, model_caller, "moderation", text="they built a bomb")["flagged"] is True
    assert result(mock_server, model_caller, "moderation", text="a lovely afternoon")["flagged"] is False
    assert result(mock_server, model_caller, "moderation", text="our secret plan")["flagged"] is True
    assert last_reverse(mock_server, "moderation")["answered_by"] == "rule:forbidden"


@pytest.mark.mock_server(fixtures=["fixtures/models.yaml"])
def test_summary(mock_server, model_caller):
    text = "Plugins call back into Dify. " * 60
    assert result(mock_server, model_caller, "summary", text=text, instruction="keep it short")["summary"] == "short"
    builtin = result(mock_server, model_caller, "summary", text=text, instruction="one line")["summary"]
    assert 0 < len(builtin) < len(text)
