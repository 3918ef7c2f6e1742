"""A live backend that speaks the OpenAI API: Dify requests out, OpenAI answers back as Dify chunks.

Chat completions (streamed or not, tools, stop, structured output through `response_format`), embeddings,
rerank (`/rerank`, the Jina/Cohere shape), speech (`/audio/speech`, MP3), transcriptions and moderations.
Every failure is a BackendError naming the backend, the request and the HTTP status, with the API key
scrubbed from anything the backend said.
"""

from __future__ import annotations

import fnmatch
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from dify_mock.answers.faults import count_tokens
from dify_mock.answers.render import (
    Chunk,
    embedding_inputs,
    embedding_usage,
    llm_chunk,
    llm_usage,
    prompt_text,
    ranked_docs,
    rerank_docs,
)
from dify_mock.answers.rules import audio_format
from dify_mock.config.file import BackendConfig
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError
from dify_mock.store.redaction import MASK

SHOWN_BODY = 300
MIN_AUDIO_CHUNK = 16 * 1024
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
AUDIO_MIME = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
}


class BackendError(ReverseError):
    """A live backend failed; the message names the backend, what was asked and the HTTP status."""


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
            raise MalformedAnswer(f"a chunk is not a JSON object: {_show(chunk)}")
        if "error" in chunk:
            raise MalformedAnswer(f"the stream reported an error: {_error_text(chunk)}")
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise MalformedAnswer(f"a chunk has no `choices` list: {_show(chunk)}")
        for choice in choices[:1]:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if delta is None and isinstance(choice, dict):
                delta = choice.get("message")  # a complete (non-streamed) answer
            if not isinstance(delta, dict):
                raise MalformedAnswer(f"a choice has no `delta`: {_show(chunk)}")
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
            raise MalformedAnswer(f"a tool call is not an object: {_show(piece)}")
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
        prompt_tokens = _int(
            usage.get("prompt_tokens"), count_tokens(prompt_text(self.request.get("prompt_messages") or []))
        )
        completion_tokens = _int(usage.get("completion_tokens"), count_tokens(full_text))
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
            raise MalformedAnswer(f"the structured output is not JSON: {_show(text)}") from None
        if not isinstance(value, dict):
            raise MalformedAnswer(f"the structured output is not a JSON object: {_show(text)}")
        return value


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return repr(text[:SHOWN_BODY] + ("..." if len(text) > SHOWN_BODY else ""))


def _error_text(body: Any) -> str:
    """The `error.message` (or `detail`, `message`) of an error body, else the body itself."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("error", "detail", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return _show(body)


# --- The backend ---------------------------------------------------------------------------------------


class OpenAIBackend:
    """One configured OpenAI-compatible server. Its HTTP client is made on first use and closed by aclose()."""

    def __init__(self, name: str, config: BackendConfig) -> None:
        self.name = name
        self.config = config
        self._client: httpx.AsyncClient | None = None

    def describe(self) -> str:
        key = f", key from ${self.config.api_key_env}" if self.config.api_key_env else ""
        return f"{self.name}: OpenAI-compatible at {self.config.base_url}{key}"

    def key_problem(self) -> str | None:
        variable = self.config.api_key_env
        if variable and not os.environ.get(variable):
            return f"backend {self.name!r}: the environment variable {variable} (api_key_env) is not set"
        return None

    def secret(self) -> str | None:
        variable = self.config.api_key_env
        return os.environ.get(variable) or None if variable else None

    def serves(self, call: ReverseCall) -> bool:
        if call.invoke_type not in self.config.serves_types():
            return False
        only = self.config.only_models
        if only is not None and not any(
            fnmatch.fnmatchcase(str(call.request.get("model") or ""), name) for name in only
        ):
            return False
        providers = self.config.providers
        if providers is None:
            return True
        provider = str(call.request.get("provider") or "")
        return provider in providers or provider.rsplit("/", 1)[-1] in providers

    def model(self, request: dict[str, Any]) -> str:
        name = str(request.get("model") or "")
        return self.config.models.get(name, name)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.config.timeout), trust_env=False)
        return self._client

    def _headers(self) -> dict[str, str]:
        problem = self.key_problem()
        if problem is not None:
            raise BackendError(problem)
        key = self.secret()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _url(self, path: str) -> str:
        return f"{self.config.base_url}{path}"

    def _fail(self, what: str, problem: str) -> BackendError:
        text = f"backend {self.name!r} ({what}): {problem}"
        key = self.secret()
        return BackendError(text.replace(key, MASK) if key else text)

    # -- answers

    async def answer(self, call: ReverseCall) -> AsyncIterator[Chunk]:
        """The Dify chunks answering one call; BackendError when the backend fails."""
        match call.invoke_type:
            case "llm" | "llm_structured_output":
                async for chunk in self._chat(call):
                    yield chunk
            case "text_embedding":
                yield await self._embeddings(call)
            case "rerank":
                yield await self._rerank(call)
            case "tts":
                async for chunk in self._speech(call):
                    yield chunk
            case "speech2text":
                yield await self._transcription(call)
            case "moderation":
                yield await self._moderation(call)
            case _:
                raise BackendError(f"backend {self.name!r} cannot serve {call.invoke_type}")

    async def _chat(self, call: ReverseCall) -> AsyncIterator[Chunk]:
        started = time.perf_counter()
        structured = call.invoke_type == "llm_structured_output"
        body = chat_body(call.request, self.model(call.request), structured, self.config.stream_usage)
        what = f"POST {self._url('/chat/completions')}"
        translator = ChatTranslator(call.request, structured, started)
        async with self._stream("/chat/completions", json=body) as response:
            try:
                if response.headers.get("content-type", "").startswith("text/event-stream"):
                    done = False
                    async for data in self._events(response, what):
                        if data == "[DONE]":
                            done = True
                            break
                        for chunk in translator.feed(_json(data)):
                            yield chunk
                    if not done and translator.finish_reason is None:
                        raise MalformedAnswer("the stream ended before its last chunk ([DONE] never came)")
                else:
                    for chunk in translator.feed(_json((await response.aread()).decode("utf-8", "replace"))):
                        yield chunk
                closing = translator.finish()
            except MalformedAnswer as error:
                raise self._fail(what, f"HTTP {response.status_code} but {error}") from None
            except httpx.HTTPError as error:
                raise self._fail(what, _transport_problem(error, self.config.timeout)) from None
        yield closing

    async def _events(self, response: httpx.Response, what: str) -> AsyncIterator[str]:
        """The `data` of each server-sent event; anything that is not SSE is an error."""
        data: list[str] = []
        async for line in response.aiter_lines():
            if not line:
                if data:
                    yield "\n".join(data)
                    data = []
                continue
            field_name, colon, value = line.partition(":")
            if not colon or field_name not in ("data", "", "event", "id", "retry"):
                raise MalformedAnswer(f"the stream holds a line that is not server-sent events: {_show(line)}")
            if field_name == "data":
                data.append(value.removeprefix(" "))
        if data:
            yield "\n".join(data)

    async def _embeddings(self, call: ReverseCall) -> Chunk:
        started = time.perf_counter()
        texts = embedding_inputs(call.invoke_type, call.request)
        body = {"model": self.model(call.request), "input": texts, "encoding_format": "float"}
        answer, what = await self._post_json("/embeddings", body)
        try:
            rows = sorted(answer["data"], key=lambda row: row.get("index", 0))
            embeddings = [[float(value) for value in row["embedding"]] for row in rows]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._fail(what, f"the answer is not an embeddings list: {_show(answer)}") from None
        if len(embeddings) != len(texts):
            raise self._fail(what, f"{len(embeddings)} embeddings came back for {len(texts)} inputs")
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        tokens = _int(usage.get("prompt_tokens"), sum(count_tokens(text) for text in texts))
        return {
            "model": str(call.request.get("model") or ""),
            "embeddings": embeddings,
            "usage": embedding_usage(tokens, time.perf_counter() - started),
        }

    async def _rerank(self, call: ReverseCall) -> Chunk:
        docs = rerank_docs(call.invoke_type, call.request)
        body: dict[str, Any] = {
            "model": self.model(call.request),
            "query": call.request.get("query"),
            "documents": docs,
            "return_documents": False,
        }
        if isinstance(call.request.get("top_n"), int):
            body["top_n"] = call.request["top_n"]
        answer, what = await self._post_json("/rerank", body)
        scores = [float("-inf")] * len(docs)
        try:
            for row in answer["results"]:
                score = row.get("relevance_score", row.get("score"))
                scores[int(row["index"])] = float(score)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise self._fail(what, f"the answer is not a rerank result list: {_show(answer)}") from None
        ranked = [doc for doc in ranked_docs(call.request, docs, scores) if doc["score"] != float("-inf")]
        return {"model": str(call.request.get("model") or ""), "docs": ranked}

    async def _speech(self, call: ReverseCall) -> AsyncIterator[Chunk]:
        body = {
            "model": self.model(call.request),
            "input": str(call.request.get("content_text", "")),
            "voice": str(call.request.get("voice") or "alloy"),
            "response_format": "mp3",
        }
        what = f"POST {self._url('/audio/speech')}"
        pieces: list[bytes] = []
        async with self._stream("/audio/speech", json=body) as response:
            buffer = b""
            first = True
            try:
                async for data in response.aiter_bytes():
                    buffer += data
                    if first and len(buffer) >= 4:
                        if audio_format(buffer[:12].hex()) != "mp3":
                            kind = response.headers.get("content-type", "?")
                            raise self._fail(
                                what,
                                f"HTTP {response.status_code} but the answer is not MP3 ({kind}): {_show(buffer[:80].decode('utf-8', 'replace'))}",
                            )
                        first = False
                    if len(buffer) >= MIN_AUDIO_CHUNK:
                        pieces.append(buffer)
                        buffer = b""
            except httpx.HTTPError as error:
                raise self._fail(what, _transport_problem(error, self.config.timeout)) from None
            if buffer:
                pieces.append(buffer)
        if not pieces:
            raise self._fail(what, "the answer holds no audio")
        for piece in pieces:
            yield {"result": piece.hex(), "mime_type": "audio/mpeg"}

    async def _transcription(self, call: ReverseCall) -> Chunk:
        audio = bytes.fromhex(str(call.request.get("file", "")))
        kind = audio_format(audio[:12].hex()) or "mp3"
        files = {"file": (f"audio.{kind}", audio, AUDIO_MIME.get(kind, "application/octet-stream"))}
        data = {"model": self.model(call.request), "response_format": "json"}
        answer, what = await self._post_json("/audio/transcriptions", None, files=files, data=data)
        if not isinstance(answer.get("text"), str):
            raise self._fail(what, f"the answer has no `text`: {_show(answer)}")
        return {"result": answer["text"]}

    async def _moderation(self, call: ReverseCall) -> Chunk:
        body = {"model": self.model(call.request), "input": str(call.request.get("text", ""))}
        answer, what = await self._post_json("/moderations", body)
        try:
            flagged = any(bool(result["flagged"]) for result in answer["results"])
        except (KeyError, TypeError):
            raise self._fail(what, f"the answer is not a moderation result: {_show(answer)}") from None
        return {"result": flagged}

    # -- HTTP

    def _stream(self, path: str, **kwargs: Any) -> _Exchange:
        return _Exchange(self, path, kwargs)

    async def _post_json(self, path: str, body: dict[str, Any] | None, **kwargs: Any) -> tuple[dict[str, Any], str]:
        what = f"POST {self._url(path)}"
        if body is not None:
            kwargs["json"] = body
        async with self._stream(path, **kwargs) as response:
            try:
                raw = await response.aread()
            except httpx.HTTPError as error:
                raise self._fail(what, _transport_problem(error, self.config.timeout)) from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise self._fail(
                what, f"HTTP {response.status_code} but the body is not JSON: {_show(raw.decode('utf-8', 'replace'))}"
            ) from None
        if not isinstance(answer, dict):
            raise self._fail(what, f"HTTP {response.status_code} but the body is not a JSON object: {_show(answer)}")
        return answer, what


class _Exchange:
    """`async with`: one request whose answer is streamed; connection problems and HTTP errors become
    BackendErrors before the body is read."""

    def __init__(self, backend: OpenAIBackend, path: str, kwargs: dict[str, Any]) -> None:
        self.backend = backend
        self.path = path
        self.kwargs = kwargs
        self.what = f"POST {backend._url(path)}"
        self._context: Any = None

    async def __aenter__(self) -> httpx.Response:
        backend = self.backend
        headers = backend._headers()
        self._context = backend._http().stream("POST", backend._url(self.path), headers=headers, **self.kwargs)
        try:
            response: httpx.Response = await self._context.__aenter__()
        except httpx.HTTPError as error:
            raise backend._fail(self.what, _transport_problem(error, backend.config.timeout)) from None
        if response.status_code >= 400:
            try:
                raw = await response.aread()
                try:
                    detail = _error_text(json.loads(raw))
                except ValueError:
                    detail = _show(raw.decode("utf-8", "replace"))
            except httpx.HTTPError as error:
                detail = f"(the body could not be read: {error})"
            await self._context.__aexit__(None, None, None)
            raise backend._fail(self.what, f"HTTP {response.status_code} {response.reason_phrase}: {detail}")
        return response

    async def __aexit__(self, *exc: Any) -> None:
        await self._context.__aexit__(*exc)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise MalformedAnswer(f"a chunk is not JSON: {_show(text)}") from None


def _transport_problem(error: httpx.HTTPError, timeout: float) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"no answer within {timeout:g} s (timeout; no HTTP status)"
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect (no HTTP status): {error or type(error).__name__}"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"the connection broke off mid-answer: {error or type(error).__name__}"
    return f"{type(error).__name__}: {error}"
