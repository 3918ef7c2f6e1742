"""What render() makes of a reply has fixed keys, none naming a credential, whatever the request and the reply hold.

The journal relies on it (`holds_no_credentials`): the chunks of a rendered answer are kept without redacting them.
So these requests and replies put credential-named keys everywhere they can go.
"""

from __future__ import annotations

import time
from typing import Any

from dify_mock.answers.render import holds_no_credentials, render
from dify_mock.answers.replies import (
    EmbeddingReply,
    LLMReply,
    ModerationReply,
    RerankReply,
    Speech2TextReply,
    SummaryReply,
    ToolCallReply,
    TTSReply,
)
from dify_mock.store.redaction import KNOWN, redact
from hypothesis import given, settings
from hypothesis import strategies as st

SECRET_NAMES = ["api_key", "OPENAI_API_KEY", "token", "password", "credentials", "secret", "authorization"]
KEYS = st.sampled_from([*SECRET_NAMES, "content", "text", "name", "model"])
LEAVES = st.none() | st.booleans() | st.integers(-100, 100) | st.text(max_size=6)
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3))
SECRETS = st.dictionaries(st.sampled_from(SECRET_NAMES), VALUES, min_size=1, max_size=4)


def message(role: str, content: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {"role": role, "content": content, "name": "", "tool_calls": None, **extra}


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """An LLM-ish request that also carries embedding, rerank and TTS fields, with secrets tucked in everywhere."""
    content = draw(st.text(max_size=20) | st.lists(st.fixed_dictionaries({"type": st.just("text"), "data": st.text()})))
    return {
        "model": draw(st.text(max_size=8)),
        "credentials": draw(SECRETS),
        "model_parameters": draw(SECRETS),
        "prompt_messages": [message("user", content, draw(SECRETS))],
        "stop": draw(st.lists(st.text(max_size=3), max_size=2)),
        "stream": draw(st.booleans()),
        "texts": draw(st.lists(st.text(max_size=8), min_size=1, max_size=3)),
        "query": draw(st.text(max_size=8)),
        "docs": ["doc one", "doc two"],
        "content_text": "hi",
        **draw(SECRETS),
    }


TOOL_CALLS = st.lists(
    st.builds(ToolCallReply, name=st.text(min_size=1, max_size=5), arguments=SECRETS | st.text(max_size=8)),
    max_size=2,
)
REPLIES = st.one_of(
    st.builds(
        LLMReply,
        text=st.text(max_size=30),
        chunks=st.none() | st.lists(st.text(max_size=5), max_size=4),
        tool_calls=TOOL_CALLS,
        structured_output=st.none() | SECRETS,
    ),
    st.builds(EmbeddingReply, dimensions=st.integers(1, 8)),
    st.builds(RerankReply, scores=st.just([0.5, 0.25])),
    st.builds(Speech2TextReply, text=st.text(max_size=8)),
    st.builds(ModerationReply, flagged=st.booleans()),
    st.builds(SummaryReply, summary=st.text(max_size=8)),
)
TYPES = {
    LLMReply: ["llm", "llm_structured_output"],
    EmbeddingReply: ["text_embedding"],
    RerankReply: ["rerank"],
    Speech2TextReply: ["speech2text"],
    ModerationReply: ["moderation"],
    SummaryReply: ["system_summary"],
}


@settings(max_examples=300, deadline=None)
@given(requests(), REPLIES)
def test_rendered_chunks_hold_nothing_that_redaction_would_mask(request: dict[str, Any], reply: Any) -> None:
    KNOWN.clear()  # secret values other tests passed in this process: here only the names count
    for invoke_type in TYPES[type(reply)]:
        chunks = list(render(invoke_type, request, reply, time.perf_counter()))
        assert chunks
        if holds_no_credentials(invoke_type):
            assert [redact(chunk) for chunk in chunks] == chunks, invoke_type


def test_a_structured_output_is_redacted_since_it_is_the_fixtures_own_object() -> None:
    reply = LLMReply(structured_output={"api_key": "sk-live"})
    chunks = list(render("llm_structured_output", {"model": "m", "stream": False}, reply, time.perf_counter()))
    assert not holds_no_credentials("llm_structured_output")
    assert redact(chunks) != chunks


def test_speech_chunks_have_their_fixed_keys() -> None:
    chunks = list(render("tts", {"content_text": "hello", "api_key": "sk"}, TTSReply(), time.perf_counter()))
    assert holds_no_credentials("tts") and chunks
    assert {key for chunk in chunks for key in chunk} == {"result", "mime_type"}
