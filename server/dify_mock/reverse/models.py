"""Reverse model calls: the host's answer chain answers them (fixtures, replay, live backends, built-in).

`choose_reply` is the short road the other families (tools, apps, nodes) take: a fixture rule, else the
built-in answer (or, with --strict, an error naming the nearest rule).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from dify_mock.answers.builtin import audio
from dify_mock.answers.builtin.models import builtin_reply
from dify_mock.answers.faults import count_tokens
from dify_mock.answers.render import WORD_PIECE, embedding_usage, llm_usage, prompt_text, render_llm
from dify_mock.answers.replies import Reply
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError

if TYPE_CHECKING:
    from dify_mock.host import Host

__all__ = [
    "WORD_PIECE",
    "answer_model",
    "answer_speech2text",
    "choose_reply",
    "count_tokens",
    "embedding_usage",
    "llm_usage",
    "prompt_text",
    "render_llm",
]


def choose_reply(host: Host, call: ReverseCall) -> Reply:
    """Fixture rules first; then the built-in answer, or in strict mode an error naming the nearest rule."""
    match = host.rules.answer(call.invoke_type, call.request, call.session_id)
    if match is not None:
        call.answered_by = match.answered_by
        call.rule = match.rule.origin
        if match.scenario_change is not None:
            call.scenario_changes.append(match.scenario_change)
        reply = match.reply
    elif host.settings.strict:
        call.answered_by = "strict"
        raise ReverseError(
            f"no fixture rule answers this call (--strict). {host.rules.near_miss(call.invoke_type, call.request, call.session_id)}"
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


def answer_model(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    return host.chain.answer(call, host.rules, host.registry)


async def answer_speech2text(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    """Checks that the file is audio before any link sees it."""
    file_hex = call.request.get("file")
    if not isinstance(file_hex, str):
        raise ReverseError("'file' must be the hex of the audio bytes")
    try:
        audio.inspect_audio(bytes.fromhex(file_hex))
    except ValueError as error:
        raise ReverseError(f"the file is not audio the mock can read: {error}") from None
    async for chunk in host.chain.answer(call, host.rules, host.registry):
        yield chunk


answer_llm = answer_embedding = answer_rerank = answer_tts = answer_moderation = answer_summary = answer_model
