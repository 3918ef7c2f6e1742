"""What a plugin gets of a reverse call when the daemon relays it from Dify's inner API: answers re-encoded from the
daemon's Go structs, and failures in the daemon's words.

Answers: the daemon decodes each of Dify's LLM chunks into its struct and encodes it again (protocol/chunks.py
`as_go_llm_chunk`).

Failures:
The daemon calls Dify for most reverse types. A streaming route (llm, structured output, tts, tool, app) that fails
before its first answer is an HTTP 400 from Dify, which the daemon quotes whole; any other failure is the `error` of
Dify's envelope. The daemon's task for the type puts its own words before either (`invoke llm model failed: `, or
`read llm model failed: ` once answers have come). Storage never reaches Dify: the daemon answers it itself.
"""

from __future__ import annotations

import json
from typing import Any

from dify_mock.protocol.chunks import as_go_llm_chunk

# The inner API routes that stream (http/inner_api.py STREAMING_ROUTES), by invoke type.
STREAMING = frozenset({"llm", "llm_structured_output", "tts", "tool", "app"})
READ_FAILED = {
    "llm": "read llm model failed",
    "llm_structured_output": "read llm with structured output model failed",
    "tts": "read tts model failed",
    "tool": "read tool response failed",
    "app": "read app failed",
}
ANSWERED_BY_THE_DAEMON = frozenset({"storage"})


def dify_error_body(message: str) -> str:
    """The body of Dify's 400 for a call that fails before it starts (its ExternalApi `invalid_param`)."""
    return json.dumps(
        {"code": "invalid_param", "message": message, "status": 400}, ensure_ascii=False, separators=(",", ":")
    )


def as_relayed(invoke_type: str, invoke_failed: str, error: str, answered: bool) -> str:
    """`error` (what Dify's side said) as the plugin reads it through the daemon; `invoke_failed` is the daemon's
    prefix for the type, `answered` whether answers had come before the failure."""
    if invoke_type in ANSWERED_BY_THE_DAEMON or not invoke_failed:
        return error
    if invoke_type in STREAMING:
        if answered:
            return f"{READ_FAILED[invoke_type]}: request failed: {error}"
        return f"{invoke_failed}: request failed with status code: 400 and respond with: {dify_error_body(error)}"
    return f"{invoke_failed}: request failed: {error}"


LLM_TYPES = frozenset({"llm", "llm_structured_output"})


def as_relayed_answer(invoke_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """One answer as the daemon passes it on to the plugin."""
    return as_go_llm_chunk(data) if invoke_type in LLM_TYPES else data


def as_forwarded(invoke_type: str, request: dict[str, Any]) -> dict[str, Any]:
    """A plugin's request as the daemon forwards it to Dify, where that changes what Dify answers: a parameter
    extractor's `required` is a Go bool, false when left out."""
    parameters = request.get("parameters")
    if invoke_type != "node_parameter_extractor" or not isinstance(parameters, list):
        return request
    decoded = [{**p, "required": bool(p.get("required"))} if isinstance(p, dict) else p for p in parameters]
    return {**request, "parameters": decoded}
