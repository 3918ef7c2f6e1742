"""Fixture files loaded again while the mock runs: when one changes on disk (watched with watchfiles), or on
`POST /mock/reload`. Plugin connections are not touched. A file with an error keeps the earlier rules in force, and
the reason is one line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dify_mock.answers.rules.book import API, RuleBook
from dify_mock.answers.rules.models import FixtureError

log = logging.getLogger("dify_mock")

DEBOUNCE_MS = 200  # an editor's save is often a few writes and a rename: one reload for them all


@dataclass(frozen=True)
class Reloaded:
    ok: bool
    line: str  # what happened, in one line
    error: str | None = None  # every problem found, one per line, when not ok
    rules: dict[str, dict[str, int]] | None = None


def reload_rules(book: RuleBook) -> Reloaded:
    try:
        counts = book.reload()
    except FixtureError as error:
        problems = str(error).splitlines()
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        line = f"fixtures not reloaded, the earlier rules stay: {problems[0]}{more}"
        return Reloaded(False, line, str(error), book.counts())
    from_files = {source: per_key for source, per_key in counts.items() if source != API}
    rules = sum(sum(per_key.values()) for per_key in from_files.values())
    files = len(from_files)
    line = f"fixtures reloaded: {rules} rule{'s' if rules != 1 else ''} from {files} file{'s' if files != 1 else ''}"
    return Reloaded(True, line, None, counts)


def log_reload(result: Reloaded, book: RuleBook) -> None:
    if not result.ok:
        log.warning("%s", result.line)
        return
    log.info("%s", result.line)
    for warning in book.warnings():
        log.warning("%s", warning)


def _watched_filter(paths: list[Path]) -> Callable[[Any, str], bool]:
    folders = [path.resolve() for path in paths if path.is_dir()]
    files = {path.resolve() for path in paths if not path.is_dir()}

    def wanted(change: Any, name: str) -> bool:
        path = Path(name).resolve()
        if path in files:
            return True
        if path.suffix.lower() not in (".yaml", ".yml"):
            return False
        for folder in folders:
            if path.is_relative_to(folder) and not any(p.startswith(".") for p in path.relative_to(folder).parts):
                return True
        return False

    return wanted


async def watch_fixtures(book: RuleBook) -> None:
    """Reloads the book each time one of its fixture files changes, until cancelled. A folder given is watched
    with its subfolders; a file given is watched through its folder (alone), so that editors that save by
    renaming are seen too."""
    paths = [path for path in book.paths if path.exists()]
    if not paths:
        return
    wanted = _watched_filter(paths)
    folders = {str(path) for path in paths if path.is_dir()}
    parents = {str(path.parent) for path in paths if not path.is_dir()} - folders
    changed = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_reload_on(changed, book))
            for root in sorted(folders):
                group.create_task(_watch(root, True, wanted, changed))
            for root in sorted(parents):
                group.create_task(_watch(root, False, wanted, changed))
    except* (OSError, RuntimeError) as errors:  # no inotify left, a folder removed: reloads stay on demand
        log.warning(
            "fixture files are no longer watched (%s): POST /mock/reload loads them again", errors.exceptions[0]
        )


async def _watch(root: str, recursive: bool, wanted: Callable[[Any, str], bool], changed: asyncio.Event) -> None:
    from watchfiles import awatch  # a Rust extension: loaded only when there is something to watch

    async for _ in awatch(root, watch_filter=wanted, debounce=DEBOUNCE_MS, recursive=recursive):
        changed.set()


async def _reload_on(changed: asyncio.Event, book: RuleBook) -> None:
    while True:
        await changed.wait()
        changed.clear()
        result = await asyncio.to_thread(reload_rules, book)
        log_reload(result, book)
