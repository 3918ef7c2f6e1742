"""A small, deterministic server that speaks the OpenAI API, for testing dify-mock's live backends.

    python tests/openai_standin.py --port 8400 [--api-key-env STANDIN_KEY]

Serves /v1/chat/completions (streamed or not, tools, stop, response_format json_schema), /v1/embeddings,
/v1/rerank (Jina/Cohere shape), /v1/audio/speech (MP3), /v1/audio/transcriptions and /v1/moderations.
A chat whose system message teaches ReAct (`Action:` / `Observation:`) gets ReAct steps: an Action on the first
tool listed after "tools:", then, once an observation is in the prompt, a Final Answer quoting it.
With --api-key-env, requests must carry `Authorization: Bearer <that variable's value>`.

Knobs for bad behaviour, set with `POST /_control` (JSON; replaces the previous knobs, `{}` resets):
    status: 503, message: "..."      answer this HTTP status with an OpenAI-style error body
    echo_key: true                   put the Authorization header the request carried into error messages
    delay: 2.5                       wait this long before answering at all
    chunk_delay: 0.2                 wait this long between streamed chunks
    malformed_json: true             answer 200 with a body that is not JSON
    garbage: true                    stream lines that are not server-sent events
    cut_after: 2                     stream 2 chunks, then drop the connection (no [DONE])
    times: 1                         the knobs apply to this many requests, then reset
`GET /_requests` lists what was received (path, JSON body or form fields, Authorization header);
`DELETE /_requests` forgets it. The `StandIn` class starts this file as a subprocess for tests.
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import email.policy
import hashlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WORD = re.compile(r"\S+\s*")
OBSERVATION = re.compile(r"Observation:[ \t]*(.*)")
REACT_TOOLS = re.compile(r"tools: ([\w, -]+)\.")
DIMENSIONS = 8


class State:
    def __init__(self, api_key: str | None) -> None:
        self.api_key = api_key
        self.lock = threading.Lock()
        self.knobs: dict[str, Any] = {}
        self.requests: list[dict[str, Any]] = []

    def take_knobs(self) -> dict[str, Any]:
        with self.lock:
            knobs = dict(self.knobs)
            if "times" in self.knobs:
                self.knobs["times"] -= 1
                if self.knobs["times"] <= 0:
                    self.knobs = {}
            return knobs


# --- Deterministic answers -----------------------------------------------------------------------------


def sample(schema: Any, name: str = "") -> Any:
    if not isinstance(schema, dict):
        return "value"
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {key: sample(sub, key) for key, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [sample(schema.get("items"), name)]
    if kind == "integer":
        return 7
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return "Paris" if name == "city" else f"{name or 'text'} value"


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def react_step(messages: list[dict[str, Any]]) -> str | None:
    """A ReAct step, when a system message teaches the format (`Action:` and `Observation:`): an Action on the first
    tool it lists after "tools:" until an observation is in the prompt, then a Final Answer quoting it."""
    system = next((text_of(m.get("content")) for m in messages if m.get("role") == "system"), "")
    if "Action:" not in system or "Observation:" not in system:
        return None
    observations = [
        found.strip()
        for message in messages
        if message.get("role") == "assistant"
        for found in OBSERVATION.findall(text_of(message.get("content")))
    ]
    if observations:
        return f"Thought: I know it now.\nFinal Answer: The tool said: {observations[-1]}"
    listed = REACT_TOOLS.search(system)
    tool = listed.group(1).split(",")[0].strip() if listed else "none"
    question = next((text_of(m.get("content")) for m in messages if m.get("role") == "user"), "")
    blob = json.dumps({"action": tool, "action_input": {"query": question}})
    return f"Thought: {tool} will know.\nAction: {blob}"


def chat_answer(body: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """(text pieces, tool calls) for a chat request."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    tools = body.get("tools") or []
    if tools and last.get("role") != "tool":
        function = tools[0]["function"]
        arguments = json.dumps(sample(function.get("parameters") or {}))
        return [], [{"id": "call_standin_1", "name": function["name"], "arguments": arguments}]
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        text = json.dumps(sample(response_format["json_schema"].get("schema") or {}))
        third = max(1, len(text) // 3)
        return [text[:third], text[third : 2 * third], text[2 * third :]], []
    react = react_step(messages)
    if react is not None:
        text = react
    elif last.get("role") == "tool":
        text = f"The tool said: {text_of(last.get('content'))}"
    else:
        user = [m for m in messages if m.get("role") == "user"]
        text = f"Stand-in says: {text_of(user[-1].get('content')) if user else 'nothing'}"
    pieces = WORD.findall(text)
    for word in body.get("stop") or []:
        joined = "".join(pieces)
        if word in joined:
            cut = joined.index(word)
            kept, length = [], 0
            for piece in pieces:
                if length + len(piece) > cut:
                    if cut > length:
                        kept.append(piece[: cut - length])
                    break
                kept.append(piece)
                length += len(piece)
            pieces = kept
    return pieces, []


def embedding(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    vector = [(byte - 127.5) / 127.5 for byte in digest[:DIMENSIONS]]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def mp3(text: str) -> bytes:
    import lameenc

    rate = 16000
    frames = int(rate * (0.3 + 0.02 * len(text)))
    pitch = 300 + (sum(text.encode()) % 400)
    pcm = b"".join(
        int(8000 * math.sin(2 * math.pi * pitch * i / rate)).to_bytes(2, "little", signed=True) for i in range(frames)
    )
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm) + encoder.flush())


# --- HTTP ----------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StandInServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Streamed chunks are small writes: without this, each waits on Nagle and a delayed ACK (~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode())

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "type": "invalid_request_error", "code": None}})

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _piece(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    # -- routes

    def do_GET(self) -> None:
        if self.path == "/_requests":
            with self.server.state.lock:
                self._json(200, {"requests": list(self.server.state.requests)})
        elif self.path == "/health":
            self._json(200, {"ok": True})
        else:
            self._error(404, f"no route {self.path}")

    def do_DELETE(self) -> None:
        with self.server.state.lock:
            self.server.state.requests.clear()
        self._json(200, {"cleared": True})

    def do_POST(self) -> None:
        raw = self._body()
        state = self.server.state
        if self.path == "/_control":
            with state.lock:
                state.knobs = json.loads(raw or b"{}")
            self._json(200, {"knobs": state.knobs})
            return
        authorization = self.headers.get("Authorization")
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            body: dict[str, Any] = self._form(raw, content_type)
        else:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._error(400, "the body is not JSON")
                return
        with state.lock:
            state.requests.append({"path": self.path, "body": body, "authorization": authorization})
        knobs = state.take_knobs()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(body, authorization, knobs)

    def _form(self, raw: bytes, content_type: str) -> dict[str, Any]:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            fields[str(name)] = {"filename": filename, "bytes": len(data)} if filename else data.decode()
        return fields

    def _answer(self, body: dict[str, Any], authorization: str | None, knobs: dict[str, Any]) -> None:
        if knobs.get("delay"):
            time.sleep(float(knobs["delay"]))
        expected = self.server.state.api_key
        if expected and authorization != f"Bearer {expected}":
            shown = f": {authorization}" if knobs.get("echo_key") else ""
            self._error(401, f"Incorrect API key provided{shown}")
            return
        if knobs.get("status"):
            message = str(knobs.get("message") or "the stand-in was told to fail")
            if knobs.get("echo_key"):
                message += f" (you sent {authorization})"
            self._error(int(knobs["status"]), message)
            return
        if knobs.get("malformed_json"):
            self._send(200, b'{"id": "oops", "choices": [{"message": ', "application/json")
            return
        routes = {
            "/v1/chat/completions": self._chat,
            "/v1/embeddings": self._embeddings,
            "/v1/rerank": self._rerank,
            "/v1/audio/speech": self._speech,
            "/v1/audio/transcriptions": self._transcription,
            "/v1/moderations": self._moderation,
        }
        route = routes.get(self.path)
        if route is None:
            self._error(404, f"no route {self.path}")
            return
        route(body, knobs)

    def _chat(self, body: dict[str, Any], knobs: dict[str, Any]) -> None:
        pieces, calls = chat_answer(body)
        model = body.get("model")
        finish = "tool_calls" if calls else "stop"
        prompt_tokens = sum(len(text_of(m.get("content")).split()) for m in body.get("messages") or [])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces) + 5 * len(calls)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": "".join(pieces) if not calls else None}
            if calls:
                message["tool_calls"] = [
                    {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                    for c in calls
                ]
            self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage,
                },
            )
            return
        events: list[dict[str, Any]] = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
        ]
        events += [{**base, "choices": [{"index": 0, "delta": {"content": piece}}]} for piece in pieces]
        for number, call in enumerate(calls):
            half = len(call["arguments"]) // 2
            head = {
                "index": number,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"][:half]},
            }
            tail = {"index": number, "function": {"arguments": call["arguments"][half:]}}
            events += [{**base, "choices": [{"index": 0, "delta": {"tool_calls": [part]}}]} for part in (head, tail)]
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "choices": [], "usage": usage})
        self._start_stream("text/event-stream")
        if knobs.get("garbage"):
            self._piece(b"<html><body>502 Bad Gateway</body></html>\n\n")
            self._piece(b"data: {not json at all\n\n")
            self._end_stream()
            return
        for number, event in enumerate(events):
            if knobs.get("cut_after") is not None and number >= int(knobs["cut_after"]):
                self._cut()
                return
            if number and knobs.get("chunk_delay"):
                time.sleep(float(knobs["chunk_delay"]))
            self._piece(f"data: {json.dumps(event)}\n\n".encode())
        self._piece(b"data: [DONE]\n\n")
        self._end_stream()

    def _embeddings(self, body: dict[str, Any], knobs: dict[str, Any]) -> None:
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        data = [{"object": "embedding", "index": i, "embedding": embedding(t)} for i, t in enumerate(texts)]
        tokens = sum(len(t.split()) for t in texts)
        self._json(
            200,
            {
                "object": "list",
                "model": body.get("model"),
                "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _rerank(self, body: dict[str, Any], knobs: dict[str, Any]) -> None:
        query = words(str(body.get("query", "")))
        documents = [str(d) for d in body.get("documents") or []]
        scores = [round(len(query & words(d)) / (len(query) or 1), 4) for d in documents]
        order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))
        if isinstance(body.get("top_n"), int):
            order = order[: body["top_n"]]
        results = [{"index": i, "relevance_score": scores[i]} for i in order]
        self._json(
            200,
            {
                "id": "rerank-standin",
                "model": body.get("model"),
                "results": results,
                "usage": {"total_tokens": len(documents)},
            },
        )

    def _speech(self, body: dict[str, Any], knobs: dict[str, Any]) -> None:
        audio = mp3(str(body.get("input", "")))
        self._start_stream("audio/mpeg")
        third = len(audio) // 3 + 1
        for start in range(0, len(audio), third):
            if start and knobs.get("chunk_delay"):
                time.sleep(float(knobs["chunk_delay"]))
            self._piece(audio[start : start + third])
        self._end_stream()

    def _transcription(self, body: dict[str, Any], knobs: dict[str, Any]) -> None:
        file = body.get("file") or {}
        self._json(
            200, {"text": f"transcribed {file.get('bytes')} bytes of {file.get('filename')} with {body.get('model')}"}
        )

    def _moderation(self, body: dict[str, Any], knobs: dict[str, Any]) -> None:
        flagged = "dangerous" in str(body.get("input", "")).lower()
        result = {
            "flagged": flagged,
            "categories": {"violence": flagged},
            "category_scores": {"violence": 0.9 if flagged else 0.01},
        }
        self._json(200, {"id": "modr-standin", "model": body.get("model"), "results": [result]})


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: State) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state


# --- Starting it from tests ----------------------------------------------------------------------------


class StandIn:
    """This file run as a subprocess; `url` is its /v1 base URL."""

    def __init__(self, api_key_env: str | None = None, env: dict[str, str] | None = None, port: int = 0) -> None:
        args = [sys.executable, str(Path(__file__).resolve()), "--port", str(port)]
        if api_key_env:
            args += ["--api-key-env", api_key_env]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError(f"the OpenAI stand-in did not start: {line!r}")
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        response = httpx.request(method, f"http://127.0.0.1:{self.port}{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def control(self, **knobs: Any) -> None:
        self._call("POST", "/_control", knobs)

    def requests(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_requests")["requests"]
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument("--api-key-env", help="require `Bearer $VARIABLE` on every request")
    arguments = parser.parse_args()
    api_key = os.environ.get(arguments.api_key_env) if arguments.api_key_env else None
    if arguments.api_key_env and not api_key:
        raise SystemExit(f"the variable {arguments.api_key_env} is not set")
    server = StandInServer(arguments.port, State(api_key))
    print(f"openai-standin listening on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
