"""Dify's model requests as OpenAI chat requests, and OpenAI chat answers as the Dify chunks the SDK parses.

Pure: no I/O. `answers/openai.py` sends what this builds and feeds it what the backend answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dify_mock.answers.faults import count_tokens
from dify_mock.answers.render import Chunk, llm_chunk, llm_usage, prompt_text
from dify_mock.protocol.reverse_call import ReverseError

SHOWN_BODY = 300
# completion_params Dify sends that mean the same in the OpenAI API.
CHAT_PARAMETERS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "logit_bias",
    "user",
    "reasoning_effort",
)

# --- Dify request -> OpenAI request (pure) -------------------------------------------------------------


def openai_messages(prompt_messages: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in prompt_messages:
        if not isinstance(message, dict):
            raise ReverseError(f"a prompt message is not an object: {str(message)[:80]}")
        role = str(message.get("role") or "user")
        item: dict[str, Any] = {"role": role, "content": _content(message.get("content"), role)}
        if message.get("name"):
            item["name"] = message["name"]
        if role == "assistant" and message.get("tool_calls"):
            item["tool_calls"] = [
                {
                    "id": call.get("id") or f"call_{number}",
                    "type": "function",
                    "function": {
                        "name": (call.get("function") or {}).get("name", ""),
                        "arguments": (call.get("function") or {}).get("arguments", ""),
                    },
                }
                for number, call in enumerate(message["tool_calls"], start=1)
            ]
        if role == "tool":
            item["tool_call_id"] = message.get("tool_call_id") or ""
        out.append(item)
    return out


def _content(content: Any, role: str) -> Any:
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ReverseError(f"a {role} message's content is neither text nor a list of parts")
    if role != "user":
        return "".join(str(part.get("data", "")) for part in content if isinstance(part, dict))
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": part.get("data", "")})
        elif kind == "image":
            detail = part.get("detail") if part.get("detail") in ("low", "high", "auto") else "auto"
            parts.append({"type": "image_url", "image_url": {"url": _data_url(part), "detail": detail}})
        elif kind == "audio":
            parts.append(
                {
                    "type": "input_audio",
                    "input_audio": {"data": part.get("base64_data", ""), "format": part.get("format", "")},
                }
            )
        elif kind == "document":
            parts.append(
                {"type": "file", "file": {"file_data": _data_url(part), "filename": part.get("filename") or "document"}}
            )
        else:
            raise ReverseError(f"the OpenAI API has no way to send a {kind!r} content part")
    return parts


def _data_url(part: dict[str, Any]) -> str:
    return str(part.get("url") or f"data:{part.get('mime_type', '')};base64,{part.get('base64_data', '')}")


def chat_body(request: dict[str, Any], model: str, structured: bool, stream_usage: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": openai_messages(request.get("prompt_messages") or [])}
    params = request.get("completion_params") or {}
    body.update({name: params[name] for name in CHAT_PARAMETERS if params.get(name) is not None})
    if params.get("response_format") in ("json_object", "text"):
        body["response_format"] = {"type": params["response_format"]}
    tools = request.get("tools") or []
    if tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.get("name"),
                    "description": tool.get("description", ""),
                    "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
                },
            }
            for tool in tools
        ]
    stop = [word for word in request.get("stop") or [] if isinstance(word, str)]
    if stop:
        body["stop"] = stop
    if structured:
        schema = request.get("structured_output_schema")
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "structured_output", "schema": schema if isinstance(schema, dict) else {}},
        }
    stream = request.get("stream") is not False
    body["stream"] = stream
    if stream and stream_usage:
        body["stream_options"] = {"include_usage": True}
    return body


# --- OpenAI chat answer -> Dify chunks (pure) ----------------------------------------------------------


class MalformedAnswer(ValueError):
    """The backend's answer does not have the shape of the API it claims to speak."""


@dataclass
class ChatTranslator:
    """Turns OpenAI chat chunks into Dify LLM chunks: text as it comes, then one closing chunk with the
    tool calls (their streamed fragments joined), the usage and the finish reason."""

    request: dict[str, Any]
    structured: bool
    started: float
    index: int = 0
    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None

    @property
    def model(self) -> str:
        return str(self.request.get("model") or "")

    def feed(self, chunk: Any) -> Iterator[Chunk]:
        if not isinstance(chunk, dict):
            raise MalformedAnswer(f"a chunk is not a JSON object: {shown(chunk)}")
        if "error" in chunk:
            raise MalformedAnswer(f"the stream reported an error: {error_text(chunk)}")
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise MalformedAnswer(f"a chunk has no `choices` list: {shown(chunk)}")
        for choice in choices[:1]:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if delta is None and isinstance(choice, dict):
                delta = choice.get("message")  # a complete (non-streamed) answer
            if not isinstance(delta, dict):
                raise MalformedAnswer(f"a choice has no `delta`: {shown(chunk)}")
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
            for call in delta.get("tool_calls") or []:
                self._tool_call_piece(call)
            content = delta.get("content")
            if isinstance(content, str) and content:
                self.text.append(content)
                if self.request.get("stream") is not False:
                    yield self._chunk(content, [], None, None)

    def _tool_call_piece(self, piece: Any) -> None:
        if not isinstance(piece, dict):
            raise MalformedAnswer(f"a tool call is not an object: {shown(piece)}")
        number = piece.get("index", len(self.calls))
        call = self.calls.setdefault(int(number), {"id": "", "name": "", "arguments": ""})
        call["id"] = piece.get("id") or call["id"]
        function = piece.get("function") or {}
        call["name"] = function.get("name") or call["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call["arguments"] += arguments
        elif isinstance(arguments, dict):
            call["arguments"] += json.dumps(arguments)

    def finish(self) -> Chunk:
        """The closing chunk (or, for a non-streamed call, the only one)."""
        if self.finish_reason is None and not self.text and not self.calls:
            raise MalformedAnswer("the answer ended before any content or finish_reason")
        tool_calls = [
            {
                "id": call["id"] or f"call_{number + 1}",
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            }
            for number, call in sorted(self.calls.items())
        ]
        full_text = "".join(self.text)
        usage = self.usage or {}
        prompt_tokens = as_int(
            usage.get("prompt_tokens"), count_tokens(prompt_text(self.request.get("prompt_messages") or []))
        )
        completion_tokens = as_int(usage.get("completion_tokens"), count_tokens(full_text))
        finish = self.finish_reason or ("tool_calls" if tool_calls else "stop")
        streamed = self.request.get("stream") is not False
        closing = self._chunk(
            "" if streamed else full_text,
            tool_calls,
            llm_usage(prompt_tokens, completion_tokens, time.perf_counter() - self.started),
            finish,
        )
        if self.structured:
            closing["structured_output"] = self._structured_output(full_text)
        return closing

    def _chunk(self, content: str, tool_calls: list[dict[str, Any]], usage: Any, finish: str | None) -> Chunk:
        chunk = llm_chunk(self.model, self.index, content, tool_calls, usage, finish)
        if self.structured:
            chunk["structured_output"] = None
        self.index += 1
        return chunk

    def _structured_output(self, text: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except ValueError:
            raise MalformedAnswer(f"the structured output is not JSON: {shown(text)}") from None
        if not isinstance(value, dict):
            raise MalformedAnswer(f"the structured output is not a JSON object: {shown(text)}")
        return value


def as_int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return repr(text[:SHOWN_BODY] + ("..." if len(text) > SHOWN_BODY else ""))


def error_text(body: Any) -> str:
    """The `error.message` (or `detail`, `message`) of an error body, else the body itself."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("error", "detail", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return shown(body)
