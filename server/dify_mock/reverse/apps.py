"""Reverse app calls: `session.app.chat/completion/workflow.invoke(...)` and `session.app.fetch_app(...)`.

A reply (fixture rule or built-in) says what the app answers; `app_events` shapes it into the Service API's
events (streaming) or its one blocking response. What a rule leaves out comes from the built-in answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from dify_mock.answers.builtin.apps import app_answer, app_inputs, app_mode, app_parameters
from dify_mock.answers.replies import AppReply, FetchAppReply
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError
from dify_mock.reverse.app_events import CHAT_MODES, AppRun, blocking_response, run_seed, stable_id, stream_events
from dify_mock.reverse.models import WORD_PIECE, choose_reply, count_tokens, llm_usage

if TYPE_CHECKING:
    from dify_mock.host import Host

RESPONSE_MODES = ("streaming", "blocking")


def _check_request(request: dict[str, Any]) -> str:
    """The response mode, once the request is known to be well formed."""
    app_id = request.get("app_id")
    if not isinstance(app_id, str) or not app_id:
        raise ReverseError("'app_id' must be a non-empty string")
    if request.get("inputs") is not None and not isinstance(request.get("inputs"), dict):
        raise ReverseError(f"'inputs' must be an object of input name -> value, got {type(request['inputs']).__name__}")
    for name in ("query", "conversation_id", "user"):
        if request.get(name) is not None and not isinstance(request.get(name), str):
            raise ReverseError(f"'{name}' must be a string, got {type(request[name]).__name__}")
    mode = request.get("response_mode")
    if mode not in RESPONSE_MODES:
        raise ReverseError(f"'response_mode' must be streaming or blocking, got {mode!r}")
    return str(mode)


def build_run(request: dict[str, Any], reply: AppReply, user: str) -> AppRun:
    mode = reply.mode or app_mode(request)
    query = str(request.get("query") or "")
    if mode in CHAT_MODES and not query:
        raise ReverseError(f"missing query: app {request.get('app_id')} is a {mode} app, which needs a query")
    if reply.chunks is not None:
        pieces = list(reply.chunks)
    elif reply.answer is not None:
        pieces = WORD_PIECE.findall(reply.answer)
    elif mode == "workflow":
        pieces = []
    else:
        pieces = WORD_PIECE.findall(app_answer(request, mode))
    inputs = app_inputs(request)
    if reply.outputs is not None:
        outputs = dict(reply.outputs)
    elif pieces:
        outputs = {"text": "".join(pieces)}
    else:
        outputs = inputs
    seed = run_seed(request)
    conversation_id = reply.conversation_id or str(request.get("conversation_id") or "")
    if mode in CHAT_MODES and not conversation_id:
        conversation_id = stable_id(seed, "conversation")
    prompt = " ".join([query, *(str(value) for value in inputs.values())])
    usage = llm_usage(count_tokens(prompt), count_tokens("".join(pieces)), 0.0)
    return AppRun(mode, seed, inputs, pieces, outputs, usage, conversation_id, user=user)


async def answer_app(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    response_mode = _check_request(call.request)
    reply = choose_reply(host, call)
    assert isinstance(reply, AppReply)
    streaming = response_mode == "streaming"
    if streaming and reply.events is not None:
        for event in reply.events:
            yield event
        return
    if not streaming and reply.blocking is not None:
        yield reply.blocking
        return
    run = build_run(call.request, reply, str(call.request.get("user") or call.user_id))
    if streaming:
        for event in stream_events(run):
            yield event
    else:
        yield blocking_response(run)


async def answer_fetch_app(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    app_id = call.request.get("app_id")
    if not isinstance(app_id, str) or not app_id:
        raise ReverseError("'app_id' must be a non-empty string")
    reply = choose_reply(host, call)
    assert isinstance(reply, FetchAppReply)
    yield {**app_parameters(), **reply.info}
