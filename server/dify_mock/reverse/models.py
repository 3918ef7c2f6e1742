"""Reverse model calls: choose the reply, then shape it into exactly the chunks the SDK parses."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from dify_mock.answers import audio
from dify_mock.answers.builtin import builtin_reply, embed_texts
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
from dify_mock.reverse.call import ReverseCall, ReverseError

if TYPE_CHECKING:
    from dify_mock.host import Host

ZERO = "0"
WORD_PIECE = re.compile(r"\s*\S+\s*|\s+")


def choose_reply(host: Host, call: ReverseCall) -> Reply:
    """Fixture rules first; then the built-in answer, or in strict mode an error naming the nearest rule."""
    match = host.rules.answer(call.invoke_type, call.request)
    if match is not None:
        call.answered_by = f"rule:{match.rule.label()}"
        reply = match.reply
    elif host.settings.strict:
        call.answered_by = "strict"
        raise ReverseError(
            f"no fixture rule answers this call (--strict). {host.rules.near_miss(call.invoke_type, call.request)}"
        )
    else:
        call.answered_by = "builtin"
        try:
            reply = builtin_reply(call.invoke_type, call.request)
        except audio.AudioError as error:
            raise ReverseError(str(error)) from None
    if reply.error:
        raise ReverseError(reply.error)
    return reply


def count_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4)) if text else 0


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


def _truncate_at_stop(pieces: list[str], stop: list[str]) -> list[str]:
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


def _llm_chunk(
    model: str, index: int, content: str, tool_calls: list[dict[str, Any]], usage: Any, finish: str | None
) -> dict[str, Any]:
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


def render_llm(request: dict[str, Any], reply: LLMReply, structured: bool, started: float) -> Iterator[dict[str, Any]]:
    """Content pieces first; then one closing chunk with the tool calls, the usage and the finish reason."""
    model = str(request.get("model") or "mock-llm")
    text = reply.text
    if structured and not text and reply.structured_output is not None:
        text = json.dumps(reply.structured_output, ensure_ascii=False)
    pieces = list(reply.chunks) if reply.chunks is not None else WORD_PIECE.findall(text)
    stop = [word for word in request.get("stop") or [] if isinstance(word, str)]
    pieces = _truncate_at_stop(pieces, stop)
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
        chunk = _llm_chunk(model, 0, full_text, tool_calls, usage(), finish)
        if structured:
            chunk["structured_output"] = reply.structured_output
        yield chunk
        return
    for index, piece in enumerate(pieces):
        yield {**_llm_chunk(model, index, piece, [], None, None), **extra}
    closing = _llm_chunk(model, len(pieces), "", tool_calls, usage(), finish)
    if structured:
        closing["structured_output"] = reply.structured_output
    yield closing


async def answer_llm(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    started = time.perf_counter()
    reply = choose_reply(host, call)
    assert isinstance(reply, LLMReply)
    for chunk in render_llm(call.request, reply, call.invoke_type == "llm_structured_output", started):
        yield chunk


def _embedding_inputs(call: ReverseCall) -> list[str]:
    if call.invoke_type == "multimodal_embedding":
        return [str(document.get("content", "")) for document in call.request.get("documents") or []]
    return [str(text) for text in call.request.get("texts") or []]


async def answer_embedding(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    started = time.perf_counter()
    reply = choose_reply(host, call)
    assert isinstance(reply, EmbeddingReply)
    texts = _embedding_inputs(call)
    if reply.embeddings is not None:
        embeddings = reply.embeddings
        if len(embeddings) != len(texts):
            raise ReverseError(f"the fixture gives {len(embeddings)} embeddings for {len(texts)} inputs")
    elif reply.dimensions is not None:
        embeddings = embed_texts(texts, reply.dimensions)
    else:
        fallback = builtin_reply(call.invoke_type, call.request)
        assert isinstance(fallback, EmbeddingReply) and fallback.embeddings is not None
        embeddings = fallback.embeddings
    tokens = sum(count_tokens(text) for text in texts)
    yield {
        "model": str(call.request.get("model") or "mock-embedding"),
        "embeddings": embeddings,
        "usage": embedding_usage(tokens, time.perf_counter() - started),
    }


def _rerank_docs(call: ReverseCall) -> list[str]:
    docs = call.request.get("docs") or []
    if call.invoke_type == "multimodal_rerank":
        return [str(doc.get("content", "")) if isinstance(doc, dict) else str(doc) for doc in docs]
    return [str(doc) for doc in docs]


async def answer_rerank(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    reply = choose_reply(host, call)
    assert isinstance(reply, RerankReply)
    docs = _rerank_docs(call)
    scores = reply.scores
    if scores is None:
        fallback = builtin_reply(call.invoke_type, call.request)
        assert isinstance(fallback, RerankReply) and fallback.scores is not None
        scores = fallback.scores
    if len(scores) != len(docs):
        raise ReverseError(f"the fixture gives {len(scores)} scores for {len(docs)} documents")
    order = sorted(range(len(docs)), key=lambda index: (-scores[index], index))
    threshold = call.request.get("score_threshold")
    if isinstance(threshold, int | float):
        order = [index for index in order if scores[index] >= threshold]
    top_n = call.request.get("top_n")
    if isinstance(top_n, int) and top_n >= 0:
        order = order[:top_n]
    ranked = [{"index": index, "text": docs[index], "score": float(scores[index])} for index in order]
    yield {"model": str(call.request.get("model") or "mock-rerank"), "docs": ranked}


async def answer_tts(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    reply = choose_reply(host, call)
    assert isinstance(reply, TTSReply)
    if reply.audio_file is not None:
        segments = audio.read_mp3_file(reply.audio_file)
    else:
        segments = audio.synthesize_mp3(
            reply.text if reply.text is not None else str(call.request.get("content_text", ""))
        )
    for segment in segments:
        yield {"result": segment.hex(), "mime_type": "audio/mpeg"}


async def answer_speech2text(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    file_hex = call.request.get("file")
    if not isinstance(file_hex, str):
        raise ReverseError("'file' must be the hex of the audio bytes")
    try:
        audio.inspect_audio(bytes.fromhex(file_hex))
    except ValueError as error:
        raise ReverseError(f"the file is not audio the mock can read: {error}") from None
    reply = choose_reply(host, call)
    assert isinstance(reply, Speech2TextReply)
    yield {"result": reply.text}


async def answer_moderation(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    reply = choose_reply(host, call)
    assert isinstance(reply, ModerationReply)
    yield {"result": reply.flagged}


async def answer_summary(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    reply = choose_reply(host, call)
    assert isinstance(reply, SummaryReply)
    yield {"summary": reply.summary}
