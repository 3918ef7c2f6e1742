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
from collections.abc import AsyncIterator
from typing import Any

import httpx

from dify_mock.answers.faults import count_tokens
from dify_mock.answers.openai_translation import (
    ChatTranslator,
    MalformedAnswer,
    as_int,
    chat_body,
    error_text,
    shown,
)
from dify_mock.answers.render import (
    Chunk,
    embedding_inputs,
    embedding_usage,
    ranked_docs,
    rerank_docs,
)
from dify_mock.answers.rules import audio_format
from dify_mock.config.file import BackendConfig
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError
from dify_mock.protocol.words import plural
from dify_mock.store.redaction import MASK, remember_secret

MIN_AUDIO_CHUNK = 16 * 1024
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
        remember_secret(key)
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
                raise MalformedAnswer(f"the stream holds a line that is not server-sent events: {shown(line)}")
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
            raise self._fail(what, f"the answer is not an embeddings list: {shown(answer)}") from None
        if len(embeddings) != len(texts):
            raise self._fail(
                what, f"{plural(len(embeddings), 'embedding')} came back for {plural(len(texts), 'input')}"
            )
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        tokens = as_int(usage.get("prompt_tokens"), sum(count_tokens(text) for text in texts))
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
        top_n = call.request.get("top_n")
        if isinstance(top_n, int) and top_n > 0:  # 0: none given (the daemon forwards Go's zero value)
            body["top_n"] = top_n
        answer, what = await self._post_json("/rerank", body)
        scores = [float("-inf")] * len(docs)
        try:
            for row in answer["results"]:
                score = row.get("relevance_score", row.get("score"))
                scores[int(row["index"])] = float(score)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            raise self._fail(what, f"the answer is not a rerank result list: {shown(answer)}") from None
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
                                f"HTTP {response.status_code} but the answer is not MP3 ({kind}): {shown(buffer[:80].decode('utf-8', 'replace'))}",
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
            raise self._fail(what, f"the answer has no `text`: {shown(answer)}")
        return {"result": answer["text"]}

    async def _moderation(self, call: ReverseCall) -> Chunk:
        body = {"model": self.model(call.request), "input": str(call.request.get("text", ""))}
        answer, what = await self._post_json("/moderations", body)
        try:
            flagged = any(bool(result["flagged"]) for result in answer["results"])
        except (KeyError, TypeError):
            raise self._fail(what, f"the answer is not a moderation result: {shown(answer)}") from None
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
                what, f"HTTP {response.status_code} but the body is not JSON: {shown(raw.decode('utf-8', 'replace'))}"
            ) from None
        if not isinstance(answer, dict):
            raise self._fail(what, f"HTTP {response.status_code} but the body is not a JSON object: {shown(answer)}")
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
                    detail = error_text(json.loads(raw))
                except ValueError:
                    detail = shown(raw.decode("utf-8", "replace"))
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
        raise MalformedAnswer(f"a chunk is not JSON: {shown(text)}") from None


def _transport_problem(error: httpx.HTTPError, timeout: float) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"no answer within {timeout:g} s (timeout; no HTTP status)"
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect (no HTTP status): {error or type(error).__name__}"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"the connection broke off mid-answer: {error or type(error).__name__}"
    return f"{type(error).__name__}: {error}"
