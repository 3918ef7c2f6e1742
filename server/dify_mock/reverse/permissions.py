"""The manifest's `resource.permission` gates each reverse call, with the daemon's messages."""

from __future__ import annotations

from typing import Any

# invoke type -> (permission path in the manifest, the word in the daemon's message)
REQUIRED_PERMISSION: dict[str, tuple[tuple[str, ...], str]] = {
    "tool": (("tool",), "tool"),
    "llm": (("model", "llm"), "llm"),
    "llm_structured_output": (("model", "llm"), "llm"),
    "system_summary": (("model", "llm"), "llm"),
    "text_embedding": (("model", "text_embedding"), "text-embedding"),
    "multimodal_embedding": (("model", "text_embedding"), "text-embedding"),
    "rerank": (("model", "rerank"), "rerank"),
    "multimodal_rerank": (("model", "rerank"), "rerank"),
    "tts": (("model", "tts"), "tts"),
    "speech2text": (("model", "speech2text"), "speech2text"),
    "moderation": (("model", "moderation"), "moderation"),
    "node_parameter_extractor": (("node",), "node"),
    "node_question_classifier": (("node",), "node"),
    "app": (("app",), "app"),
    "fetch_app": (("app",), "app"),
    "storage": (("storage",), "storage"),
    "upload_file": ((), "storage"),
}


def _allows(section: Any, flag: str | None) -> bool:
    if not isinstance(section, dict) or not section.get("enabled"):
        return False
    return flag is None or bool(section.get(flag))


def permission_error(manifest: dict[str, Any], invoke_type: str, serving: str) -> str | None:
    """Why the call is refused, or None when it may go ahead. `serving` is the access type of the session."""
    if serving == "model":
        return "you can not invoke dify from model"
    required = REQUIRED_PERMISSION.get(invoke_type)
    if required is None:
        return f"unsupported invoke type: {invoke_type}"
    path, word = required
    if not path:
        return None
    resource = manifest.get("resource") or {}
    permission = resource.get("permission") or {}
    if _allows(permission.get(path[0]), path[1] if len(path) > 1 else None):
        return None
    return f"permission denied, you need to enable {word} access in plugin manifest"
