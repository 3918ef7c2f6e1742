"""The command examples of README.md and docs/: found, and their shown output compared with what really comes out.

An example is a ```console block right after a `<!-- example: SETUP -->` comment. Each `$ ` line is a command
(a line ending in `\\` goes on), the lines after it until the next `$ ` are its output as shown. SETUP names what
has to run before it (a mock with plugins connected, for example): `tests/test_docs_examples.py` holds the setups.

Shown output and real output are compared after one normalisation, the same on both sides:
- a line that is only `...` stands for any number of lines, and `...` inside a line for any text;
- clock times (`08:57:19`, `08:57:19.622`), durations (`0.9 ms`, `2.3 s`) and process ids (`pid 27903`) are not
  compared;
- trailing spaces, and blank lines at the end, are not compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MARKER = re.compile(r"<!--\s*example:\s*(?P<setup>[\w-]+)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)\s*$")
CLOCK = re.compile(r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b")
DURATION = re.compile(r"\b\d+(?:\.\d+)? ?(?:ms|s)\b")
PID = re.compile(r"\bpid \d+")
ANY_LINES = "..."


@dataclass
class Command:
    text: str
    shown_output: list[str] = field(default_factory=list)


@dataclass
class Example:
    path: Path
    line: int
    setup: str
    commands: list[Command]

    @property
    def id(self) -> str:
        return f"{self.setup}@{self.path.name}:{self.line}"


@dataclass
class Block:
    path: Path
    line: int
    lang: str
    body: list[str]
    setup: str | None


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, with the example marker right before it, if any."""
    found: list[Block] = []
    lines = path.read_text().splitlines()
    setup: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = MARKER.search(line)
        fence = FENCE.match(line)
        if marker:
            setup = marker.group("setup")
        elif fence:
            start, body = index, []
            index += 1
            while index < len(lines) and not lines[index].strip().startswith("```"):
                body.append(lines[index][len(fence.group("indent")) :])
                index += 1
            found.append(Block(path, start + 1, fence.group("lang"), body, setup))
            setup = None
        elif line.strip():
            setup = None
        index += 1
    return found


def commands(body: list[str]) -> list[Command]:
    parsed: list[Command] = []
    continuing = False
    for line in body:
        if continuing:
            parsed[-1].text += "\n" + line
        elif line.startswith("$ "):
            parsed.append(Command(line[2:]))
        elif parsed:
            parsed[-1].shown_output.append(line)
        continuing = bool(parsed) and line.endswith("\\") and not parsed[-1].shown_output
    return parsed


def examples(paths: list[Path]) -> list[Example]:
    return [
        Example(block.path, block.line, block.setup, commands(block.body))
        for path in paths
        for block in blocks(path)
        if block.setup is not None and block.lang == "console"
    ]


def shows_a_session(block: Block) -> bool:
    """A block whose `$ ` command is followed by output: what has to be an example that is run."""
    parsed = commands(block.body)
    return any(command.shown_output for command in parsed)


def normalise(line: str) -> str:
    return PID.sub("pid <pid>", DURATION.sub("<duration>", CLOCK.sub("<time>", line))).rstrip()


def pattern(shown: list[str]) -> re.Pattern[str]:
    parts: list[str] = []
    for line in shown:
        if line.strip() == ANY_LINES:
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            pieces = normalise(line).split(ANY_LINES)
            parts.append("[^\n]*?".join(re.escape(piece) for piece in pieces) + r"\n")
    return re.compile("".join(parts))


def matches(shown: list[str], output: str) -> bool:
    actual = "".join(normalise(line) + "\n" for line in output.rstrip().splitlines())
    return pattern(shown).fullmatch(actual) is not None
