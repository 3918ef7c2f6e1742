"""Cassettes: the answers live backends gave, recorded at the Dify level, replayed offline.

A cassette is one YAML file: a list of entries, each the normalised request of one reverse call (credentials
redacted, audio and images replaced by their digest) and the chunks the plugin got, one per line, each with
`ms`, the time since the call began. An entry is written only once its answer is complete, and before the
plugin gets that answer's last chunk: an answer the plugin has in full is in the file, even if the mock is killed
right after. What happens to a cassette that exists is the record mode's (`mode_of`): an entry is never dropped
unless a call of this run records the same request again (`all`). The file is replaced atomically (a temporary file, fsync, rename, fsync of the folder), so a failed call or
a kill never leaves half an entry behind; a temporary file a killed mock left is removed at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import difflib
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dify_mock.answers.cassette_requests import canonical, differing_fields, normalise, without, yaml_block
from dify_mock.config.file import DEFAULT_CASSETTE, OLD_DEFAULT_CASSETTE
from dify_mock.config.settings import MAX_CASSETTE_NAME as MAX_NAME
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError
from dify_mock.store.disk import write_failure
from dify_mock.store.redaction import MASK, mask_text, redact

log = logging.getLogger("dify_mock.cassettes")

FORMAT_VERSION = 1
SUFFIX = ".yaml"
MAX_DIFF_LINES = 40
WIDE = 1 << 30  # one chunk, one line
Chunk = dict[str, Any]
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")  # .<cassette file>.<pid>.tmp, while Cassette.save writes

HEADER = """\
# dify-mock cassette: answers live model backends gave, recorded at the Dify level.
# Replay answers a call whose `request` equals an entry's (fields in `cassettes.ignore` left out);
# each chunk is what the plugin received, `ms` after the call began.
"""


NONE, ONCE, NEW_EPISODES, ALL = "none", "once", "new_episodes", "all"


def mode_of(record_dir: Path | None, replay_dir: Path | None) -> str:
    """The record mode when none is given: none with --replay only, all with --record only, new_episodes with both."""
    if record_dir is None:
        return NONE
    return ALL if replay_dir is None else NEW_EPISODES


class CassetteError(ValueError):
    """A cassette file cannot be read; the text names the file and what is wrong."""


class ReplayMismatch(ReverseError):
    """Strict replay found no entry for a call; the message holds a diff against the nearest entry."""


# --- Entries and files ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Entry:
    type: str
    request: dict[str, Any]
    chunks: list[tuple[float, Chunk]]
    answered_by: str
    uses: int = 0
    earlier: bool = False  # read from the file: recorded by an earlier run
    _text: str | None = field(default=None, repr=False)

    def text(self) -> str:
        """The entry as the file holds it; made once, since every save writes every entry again."""
        if self._text is None:
            head = yaml_block({"type": self.type, "answered_by": self.answered_by, "request": self.request})
            lines = ["- " + head.replace("\n", "\n  ").rstrip(" "), "  chunks:\n"]
            for ms, data in self.chunks:
                line = yaml.dump(
                    {"ms": ms, "data": data},
                    Dumper=_Dumper,
                    default_flow_style=True,
                    width=WIDE,
                    sort_keys=False,
                    allow_unicode=True,
                )
                lines.append(f"  - {line.strip()}\n")
            self._text = "".join(lines)
        return self._text

    def summary(self) -> str:
        request = self.request
        for message in reversed(request.get("prompt_messages") or []):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
                return f"prompt {_clip(text)}"
        for key in ("texts", "query", "content_text", "text", "file"):
            if key in request:
                return f"{key} {_clip(json.dumps(request[key], ensure_ascii=False))}"
        return _clip(canonical(request))


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(eq=False)
class Cassette:
    name: str
    path: Path
    entries: list[Entry] = field(default_factory=list)
    recorded: int = 0  # entries this run wrote
    replaced: int = 0  # of them, those that took the place of an earlier entry (record mode all)

    @classmethod
    def load(cls, name: str, path: Path) -> Cassette:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except OSError as error:
            raise CassetteError(f"{path}: cannot read the cassette: {error}") from None
        except yaml.YAMLError as error:
            raise CassetteError(f"{path}: not a readable cassette (YAML error: {error})") from None
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise CassetteError(f"{path}: not a dify-mock cassette (no `entries:` list)")
        if data.get("version") != FORMAT_VERSION:
            raise CassetteError(
                f"{path}: cassette format version {data.get('version')!r}; this dify-mock reads {FORMAT_VERSION}"
            )
        entries = []
        for number, item in enumerate(data["entries"], start=1):
            try:
                chunks = [(float(chunk["ms"]), dict(chunk["data"])) for chunk in item["chunks"]]
                entries.append(
                    Entry(
                        str(item["type"]), dict(item["request"]), chunks, str(item.get("answered_by", "")), earlier=True
                    )
                )
            except (KeyError, TypeError, ValueError) as error:
                raise CassetteError(
                    f"{path}: entry {number} is not an entry (type, request, chunks): {error}"
                ) from None
        return cls(name, path, entries)

    def text(self, secrets: Sequence[str] = ()) -> str:
        """The file's text: requests in block style, each chunk on one line."""
        lines = [HEADER, f"version: {FORMAT_VERSION}\n", "entries:\n" if self.entries else "entries: []\n"]
        text = "".join([*lines, *(entry.text() for entry in self.entries)])
        for secret in secrets:
            text = text.replace(secret, MASK)
        return mask_text(text)  # every secret value known, in any encoding

    def save(self, secrets: Sequence[str] = ()) -> None:
        """Replaces the file with one holding every entry; on an error the file on disk is left as it was."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{self.path.name}.{os.getpid()}.tmp"
        try:
            with temporary.open("w", encoding="utf-8") as file:
                file.write(self.text(secrets))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _sync_folder(folder)

    def unused(self) -> list[tuple[int, Entry]]:
        return [(number, entry) for number, entry in enumerate(self.entries, start=1) if entry.uses == 0]


def _sync_folder(folder: Path) -> None:
    """Makes a rename in `folder` durable; some file systems cannot sync a folder, and need not."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # an earlier process that had our pid: this one has written nothing yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(folder: Path) -> list[Path]:
    """Removes the temporary files of killed recorders (`.<cassette>.<pid>.tmp`, that pid gone); returns them."""
    removed = []
    for path in folder.glob(".*.tmp") if folder.is_dir() else []:
        found = TEMPORARY.match(path.name)
        if found and not _alive(int(found.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


# --- The library: where cassettes are read and written -------------------------------------------------


def cassette_name(name: str) -> str:
    """A file name for a cassette named after a test (`tests/test_x.py::test_y[1]` -> tests_test_x.py_test_y_1)."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip("._")
    if not cleaned:
        raise ValueError(f"{name!r} does not make a cassette name")
    return cleaned[:MAX_NAME]


@dataclass
class Recording:
    """The chunks of one answer as they pass; committed to the cassette only when the answer is complete."""

    library: Cassettes
    cassette: Cassette
    invoke_type: str
    request: dict[str, Any]
    answered_by: str
    started: float = field(default_factory=time.perf_counter)
    chunks: list[tuple[float, Chunk]] = field(default_factory=list)

    def add(self, chunk: Chunk) -> None:
        ms = round((time.perf_counter() - self.started) * 1000, 1)
        self.chunks.append((ms, redact(chunk)))

    def commit(self) -> None:
        """Writes the entry to disk; the answer's last chunk is sent only after this returns. In record mode `all`,
        it takes the place of the first earlier entry with the same request."""
        entry = Entry(self.invoke_type, self.request, self.chunks, self.answered_by, uses=1)
        entries = self.cassette.entries
        replaced = self.library.replaced_by(self.cassette, entry) if self.library.mode == ALL else None
        if replaced is not None:
            earlier, entries[replaced] = entries[replaced], entry
        else:
            entries.append(entry)
        try:
            self.cassette.save(self.library.secrets)
        except OSError as error:
            if replaced is not None:
                entries[replaced] = earlier
            else:
                entries.remove(entry)
            problem = write_failure(error, self.cassette.path.parent, "the cassette folder")
            raise ReverseError(
                f"recording failed: {problem}; this answer was not recorded and {self.cassette.path} is unchanged"
            ) from None
        self.library.recorded += 1
        self.library.replaced += replaced is not None
        self.cassette.recorded += 1
        self.cassette.replaced += replaced is not None


@dataclass
class Cassettes:
    """The cassettes of one run: replayed from `replay_dir`, recorded into `record_dir`."""

    record_dir: Path | None = None
    replay_dir: Path | None = None
    name: str = DEFAULT_CASSETTE
    per_test: bool = False
    timing: str = "instant"
    ignore: tuple[str, ...] = ()
    strict: bool = True
    mode: str | None = None  # the record mode; None: mode_of(the folders)
    secrets: tuple[str, ...] = ()
    recorded: int = 0
    replaced: int = 0  # entries of earlier runs that record mode `all` recorded again
    current: str | None = None
    _replaying: dict[str, Cassette | None] = field(default_factory=dict)
    _recording: dict[str, Cassette] = field(default_factory=dict)
    _existed: dict[str, bool] = field(default_factory=dict)  # per cassette: was its file there when first used

    def __post_init__(self) -> None:
        self.mode = self.mode or mode_of(self.record_dir, self.replay_dir)
        folder = self.record_dir or self.replay_dir
        if self.mode == NONE:
            self.replay_dir, self.record_dir = self.replay_dir or folder, None
        elif self.mode == ALL:
            self.replay_dir, self.record_dir = None, self.record_dir or folder
        else:
            self.replay_dir, self.record_dir = self.replay_dir or folder, self.record_dir or folder
        if self.record_dir is not None:
            for path in remove_leftovers(self.record_dir):
                log.warning("removed %s, a cassette half-written by a dify-mock that was killed", path)

    @property
    def replaying(self) -> bool:
        return self.replay_dir is not None

    @property
    def recording(self) -> bool:  # some cassette may be recorded (in mode once, only one that did not exist)
        return self.record_dir is not None

    def records_current(self) -> bool:
        """Whether a live answer now is recorded: never in mode none; in mode once, if the file was not there."""
        if self.record_dir is None:
            return False
        if self.mode != ONCE:
            return True
        name = self._current_name()
        if name not in self._existed:
            self._existed[name] = (self.record_dir / f"{name}{SUFFIX}").exists()
        return not self._existed[name]

    def replaced_by(self, cassette: Cassette, entry: Entry) -> int | None:
        """Where the first earlier entry with the entry's request is, if any (record mode `all`)."""
        key = canonical(without(entry.request, self.ignore))
        for index, old in enumerate(cassette.entries):
            if old.earlier and old.type == entry.type and canonical(without(old.request, self.ignore)) == key:
                return index
        return None

    def use(self, name: str) -> str:
        """Answers from now on come from, and go to, the cassette of this name (one per test)."""
        self.current = cassette_name(name)
        return self.current

    def _current_name(self) -> str:
        if self.current is not None:
            return self.current
        if self.per_test:
            raise ReverseError(
                "cassettes are per test (cassettes.per: test) but no test named its cassette yet: "
                'PUT /mock/cassette {"name": ...} (MockServer.use_cassette) before the calls'
            )
        return self.name

    def _replay_cassette(self, name: str) -> Cassette | None:
        if name not in self._replaying:
            assert self.replay_dir is not None
            path = self.replay_dir / f"{name}{SUFFIX}"
            if path.exists():
                self._replaying[name] = Cassette.load(name, path)
            elif name == DEFAULT_CASSETTE:
                self._replaying[name] = self._old_default(path)
            else:
                self._replaying[name] = None
        return self._replaying[name]

    def _old_default(self, path: Path) -> Cassette | None:
        """The run's cassette under its old default name, dify-mock.yaml, when there is one (and it is a cassette,
        not a config file of that name)."""
        old = path.with_name(f"{OLD_DEFAULT_CASSETTE}{SUFFIX}")
        if not old.exists():
            return None
        try:
            cassette = Cassette.load(DEFAULT_CASSETTE, old)
        except CassetteError:
            return None
        log.warning(
            "replaying %s, the cassette's old default name: rename it to %s (or pass --cassette %s)",
            old,
            path.name,
            OLD_DEFAULT_CASSETTE,
        )
        return cassette

    def preload(self) -> None:
        """Read the run's cassette now, so a broken file is reported at start-up."""
        if self.replaying and not self.per_test:
            self._replay_cassette(self.name)

    def find(self, call: ReverseCall, must_match: bool) -> tuple[Cassette, int, Entry] | None:
        """The entry answering this call; with must_match, ReplayMismatch (with a diff) when there is none."""
        name = self._current_name()
        try:
            cassette = self._replay_cassette(name)
        except CassetteError as error:
            raise ReverseError(f"replay: {error}") from None
        given = without(normalise(call.invoke_type, call.request), self.ignore)
        if cassette is not None:
            key = canonical(given)
            matches = [
                (number, entry)
                for number, entry in enumerate(cassette.entries, start=1)
                if entry.type == call.invoke_type and canonical(without(entry.request, self.ignore)) == key
            ]
            if matches:
                number, entry = next(((n, e) for n, e in matches if e.uses == 0), matches[-1])
                entry.uses += 1
                return cassette, number, entry
        if not must_match:
            return None
        assert self.replay_dir is not None
        raise ReplayMismatch(self._mismatch(cassette, self.replay_dir / f"{name}{SUFFIX}", call.invoke_type, given))

    def _mismatch(self, cassette: Cassette | None, path: Path, invoke_type: str, given: dict[str, Any]) -> str:
        lead = f"replay: no recorded {invoke_type} call matches this request (strict replay"
        lead += f"; ignoring {', '.join(self.ignore)}" if self.ignore else ""
        if self.mode == ONCE:
            lead += "; record mode once keeps a cassette that exists as it is: new_episodes adds new calls to it"
        lead += ")"
        if cassette is None:
            return f"{lead}: there is no cassette {path} (record it with --record-mode once)"
        candidates = [
            (number, entry, without(entry.request, self.ignore))
            for number, entry in enumerate(cassette.entries, start=1)
            if entry.type == invoke_type
        ]
        if not candidates:
            kinds = sorted({entry.type for entry in cassette.entries})
            held = f"it holds {', '.join(kinds)}" if kinds else "it is empty"
            return f"{lead}: {path} has no {invoke_type} entries ({held})"
        scored = [(differing_fields(recorded, given), number, recorded) for number, _, recorded in candidates]
        fields, number, recorded = min(scored, key=lambda item: (len(item[0]), item[1]))
        diff = list(
            difflib.unified_diff(
                yaml_block(recorded).splitlines(),
                yaml_block(given).splitlines(),
                f"recorded ({path.name} entry {number})",
                "this call",
                n=2,
                lineterm="",
            )
        )
        if len(diff) > MAX_DIFF_LINES:
            diff = [*diff[:MAX_DIFF_LINES], f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
        shown = ", ".join(fields[:5]) + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")
        return (
            f"{lead}: nearest is {path} entry {number}, {len(fields)} field{'s' if len(fields) != 1 else ''} "
            f"differ{'s' if len(fields) == 1 else ''} ({shown}):\n" + "\n".join(diff)
        )

    async def replay(self, entry: Entry) -> AsyncIterator[Chunk]:
        started = time.perf_counter()
        for ms, data in entry.chunks:
            if self.timing == "recorded":
                wait = ms / 1000 - (time.perf_counter() - started)
                if wait > 0:
                    await asyncio.sleep(wait)
            yield copy.deepcopy(data)

    def record(self, call: ReverseCall, answered_by: str) -> Recording:
        """Where one live answer goes: the cassette as it is on disk, whose entries are kept, and this run's."""
        name = self._current_name()
        cassette = self._recording.get(name)
        if cassette is None:
            assert self.record_dir is not None
            path = self.record_dir / f"{name}{SUFFIX}"
            try:
                if self.replay_dir == self.record_dir:
                    cassette = self._replay_cassette(name)
                elif path.exists():
                    cassette = Cassette.load(name, path)
            except CassetteError as error:
                raise ReverseError(
                    f"recording refused, so that nothing in it is lost: {error}; move the file away or repair it"
                ) from None
            cassette = cassette or Cassette(name, path)
            self._recording[name] = cassette
        return Recording(self, cassette, call.invoke_type, normalise(call.invoke_type, call.request), answered_by)

    def report(self) -> dict[str, Any]:
        """What was replayed and recorded, with the entries no call used."""
        cassettes = []
        for name, cassette in self._replaying.items():
            if cassette is None:
                continue
            unused = cassette.unused()
            cassettes.append(
                {
                    "name": name,
                    "path": str(cassette.path),
                    "entries": len(cassette.entries),
                    "replayed": len(cassette.entries) - len(unused),
                    "unused": [{"entry": n, "type": e.type, "summary": e.summary()} for n, e in unused],
                }
            )
        return {
            "mode": self.mode,
            "recording": str(self.record_dir) if self.record_dir is not None else None,
            "replaying": str(self.replay_dir) if self.replay_dir is not None else None,
            "current": self.current if self.current is not None else (None if self.per_test else self.name),
            "timing": self.timing,
            "recorded": self.recorded,
            "replaced": self.replaced,
            "cassettes": cassettes,
        }

    def recording_report(self) -> list[str]:
        """One line per cassette this run recorded into: what it added, replaced and kept (logged at the stop)."""
        return [
            f"cassette {cassette.path}: {cassette.recorded} entries recorded (record mode {self.mode}), "
            f"{cassette.replaced} of them in place of earlier ones; {sum(e.earlier for e in cassette.entries)} earlier "
            "entries kept"
            for cassette in self._recording.values()
            if cassette.recorded
        ]

    def unused_report(self) -> list[str]:
        """One line per cassette with entries no call replayed (logged when the mock stops)."""
        lines = []
        for item in self.report()["cassettes"]:
            if item["unused"]:
                listed = "; ".join(f"#{u['entry']} {u['type']} ({u['summary']})" for u in item["unused"][:10])
                more = f"; and {len(item['unused']) - 10} more" if len(item["unused"]) > 10 else ""
                lines.append(
                    f"cassette {item['path']}: {len(item['unused'])} of {item['entries']} entries never replayed: {listed}{more}"
                )
        return lines
