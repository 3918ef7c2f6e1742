"""Where a server process spends its time: py-spy samples it while a section loads it, and the stacks are summed per
function, by its own time (the function was running) and by inclusive time (it was on the stack).

py-spy (`pip install py-spy`, in the dev extras) reads the process from outside, so the server runs unchanged; it
needs permission to trace another process (root, or kernel.yama.ptrace_scope = 0).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"(?P<function>.*) \((?P<path>.*):\d+\)$")
RATE = 250  # samples per second


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """py-spy recording `pid` for `seconds` into `output` (raw collapsed stacks); raises FileNotFoundError
    without py-spy."""
    executable = py_spy()
    if executable is None:
        raise FileNotFoundError("py-spy is not installed (pip install py-spy)")
    command = [executable, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    command += ["--rate", str(RATE), "--format", "raw", "--output", str(output), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def short_name(frame: str) -> str:
    """`function (package/module.py)`: the path cut after site-packages/ or the server's folder."""
    matched = FRAME.match(frame)
    if matched is None:
        return frame
    path = re.sub(r".*/site-packages/", "", matched["path"])
    path = re.sub(r".*/server/", "", path)
    path = re.sub(r".*/lib/python3\.\d+/", "", path)
    return f"{matched['function']} ({path})"


LAYERS = {  # own time by where the sampled frame's code lives: these add up, with "other", to all samples
    "uvicorn's reads and writes": ("uvicorn/",),
    "the journal": ("dify_mock/store/",),
    "answering (rules, rendering, the reverse handler)": ("dify_mock/answers/", "dify_mock/reverse/"),
    "the HTTP face and the wire format": ("dify_mock/http/", "dify_mock/protocol/", "starlette/", "fastapi/"),
}


def stacks(raw: Path) -> list[tuple[list[str], int]]:
    found = []
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack and samples.isdigit():
            found.append(([short_name(frame) for frame in stack.split(";")], int(samples)))
    return found


def layer_shares(raw: Path) -> dict[str, float]:
    """The share of all samples whose running frame is in each of LAYERS, and "other"."""
    shares: Counter[str] = Counter()
    total = 0
    for frames, samples in stacks(raw):
        total += samples
        leaf = frames[-1]
        name = next((name for name, prefixes in LAYERS.items() if any(p in leaf for p in prefixes)), "other")
        shares[name] += samples
    return {name: shares[name] / total for name in (*LAYERS, "other")} if total else {}


def top_lines(raw: Path, count: int = 20) -> list[str]:
    """The `count` functions with the most own time, then those with the most inclusive time, as percentages
    of all samples. Frames of the interpreter's start-up (runpy, the CLI, the event loop) are left out of the
    inclusive list: everything runs under them."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for frames, samples in stacks(raw):
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if total == 0:
        return ["(no samples)"]
    outer = ("runpy", "dify_mock/cli/", "__main__", "startup/serve.py", "asyncio/runners", "uvloop/", "threading.py")
    lines = [f"{total} samples; own time:"]
    lines += [f"  {samples / total:6.1%}  {name}" for name, samples in own.most_common(count)]
    lines.append("inclusive time:")
    kept = [(name, samples) for name, samples in inclusive.most_common() if not any(o in name for o in outer)]
    lines += [f"  {samples / total:6.1%}  {name}" for name, samples in kept[:count]]
    return lines
