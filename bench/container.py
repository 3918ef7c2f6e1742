"""docker/Dockerfile's figures, measured with a real container engine: `python -m bench.container [--runs 3]`.

- the image's size, and what dify-mock adds to the base image (target: under 60 MB), layer by layer;
- a cold build (`--no-cache`: every dependency downloaded), then a rebuild after a one-line change in server/
  (target: under 5 s), against the reference of a rebuild with nothing changed, measured in the same run;
- from `docker run` to the first answer on the published port, and to "healthy" (target: healthy within 5 s of
  answering), against the reference of `docker run --rm BASE python -c pass` (what the engine itself costs).

It builds from a copy of the repository's files (`git ls-files`, plus uv.lock), so the one-line change never touches
the checkout, under a tag of its own that it removes at the end; the engine's layer cache stays. Needs an engine
that answers `docker info` (../shared/tools/container/up on machines without one). The load average is printed with
the figures: on a shared machine, every figure here grows with it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import machine_info

ROOT = Path(__file__).resolve().parent.parent
CHANGED_FILE = Path("server/dify_mock/http/mock.py")
ADDED_TARGET_MB = 60
REBUILD_TARGET_S = 5
HEALTHY_AFTER_ANSWER_TARGET_S = 5
WAIT = 300


def docker(*args: str, timeout: float = 1800) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:3])}...: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def timed(*args: str) -> float:
    started = time.perf_counter()
    docker(*args)
    return time.perf_counter() - started


def context_copy(into: Path) -> Path:
    """The repository's files as a build context of their own."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in [*(file.decode() for file in files if file), "uv.lock"]:
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def base_image() -> str:
    for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG BASE="):
            return line.partition("=")[2].strip()
    raise SystemExit("docker/Dockerfile: no ARG BASE line")


def megabytes(size: int) -> float:
    return size / 1_000_000  # as `docker images` counts


def sizes(tag: str, base: str) -> list[str]:
    image, base_size = (int(docker("image", "inspect", "-f", "{{.Size}}", name)) for name in (tag, base))
    lines = [
        f"image {megabytes(image):.1f} MB = base {megabytes(base_size):.1f} MB + dify-mock's "
        f"{megabytes(image - base_size):.1f} MB (target: under {ADDED_TARGET_MB} MB)",
        "what dify-mock adds, layer by layer:",
    ]
    base_layers = len(docker("history", "-q", base).split())
    history = docker("history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", tag).splitlines()
    for line in history[: len(history) - base_layers]:
        size, created = line.split("\t", 1)
        if size not in ("0B", "0"):
            lines.append(f"    {size:>8}  {created.replace('/bin/sh -c #(nop) ', '')[:100]}")
    return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_times(tag: str) -> tuple[float, float]:
    """Seconds from `docker run` to the first answer of /health/check through the published port, and to healthy."""
    name, port = f"{tag.split(':')[0]}-start-{secrets.token_hex(3)}", free_port()
    started = time.perf_counter()
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:5002", "-e", "DIFY_MOCK_KEY=k",
           "-e", "DIFY_MOCK_SERVER_KEY=s", tag)  # fmt: skip
    try:
        answered = healthy = None
        with httpx.Client(timeout=2) as client:
            while answered is None:
                try:
                    if client.get(f"http://127.0.0.1:{port}/health/check").status_code == 200:
                        answered = time.perf_counter() - started
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > WAIT:
                    state = docker("inspect", "-f", "{{json .State}}", name)
                    logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
                    raise SystemExit(f"no answer on port {port} within {WAIT} s: {state}\n{logs.stdout}{logs.stderr}")
                time.sleep(0.02)
        while healthy is None:
            if docker("inspect", "-f", "{{.State.Health.Status}}", name).strip() == "healthy":
                healthy = time.perf_counter() - started
            elif time.perf_counter() - started > WAIT:
                raise SystemExit(f"not healthy within {WAIT} s")
            time.sleep(0.02)
        return answered, healthy
    finally:
        docker("rm", "-f", name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.container", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rebuilds and starts to take the median of")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold (--no-cache) build")
    arguments = parser.parse_args(argv)
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        print("no container engine answers `docker info` (../shared/tools/container/up starts one)", file=sys.stderr)
        return 2
    print("\n".join(machine_info()))
    print(f"engine   {docker('version', '-f', 'server {{.Server.Version}}').strip()}")
    tag, base = f"dify-mock-bench-{secrets.token_hex(4)}:latest", base_image()
    build = ["build", "-q", "-f", "docker/Dockerfile", "-t", tag]
    with tempfile.TemporaryDirectory(prefix="dify-mock-bench-container-") as temporary:
        context = context_copy(Path(temporary))
        try:
            print(f"load     {os.getloadavg()[0]:.1f} (1-minute average) at the start\n")
            if not arguments.no_cold:
                print(f"cold build (--no-cache):                 {timed(*build, '--no-cache', str(context)):6.1f} s")
            else:
                timed(*build, str(context))
            unchanged, changed = [], []
            for run in range(arguments.runs):
                unchanged.append(timed(*build, str(context)))
                with (context / CHANGED_FILE).open("a") as source:
                    source.write(f"# bench.container: one line changed ({run}, {secrets.token_hex(4)})\n")
                changed.append(timed(*build, str(context)))
            rebuild, reference = statistics.median(changed), statistics.median(unchanged)
            print(
                f"rebuild after one line in {CHANGED_FILE}: {rebuild:6.1f} s median of {arguments.runs} "
                f"({', '.join(f'{value:.1f}' for value in changed)}; target: under {REBUILD_TARGET_S} s)"
            )
            print(f"reference, a rebuild with no change:     {reference:6.1f} s median ({rebuild / reference:.1f}x)\n")
            print("\n".join(sizes(tag, base)) + "\n")
            engine = statistics.median(
                timed("run", "--rm", base, "python", "-c", "pass") for _ in range(arguments.runs)
            )
            starts = [start_times(tag) for _ in range(arguments.runs)]
            answered = statistics.median(answer for answer, _ in starts)
            healthy = statistics.median(health for _, health in starts)
            gaps = [health - answer for answer, health in starts]
            print(f"docker run -> answering on the port:     {answered:6.1f} s median of {arguments.runs}")
            print(
                f"docker run -> healthy:                   {healthy:6.1f} s median; after answering: "
                f"{', '.join(f'{gap:.1f}' for gap in gaps)} s (target: within {HEALTHY_AFTER_ANSWER_TARGET_S} s)"
            )
            print(f"reference, docker run --rm {base} python -c pass: {engine:.1f} s median")
            print(f"\nload     {os.getloadavg()[0]:.1f} (1-minute average) at the end")
        finally:
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
