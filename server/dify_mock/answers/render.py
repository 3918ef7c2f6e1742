"""Replies (from fixture rules or the built-in answers) shaped into exactly the chunks the SDK parses."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from dify_mock.answers.builtin import audio
from dify_mock.answers.builtin.models import builtin_reply, embed_texts
from dify_mock.answers.faults import count_tokens
from dify_mock.answers.replies import (
    EmbeddingReply,
    LLMReply,
    ModerationReply,
    Reply,
    RerankReply,
    Speech2TextReply,
    SummaryReply,
    TTSReply,
)
from dify_mock.protocol.reverse_call import ReverseError
from dify_mock.protocol.words import plural

ZERO = "0"
WORD_PIECE = re.compile(r"\s*\S+\s*|\s+")

Chunk = dict[str, Any]


def prompt_text(prompt_messages: list[Any]) -> str:
    parts: list[str] = []
    for message in prompt_messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(part.get("data", "")) for part in content if isinstance(part, dict))
    return "\n".join(parts)


def llm_usage(prompt_tokens: int, completion_tokens: int, latency: float) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "prompt_unit_price": ZERO,
        "prompt_price_unit": ZERO,
        "prompt_price": ZERO,
        "completion_tokens": completion_tokens,
        "completion_unit_price": ZERO,
        "completion_price_unit": ZERO,
        "completion_price": ZERO,
        "total_tokens": prompt_tokens + completion_tokens,
        "total_price": ZERO,
        "currency": "USD",
        "latency": round(latency, 6),
    }


def embedding_usage(tokens: int, latency: float) -> dict[str, Any]:
    return {
        "tokens": tokens,
        "total_tokens": tokens,
        "unit_price": ZERO,
        "price_unit": ZERO,
        "total_price": ZERO,
        "currency": "USD",
        "latency": round(latency, 6),
    }


def llm_chunk(
    model: str, index: int, content: str, tool_calls: list[dict[str, Any]], usage: Any, finish: str | None
) -> Chunk:
    return {
        "model": model,
        "prompt_messages": [],
        "system_fingerprint": None,
        "delta": {
            "index": index,
            "message": {"role": "assistant", "content": content, "name": None, "tool_calls": tool_calls},
            "usage": usage,
            "finish_reason": finish,
        },
    }


def stop_words(request: dict[str, Any]) -> list[str]:
    return [word for word in request.get("stop") or [] if isinstance(word, str)]


def truncate_at_stop(pieces: list[str], stop: list[str]) -> list[str]:
    text = "".join(pieces)
    cut = min((index for word in stop if word and (index := text.find(word)) >= 0), default=-1)
    if cut < 0:
        return pieces
    kept: list[str] = []
    length = 0
    for piece in pieces:
        if length + len(piece) >= cut:
            if cut > length:
                kept.append(piece[: cut - length])
            break
        kept.append(piece)
        length += len(piece)
    return kept


def _tool_calls(reply: LLMReply) -> list[dict[str, Any]]:
    calls = []
    for number, call in enumerate(reply.tool_calls, start=1):
        arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        calls.append(
            {
                "id": call.id or f"call_{number}",
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            }
        )
    return calls


def render_llm(request: dict[str, Any], reply: LLMReply, structured: bool, started: float) -> Iterator[Chunk]:
    """Content pieces first; then one closing chunk with the tool calls, the usage and the finish reason."""
    model = str(request.get("model") or "mock-llm")
    text = reply.text
    if structured and not text and reply.structured_output is not None:
        text = json.dumps(reply.structured_output, ensure_ascii=False)
    pieces = list(reply.chunks) if reply.chunks is not None else WORD_PIECE.findall(text)
    pieces = truncate_at_stop(pieces, stop_words(request))
    tool_calls = _tool_calls(reply)
    finish = reply.finish_reason or ("tool_calls" if tool_calls else "stop")
    full_text = "".join(pieces)
    prompt_tokens = count_tokens(prompt_text(request.get("prompt_messages") or []))
    completion_tokens = count_tokens(full_text) + 8 * len(tool_calls)
    if reply.usage is not None:
        prompt_tokens = reply.usage.prompt_tokens if reply.usage.prompt_tokens is not None else prompt_tokens
        if reply.usage.completion_tokens is not None:
            completion_tokens = reply.usage.completion_tokens
    extra = {"structured_output": None} if structured else {}

    def usage() -> dict[str, Any]:
        return llm_usage(prompt_tokens, completion_tokens, time.perf_counter() - started)

    if request.get("stream") is False:
        chunk = llm_chunk(model, 0, full_text, tool_calls, usage(), finish)
        if structured:
            chunk["structured_output"] = reply.structured_output
        yield chunk
        return
    for index, piece in enumerate(pieces):
        yield {**llm_chunk(model, index, piece, [], None, None), **extra}
    closing = llm_chunk(model, len(pieces), "", tool_calls, usage(), finish)
    if structured:
        closing["structured_output"] = reply.structured_output
    yield closing


def embedding_inputs(invoke_type: str, request: dict[str, Any]) -> list[str]:
    if invoke_type == "multimodal_embedding":
        return [str(document.get("content", "")) for document in request.get("documents") or []]
    return [str(text) for text in request.get("texts") or []]


def render_embedding(invoke_type: str, request: dict[str, Any], reply: EmbeddingReply, started: float) -> Chunk:
    texts = embedding_inputs(invoke_type, request)
    if reply.embeddings is not None:
        embeddings = reply.embeddings
        if len(embeddings) != len(texts):
            raise ReverseError(
                f"the fixture gives {plural(len(embeddings), 'embedding')} for {plural(len(texts), 'input')}"
            )
    elif reply.dimensions is not None:
        embeddings = embed_texts(texts, reply.dimensions)
    else:
        fallback = builtin_reply(invoke_type, request)
        assert isinstance(fallback, EmbeddingReply) and fallback.embeddings is not None
        embeddings = fallback.embeddings
    tokens = sum(count_tokens(text) for text in texts)
    return {
        "model": str(request.get("model") or "mock-embedding"),
        "embeddings": embeddings,
        "usage": embedding_usage(tokens, time.perf_counter() - started),
    }


def rerank_docs(invoke_type: str, request: dict[str, Any]) -> list[str]:
    docs = request.get("docs") or []
    if invoke_type == "multimodal_rerank":
        return [str(doc.get("content", "")) if isinstance(doc, dict) else str(doc) for doc in docs]
    return [str(doc) for doc in docs]


def ranked_docs(request: dict[str, Any], docs: list[str], scores: list[float]) -> list[dict[str, Any]]:
    """The documents by falling score, with the request's `score_threshold` and `top_n` applied. A `top_n` of 0 is
    no limit: the daemon decodes a request without one into Go's zero value and forwards `"top_n": 0`."""
    order = sorted(range(len(docs)), key=lambda index: (-scores[index], index))
    threshold = request.get("score_threshold")
    if isinstance(threshold, int | float):
        order = [index for index in order if scores[index] >= threshold]
    top_n = request.get("top_n")
    if isinstance(top_n, int) and top_n > 0:
        order = order[:top_n]
    return [{"index": index, "text": docs[index], "score": float(scores[index])} for index in order]


def render_rerank(invoke_type: str, request: dict[str, Any], reply: RerankReply) -> Chunk:
    docs = rerank_docs(invoke_type, request)
    scores = reply.scores
    if scores is None:
        fallback = builtin_reply(invoke_type, request)
        assert isinstance(fallback, RerankReply) and fallback.scores is not None
        scores = fallback.scores
    if len(scores) != len(docs):
        raise ReverseError(f"the fixture gives {plural(len(scores), 'score')} for {plural(len(docs), 'document')}")
    return {"model": str(request.get("model") or "mock-rerank"), "docs": ranked_docs(request, docs, scores)}


def render_tts(request: dict[str, Any], reply: TTSReply) -> Iterator[Chunk]:
    try:
        if reply.audio_file is not None:
            segments = audio.read_mp3_file(reply.audio_file)
        else:
            segments = audio.synthesize_mp3(
                reply.text if reply.text is not None else str(request.get("content_text", ""))
            )
    except audio.AudioError as error:
        raise ReverseError(str(error)) from None
    for segment in segments:
        yield {"result": segment.hex(), "mime_type": "audio/mpeg"}


def holds_no_credentials(invoke_type: str) -> bool:
    """Whether every chunk render() makes for this type has only its shape's fixed keys, none of which names a
    credential, whatever the request and the reply hold: every type but llm_structured_output, whose
    `structured_output` is the fixture's own object. tests/unit/test_render_shapes.py holds render to it."""
    return invoke_type != "llm_structured_output"


def render(invoke_type: str, request: dict[str, Any], reply: Reply, started: float) -> Iterator[Chunk]:
    """The chunks of one reply; a reply's `error` raises ReverseError when the first chunk is asked for."""
    if reply.error:
        raise ReverseError(reply.error)
    match reply:
        case LLMReply():
            yield from render_llm(request, reply, invoke_type == "llm_structured_output", started)
        case EmbeddingReply():
            yield render_embedding(invoke_type, request, reply, started)
        case RerankReply():
            yield render_rerank(invoke_type, request, reply)
        case TTSReply():
            yield from render_tts(request, reply)
        case Speech2TextReply():
            yield {"result": reply.text}
        case ModerationReply():
            yield {"result": reply.flagged}
        case SummaryReply():
            yield {"summary": reply.summary}
        case _:
            raise ReverseError(f"no way to render a {type(reply).__name__} for {invoke_type}")
