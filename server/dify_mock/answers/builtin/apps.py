"""Built-in answers to app calls (`session.app.*`): what an app answers when no fixture rule does.

Dify knows an app's kind from its database; the SDK sends the same request for a completion and a workflow
app. So a call with a `query` (only `session.app.chat` sends one) is answered as a chat app, any other as a
workflow app; a fixture rule's `mode` says otherwise. Every answer is a pure function of the request.
"""

from __future__ import annotations

import json
from typing import Any

from dify_mock.answers.replies import AppMode, AppReply, FetchAppReply

# Dify's defaults for the size limits an app's parameters report (UPLOAD_*_SIZE_LIMIT, in MB).
SYSTEM_PARAMETERS = {
    "image_file_size_limit": 10,
    "video_file_size_limit": 100,
    "audio_file_size_limit": 50,
    "file_size_limit": 15,
    "workflow_file_upload_limit": 10,
}


def app_mode(request: dict[str, Any]) -> AppMode:
    return "chat" if "query" in request else "workflow"


def app_inputs(request: dict[str, Any]) -> dict[str, Any]:
    inputs = request.get("inputs")
    return dict(inputs) if isinstance(inputs, dict) else {}


def app_answer(request: dict[str, Any], mode: AppMode) -> str:
    """A reply that names the app and repeats the query and inputs it got."""
    app_id = str(request.get("app_id") or "")
    inputs = app_inputs(request)
    described = ", ".join(
        f"{name}={_short(json.dumps(value, ensure_ascii=False), 60)}" for name, value in inputs.items()
    )
    if mode == "completion":
        sentences = [f"App {app_id} completed the inputs {described}." if described else f"App {app_id} completed."]
    else:
        sentences = [f'You asked app {app_id}: "{_short(str(request.get("query") or ""), 120)}".']
        if described:
            sentences.append(f"Inputs: {described}.")
    sentences.append("This is a deterministic answer from dify-mock.")
    return " ".join(sentences)


def builtin_app(request: dict[str, Any]) -> AppReply:
    mode = app_mode(request)
    if mode == "workflow":
        return AppReply(mode=mode, outputs=app_inputs(request))
    return AppReply(mode=mode, answer=app_answer(request, mode))


def app_parameters() -> dict[str, Any]:
    """What Dify's fetch_app answers for an app with no features switched on and no input variables."""
    return {
        "opening_statement": "",
        "suggested_questions": [],
        "suggested_questions_after_answer": {"enabled": False},
        "speech_to_text": {"enabled": False},
        "text_to_speech": {"enabled": False},
        "retriever_resource": {"enabled": False},
        "annotation_reply": {"enabled": False},
        "more_like_this": {"enabled": False},
        "user_input_form": [],
        "sensitive_word_avoidance": {"enabled": False, "type": "", "configs": []},
        "file_upload": {
            "image": {
                "enabled": False,
                "number_limits": 3,
                "detail": "high",
                "transfer_methods": ["remote_url", "local_file"],
            }
        },
        "system_parameters": dict(SYSTEM_PARAMETERS),
    }


def builtin_fetch_app(request: dict[str, Any]) -> FetchAppReply:
    return FetchAppReply(info=app_parameters())


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
