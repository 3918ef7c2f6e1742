"""Inner API throughput: concurrent clients each streaming `POST /inner/api/invoke/llm` (length-prefixed frames)
from dify-mock as a dify-plugin-daemon would, one after another on a keep-alive connection, against a bare
Starlette app that replays one response captured from the mock in the same run, byte for byte
(bench/inner_api_reference.py). The two servers are measured in alternating rounds so that both see the same
machine; every stream is decoded and checked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import uvloop

from bench import profile
from bench.common import (
    ROOT,
    BenchError,
    free_port,
    percentile,
    start_mock,
    stop_group,
    tail,
    wait_until,
)

ROUTE = "/inner/api/invoke/llm"
INNER_API_KEY = "dify-mock-bench-inner-api"
MODEL = "bench-inner-llm"
CHUNKS = ["The mock", " streams", " this", " fixed", " answer", " in", " sixteen", " pieces", " to", " every"]
CHUNKS += [" client", " that", " asks", " for", " it", "."]
ANSWER = "".join(CHUNKS)
USAGE = {"prompt_tokens": 12, "completion_tokens": len(CHUNKS)}
# what the daemon sends for a plugin's session.model.llm.invoke(...): the Go InvokeLLMRequest, re-marshalled
REQUEST: dict[str, Any] = {
    "tenant_id": str(uuid.UUID(int=7)),
    "user_id": "",
    "type": "llm",
    "provider": "langgenius/openai/openai",
    "model": MODEL,
    "mode": "chat",
    "completion_params": {"temperature": 0.7},
    "prompt_messages": [
        {"role": "system", "content": "be brief", "name": "", "tool_calls": None, "tool_call_id": ""},
        {"role": "user", "content": "tell me something", "name": "", "tool_calls": None, "tool_call_id": ""},
    ],
    "tools": None,
    "stop": None,
    "stream": True,
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inner_api")
    group.add_argument("--inner-api-clients", type=int, default=50, help="concurrent clients (default 50)")
    group.add_argument(
        "--inner-api-seconds", type=float, default=5.0, help="timed seconds per server and round (default 5)"
    )
    group.add_argument("--inner-api-rounds", type=int, default=3, help="alternating rounds per server (default 3)")
    group.add_argument(
        "--inner-api-warmup", type=float, default=1.0, help="untimed seconds before each round (default 1)"
    )
    group.add_argument(
        "--inner-api-profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="after the rounds, sample the mock with py-spy under the same load for this long and print where its "
        "time goes (default 0: off)",
    )
    group.add_argument(
        "--inner-api-client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw: a minimal HTTP/1.1 client on asyncio streams (default); httpx: httpx.AsyncClient",
    )


# the stream --------------------------------------------------------------------------------------------------------


def decode_frames(body: bytes) -> list[bytes]:
    """The data of each frame, checking every header byte as the daemon's LengthPrefixedChunking reads them; the
    body must end at a frame boundary."""
    frames = []
    offset = 0
    while offset < len(body):
        if len(body) - offset < 14:
            raise BenchError(f"a truncated frame header at offset {offset}")
        magic, reserved, header_length, length = struct.unpack_from("<BBHI", body, offset)
        if magic != 0x0F or reserved != 0 or header_length != 10 or any(body[offset + 8 : offset + 14]):
            raise BenchError(f"a bad frame header at offset {offset}: {body[offset : offset + 14].hex()}")
        data = body[offset + 14 : offset + 14 + length]
        if len(data) != length:
            raise BenchError(f"the frame at offset {offset} announces {length} bytes and has {len(data)}")
        frames.append(data)
        offset += 14 + length
    return frames


def check_stream(status: int, body: bytes) -> None:
    """Raise unless the response is the fixture's answer: every frame an envelope, the text complete, the usage
    on the last chunk only."""
    if status != 200:
        raise BenchError(f"{ROUTE} answered HTTP {status}: {body[:300]!r}")
    envelopes = [json.loads(frame) for frame in decode_frames(body)]
    if not envelopes:
        raise BenchError(f"{ROUTE} answered no frame")
    for envelope in envelopes:
        if envelope.get("error") != "" or not isinstance(envelope.get("data"), dict):
            raise BenchError(f"{ROUTE} streamed {envelope!r}")
    deltas = [envelope["data"]["delta"] for envelope in envelopes]
    text = "".join(delta["message"]["content"] for delta in deltas)
    if text != ANSWER:
        raise BenchError(f"{ROUTE} streamed the text {text!r}, not the fixture's {ANSWER!r}")
    usage = deltas[-1]["usage"]
    if not usage or usage["total_tokens"] != sum(USAGE.values()) or any(d["usage"] for d in deltas[:-1]):
        raise BenchError(f"{ROUTE} streamed the usage wrong: {[delta['usage'] for delta in deltas]}")


# the clients -------------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    http_chunks: int  # 0 when the client does not see them


class Connection(Protocol):
    async def post(self) -> Answer: ...

    async def aclose(self) -> None: ...


CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)")


class RawConnection:
    """One keep-alive HTTP/1.1 connection sending the same request again and again, as the daemon's Go client
    does; it reads chunked or sized bodies and nothing else."""

    def __init__(self, port: int) -> None:
        self.port = port
        content = json.dumps(REQUEST).encode()
        self.request = (
            f"POST {ROUTE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: Go-http-client/1.1\r\n"
            f"Content-Length: {len(content)}\r\nContent-Type: application/json\r\n"
            f"X-Inner-Api-Key: {INNER_API_KEY}\r\nAccept-Encoding: gzip\r\n\r\n"
        ).encode() + content
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self) -> Answer:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        lowered = head.lower()
        parts: list[bytes] = []
        if b"\r\ntransfer-encoding: chunked" in lowered:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers
                    break
                parts.append((await reader.readexactly(size + 2))[:-2])
        elif length := CONTENT_LENGTH.search(lowered):
            parts.append(await reader.readexactly(int(length[1])))
        else:
            raise BenchError(f"a response with neither chunks nor a length: {head!r}")
        if b"\r\nconnection: close" in lowered:
            await self.aclose()
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        return Answer(int(lines[0].split(" ", 2)[1]), b"".join(parts), headers, len(parts))

    async def aclose(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


class HttpxConnection:
    """A turn on a shared httpx.AsyncClient pool with as many connections as clients."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.content = json.dumps(REQUEST).encode()
        self.headers = {"Content-Type": "application/json", "X-Inner-Api-Key": INNER_API_KEY}

    async def post(self) -> Answer:
        response = await self.client.post(ROUTE, content=self.content, headers=self.headers)
        return Answer(response.status_code, response.content, dict(response.headers), 0)

    async def aclose(self) -> None:
        pass


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat (fields 14 and 15, after the command name)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


@dataclass
class Round:
    server: str
    latencies: list[float] = field(default_factory=list)  # seconds, streams that ended inside the window
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    failures: list[str] = field(default_factory=list)


async def measure(server: Server, arguments: argparse.Namespace) -> Round:
    """`clients` workers stream back to back for warmup + seconds; the window counts the streams that end in it."""
    result = Round(server.name)
    window: list[float] = []  # [start], then [start, end]
    pool = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.port}",
        limits=httpx.Limits(max_connections=arguments.inner_api_clients, max_keepalive_connections=None),
        timeout=60,
    )
    connections: list[Connection] = [
        RawConnection(server.port) if arguments.inner_api_client == "raw" else HttpxConnection(pool)
        for _ in range(arguments.inner_api_clients)
    ]

    async def worker(connection: Connection) -> None:
        while len(window) < 2 and not result.failures:
            began = time.perf_counter()
            try:
                answer = await connection.post()
                ended = time.perf_counter()
                check_stream(answer.status, answer.body)
            except Exception as failed:  # a stream that breaks in any way is a functional failure
                result.failures.append(f"{server.name}: a stream failed: {type(failed).__name__}: {failed}")
                return
            if window and window[0] <= ended and (len(window) == 1 or ended <= window[1]):
                result.latencies.append(ended - began)

    async def clock() -> None:
        await asyncio.sleep(arguments.inner_api_warmup)
        server_cpu, client_cpu = process_cpu_seconds(server.process.pid), own_cpu_seconds()
        window.append(time.perf_counter())
        await asyncio.sleep(arguments.inner_api_seconds)
        window.append(time.perf_counter())
        result.server_cpu = process_cpu_seconds(server.process.pid) - server_cpu
        result.client_cpu = own_cpu_seconds() - client_cpu
        result.seconds = window[1] - window[0]

    try:
        await asyncio.gather(clock(), *(worker(connection) for connection in connections))
    finally:
        for connection in connections:
            await connection.aclose()
        await pool.aclose()
    return result


# the servers -------------------------------------------------------------------------------------------------------


def start_reference(workdir: Path, captured: Path) -> Server:
    log = workdir / "reference.log"
    port = free_port()
    command = [sys.executable, "-m", "bench.inner_api_reference", "--port", str(port), "--body", str(captured)]
    command += ["--key", INNER_API_KEY]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            wait_until("the reference", lambda: client.get("/health/check").status_code == 200, process, log)
    except BenchError:
        stop_group(process)
        raise
    return Server("reference", process, port, log)


def write_fixture(workdir: Path) -> Path:
    """One llm rule streaming CHUNKS; JSON is YAML, so no YAML writer is needed."""
    rule = {"name": "bench-inner-api", "match": {"model": MODEL}, "reply": {"chunks": CHUNKS, "usage": USAGE}}
    path = workdir / "inner_api.yaml"
    path.write_text(json.dumps({"llm": [rule]}, indent=2))
    return path


def same_wire(mock: Answer, reference: Answer) -> list[str]:
    """What differs between the captured mock response and the reference's replay, beyond the Date header."""
    differences = []
    if reference.body != mock.body:
        differences.append(f"the reference's body differs ({len(reference.body)} bytes, the mock's {len(mock.body)})")
    if reference.http_chunks != mock.http_chunks:
        differences.append(f"the reference wrote {reference.http_chunks} HTTP chunks, the mock {mock.http_chunks}")
    for name in sorted((set(mock.headers) | set(reference.headers)) - {"date"}):
        if mock.headers.get(name) != reference.headers.get(name):
            differences.append(
                f"header {name}: mock {mock.headers.get(name)!r}, reference {reference.headers.get(name)!r}"
            )
    return [f"the reference does not send what the mock sent: {difference}" for difference in differences]


async def one_answer(port: int) -> Answer:
    connection = RawConnection(port)
    try:
        return await connection.post()
    finally:
        await connection.aclose()


# the section -------------------------------------------------------------------------------------------------------


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    failures: list[str] = []
    servers: list[Server] = []
    rounds: list[Round] = []
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        try:
            extra_args = ["--fixtures", str(write_fixture(workdir)), "--inner-api-key", INNER_API_KEY]
            process, port, _ = start_mock(workdir, extra_args=extra_args)
            servers.append(Server("dify-mock", process, port, workdir / "mock.log"))
            captured = runner.run(one_answer(port))
            check_stream(captured.status, captured.body)
            (workdir / "captured.bin").write_bytes(captured.body)
            servers.append(start_reference(workdir, workdir / "captured.bin"))
            failures += same_wire(captured, runner.run(one_answer(servers[1].port)))
            print(
                f"{arguments.inner_api_clients} clients ({arguments.inner_api_client}), POST {ROUTE}: "
                f"{len(decode_frames(captured.body))} frames, {len(captured.body)} bytes per stream; "
                f"{arguments.inner_api_rounds} rounds of {arguments.inner_api_warmup:g} s warm-up + "
                f"{arguments.inner_api_seconds:g} s per server, alternating\n"
            )
            for _ in range(arguments.inner_api_rounds):
                for server in servers:
                    measured = runner.run(measure(server, arguments))
                    rounds.append(measured)
                    failures += measured.failures[:1]
                    if not measured.failures and not measured.latencies:
                        failures.append(f"{server.name}: no stream ended in a {arguments.inner_api_seconds:g} s window")
                    if measured.failures:
                        failures.append(f"{server.name} log:\n{tail(server.log)}")
                if failures:
                    break
            if arguments.inner_api_profile > 0 and not failures:
                failures += profile_mock(runner, servers[0], arguments, workdir)
        except (BenchError, OSError, EOFError, ValueError) as failed:
            failures.append(f"inner_api: {type(failed).__name__}: {failed}")
        finally:
            for server in servers:
                stop_group(server.process)
    if rounds and not failures:
        print_report(rounds)
    return failures


def profile_mock(runner: asyncio.Runner, mock: Server, arguments: argparse.Namespace, workdir: Path) -> list[str]:
    """One more round on the mock, sampled by py-spy; prints the profile's top lines (or why there is none)."""
    seconds = arguments.inner_api_profile
    raw = workdir / "inner_api.profile.txt"
    try:
        spy = profile.start(mock.process.pid, seconds, raw)
    except FileNotFoundError as missing:
        print(f"\nno profile: {missing}")
        return []
    timed = argparse.Namespace(**{**vars(arguments), "inner_api_seconds": seconds + 1, "inner_api_warmup": 0.0})
    measured = runner.run(measure(mock, timed))
    _, problems = spy.communicate(timeout=seconds + 30)
    if spy.returncode != 0 or not raw.exists():  # not allowed to trace, say: the timings above still stand
        print(f"\nno profile: py-spy exited with {spy.returncode}: {problems.decode(errors='replace')[-500:]}")
        return measured.failures[:1]
    print(f"\nprofile of dify-mock over {seconds:g} s of the same load ({len(measured.latencies)} streams), by py-spy:")
    print("\n".join(profile.top_lines(raw)))
    shares = profile.layer_shares(raw)
    print("own time by layer: " + ", ".join(f"{name} {share:.0%}" for name, share in shares.items()))
    print(
        "(the reference pays uvicorn's writes too; py-spy also counts the event loop while it waits for the GIL "
        "that the journal's writer thread holds, in the frame it waits in)"
    )
    return measured.failures[:1]


def print_report(rounds: list[Round]) -> None:
    header = (
        f"{'server':<10} {'streams':>8} {'streams/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'server CPU ms/stream':>21} {'server CPU':>11} {'client CPU':>11}"
    )
    print(header)
    print("-" * len(header))
    totals: dict[str, tuple[float, float, float]] = {}
    for name in ("dify-mock", "reference"):
        mine = [measured for measured in rounds if measured.server == name]
        latencies = [latency * 1000 for measured in mine for latency in measured.latencies]
        seconds = sum(measured.seconds for measured in mine)
        server_cpu = sum(measured.server_cpu for measured in mine)
        client_cpu = sum(measured.client_cpu for measured in mine)
        rate = len(latencies) / seconds
        totals[name] = (rate, percentile(latencies, 0.5), server_cpu * 1000 / len(latencies))
        print(
            f"{name:<10} {len(latencies):>8} {rate:>10.1f} {percentile(latencies, 0.5):>8.2f} "
            f"{percentile(latencies, 0.99):>8.2f} {totals[name][2]:>21.3f} "
            f"{server_cpu / seconds:>10.0%} {client_cpu / seconds:>10.0%}"
        )
    mock, reference = totals["dify-mock"], totals["reference"]
    rate, cpu = mock[0] / reference[0], mock[2] / reference[2]
    print(
        f"\ndify-mock / reference: streams/s {rate:.2f}x, p50 {mock[1] / reference[1]:.2f}x, "
        f"server CPU per stream {cpu:.2f}x"
    )
    print(
        f"targets: streams/s at least 0.7x: {'met' if rate >= 0.7 else 'missed'} ({rate:.2f}x); CPU per stream at "
        f"most 2x: {'met' if cpu <= 2 else 'missed'} ({cpu:.2f}x)"
    )
    if rate < 0.7 or cpu > 2:
        print(
            "what the gap is: the mock matches a rule, renders, encodes and journals every stream where the reference "
            "sends bytes it has; --inner-api-profile (on in `make bench`) shows the layers. What would remove most "
            "of it: journal writes that do not hold the event loop's GIL (a writer process, or fewer and larger "
            "batches from memory; docs/performance.md measures the journal at about 0.2x of streams/s), and a "
            "static rule's chunks rendered once instead of per call."
        )
    for name in ("dify-mock", "reference"):
        per_round = " ".join(f"{len(m.latencies) / m.seconds:.0f}" for m in rounds if m.server == name)
        print(f"streams/s per round, {name}: {per_round}")
    print("(CPU columns: share of one core over the timed windows; client = this benchmark process)")
