"""The dicts Dify's Service API produces for one app run, streaming (one per event) or blocking (one).

These are what the daemon passes to the plugin untouched: `session.app.*.invoke(response_mode="streaming")`
yields them, blocking mode returns the first. Shapes follow Dify's task entities and response converters:
chat kinds carry conversation_id/message_id/created_at on every event, completion apps message_id/created_at,
workflow apps workflow_run_id and a `data` object.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from dify_mock.answers.replies import AppMode

CHAT_MODES = frozenset({"chat", "agent-chat", "advanced-chat"})


def stable_id(seed: str, purpose: str) -> str:
    """A UUID that depends only on the seed and what it names, so the same call gets the same ids."""
    digest = hashlib.sha256(f"{purpose}\0{seed}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass
class AppRun:
    """One answered app call: everything the events of every kind are made of."""

    mode: AppMode
    seed: str
    inputs: dict[str, Any]
    pieces: list[str]
    outputs: dict[str, Any]
    usage: dict[str, Any]
    conversation_id: str
    user: str = ""
    created_at: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.perf_counter)

    @property
    def answer(self) -> str:
        return "".join(self.pieces)

    def id(self, purpose: str) -> str:
        return stable_id(self.seed, purpose)

    @property
    def task_id(self) -> str:
        return self.id("task")

    @property
    def message_id(self) -> str:
        return self.id("message")

    @property
    def workflow_run_id(self) -> str:
        return self.id("workflow_run")

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.started, 6)


def stream_events(run: AppRun) -> list[dict[str, Any]]:
    if run.mode == "workflow":
        return _workflow_events(run)
    if run.mode == "completion":
        head = {"message_id": run.message_id, "created_at": run.created_at}
        return [{**_event("message", run, head), "id": run.message_id, "answer": piece} for piece in run.pieces] + [
            _message_end(run, head)
        ]
    head = {"conversation_id": run.conversation_id, "message_id": run.message_id, "created_at": run.created_at}
    if run.mode == "agent-chat":
        return _agent_events(run, head)
    messages = [{**_event("message", run, head), "id": run.message_id, "answer": piece} for piece in run.pieces]
    if run.mode == "advanced-chat":
        answer_outputs = {"answer": run.answer}
        for message in messages:
            message["from_variable_selector"] = ["answer", "answer"]
        return [
            _workflow_started(run, head),
            *_node_events(run, head, "start", "start", "Start", 1, None, run.inputs, run.inputs),
            _node_started(run, head, "answer", "answer", "Answer", 2, "start", {}),
            *messages,
            _node_finished(run, head, "answer", "answer", "Answer", 2, "start", {}, answer_outputs),
            _workflow_finished(run, head, answer_outputs, steps=2),
            _message_end(run, head),
        ]
    return [*messages, _message_end(run, head)]


def blocking_response(run: AppRun) -> dict[str, Any]:
    if run.mode == "workflow":
        return {
            "task_id": run.task_id,
            "workflow_run_id": run.workflow_run_id,
            "data": {
                "id": run.workflow_run_id,
                "workflow_id": run.id("workflow"),
                "status": "succeeded",
                "outputs": run.outputs,
                "error": None,
                "elapsed_time": run.elapsed(),
                "total_tokens": run.usage["total_tokens"],
                "total_steps": 2,
                "created_at": run.created_at,
                "finished_at": int(time.time()),
            },
        }
    response: dict[str, Any] = {
        "event": "message",
        "task_id": run.task_id,
        "id": run.message_id,
        "message_id": run.message_id,
        "conversation_id": run.conversation_id,
        "mode": run.mode,
        "answer": run.answer,
        "metadata": {"usage": run.usage},
        "created_at": run.created_at,
    }
    if run.mode == "completion":
        del response["conversation_id"]
    return response


def _event(name: str, run: AppRun, head: dict[str, Any]) -> dict[str, Any]:
    return {"event": name, **head, "task_id": run.task_id}


def _message_end(run: AppRun, head: dict[str, Any]) -> dict[str, Any]:
    return {**_event("message_end", run, head), "id": run.message_id, "metadata": {"usage": run.usage}, "files": None}


def _agent_events(run: AppRun, head: dict[str, Any]) -> list[dict[str, Any]]:
    def thought(text: str) -> dict[str, Any]:
        return {
            **_event("agent_thought", run, head),
            "id": run.id("agent_thought"),
            "position": 1,
            "thought": text,
            "observation": "",
            "tool": "",
            "tool_labels": {},
            "tool_input": "",
            "message_files": [],
        }

    messages = [{**_event("agent_message", run, head), "id": run.message_id, "answer": p} for p in run.pieces]
    return [thought(""), *messages, thought(run.answer), _message_end(run, head)]


def _workflow_events(run: AppRun) -> list[dict[str, Any]]:
    head = {"workflow_run_id": run.workflow_run_id}
    chunks = [
        {**_event("text_chunk", run, head), "data": {"text": piece, "from_variable_selector": ["end", "text"]}}
        for piece in run.pieces
    ]
    return [
        _workflow_started(run, head),
        *_node_events(run, head, "start", "start", "Start", 1, None, run.inputs, run.inputs),
        *chunks,
        *_node_events(run, head, "end", "end", "End", 2, "start", run.outputs, run.outputs),
        _workflow_finished(run, head, run.outputs, steps=2),
    ]


def _workflow_started(run: AppRun, head: dict[str, Any]) -> dict[str, Any]:
    return {
        **_event("workflow_started", run, head),
        "workflow_run_id": run.workflow_run_id,
        "data": {
            "id": run.workflow_run_id,
            "workflow_id": run.id("workflow"),
            "sequence_number": 1,
            "inputs": run.inputs,
            "created_at": run.created_at,
        },
    }


def _workflow_finished(run: AppRun, head: dict[str, Any], outputs: dict[str, Any], steps: int) -> dict[str, Any]:
    return {
        **_event("workflow_finished", run, head),
        "workflow_run_id": run.workflow_run_id,
        "data": {
            "id": run.workflow_run_id,
            "workflow_id": run.id("workflow"),
            "sequence_number": 1,
            "status": "succeeded",
            "outputs": outputs,
            "error": None,
            "elapsed_time": run.elapsed(),
            "total_tokens": run.usage["total_tokens"],
            "total_steps": steps,
            "created_by": {"id": run.user, "user": run.user},
            "created_at": run.created_at,
            "finished_at": int(time.time()),
            "files": [],
        },
    }


def _node_data(run: AppRun, node_id: str, node_type: str, title: str, index: int, after: str | None) -> dict[str, Any]:
    return {
        "id": run.id(f"node_execution:{node_id}"),
        "node_id": node_id,
        "node_type": node_type,
        "title": title,
        "index": index,
        "predecessor_node_id": after,
    }


def _node_started(
    run: AppRun,
    head: dict[str, Any],
    node_id: str,
    node_type: str,
    title: str,
    index: int,
    after: str | None,
    inputs: dict[str, Any],
) -> dict[str, Any]:
    data = {
        **_node_data(run, node_id, node_type, title, index, after),
        "inputs": inputs,
        "created_at": int(time.time()),
        "extras": {},
    }
    return {**_event("node_started", run, head), "workflow_run_id": run.workflow_run_id, "data": data}


def _node_finished(
    run: AppRun,
    head: dict[str, Any],
    node_id: str,
    node_type: str,
    title: str,
    index: int,
    after: str | None,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
) -> dict[str, Any]:
    now = int(time.time())
    data = {
        **_node_data(run, node_id, node_type, title, index, after),
        "inputs": inputs,
        "process_data": {},
        "outputs": outputs,
        "status": "succeeded",
        "error": None,
        "elapsed_time": run.elapsed(),
        "execution_metadata": None,
        "created_at": now,
        "finished_at": now,
        "files": [],
    }
    return {**_event("node_finished", run, head), "workflow_run_id": run.workflow_run_id, "data": data}


def _node_events(
    run: AppRun,
    head: dict[str, Any],
    node_id: str,
    node_type: str,
    title: str,
    index: int,
    after: str | None,
    inputs: dict[str, Any],
    outputs: dict[str, Any],
) -> list[dict[str, Any]]:
    return [
        _node_started(run, head, node_id, node_type, title, index, after, inputs),
        _node_finished(run, head, node_id, node_type, title, index, after, inputs, outputs),
    ]


def run_seed(request: dict[str, Any]) -> str:
    """What the ids of a run depend on: the app, the query, the inputs and the conversation."""
    keys = ("app_id", "query", "inputs", "conversation_id", "user")
    return json.dumps({key: request.get(key) for key in keys}, sort_keys=True, default=str, ensure_ascii=False)
