"""A plugin process's own output: its last lines kept for crash reports, the rest logged and journaled, with a
flood held back to a summary instead of drowning the mock's log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from dify_mock.host import Host
from dify_mock.runtimes.events import record_plugin_log

log = logging.getLogger("dify_mock.plugin")

KEPT_LINES = 40
KEPT_LINE_CHARS = 1000
LINES_PER_SECOND = 50


class ProcessOutput:
    def __init__(self, host: Host, tenant_id: str, plugin_id: str) -> None:
        self.host = host
        self.tenant_id = tenant_id
        self.plugin_id = plugin_id
        self.last: deque[str] = deque(maxlen=KEPT_LINES)
        self.window = 0
        self.in_window = 0
        self.held_back = 0
        self.summary: asyncio.TimerHandle | None = None

    def line(self, level: str, text: str, source: str) -> None:
        """One line of output: kept, then logged and journaled unless the plugin floods its output."""
        self.lines(level, [text], source)

    def lines(self, level: str, texts: list[str], source: str) -> None:
        """Lines written together (a traceback, say): kept, then logged and journaled as one record."""
        kept = [text.rstrip() for text in texts if text.strip()]
        for text in kept:
            self.last.append(text if len(text) <= KEPT_LINE_CHARS else text[:KEPT_LINE_CHARS] + " […]")
        second = int(time.monotonic())
        if second != self.window:
            self.flush()
            self.window, self.in_window = second, 0
        room = max(0, LINES_PER_SECOND - self.in_window)
        self.in_window += len(kept)
        if len(kept) > room:
            self.held_back += len(kept) - room
            if self.summary is None:  # say so within a second, even if the plugin then falls silent
                self.summary = asyncio.get_running_loop().call_later(1.0, self.flush)
        if kept[:room]:
            text = "\n    ".join(kept[:room])
            record_plugin_log(self.host, self.tenant_id, self.plugin_id, level, text, source)

    def flush(self) -> None:
        if self.summary is not None:
            self.summary.cancel()
            self.summary = None
        if self.held_back:
            log.warning(
                "[%s] floods its output: %d more lines held back from the log (more than %d a second); "
                "the last ones are kept for its crash report",
                self.plugin_id,
                self.held_back,
                LINES_PER_SECOND,
            )
            self.held_back = 0

    def tail(self, lines: int = 20) -> str:
        """The plugin's last lines of output, indented for a log message."""
        kept = list(self.last)[-lines:]
        return "\n".join(f"    {line}" for line in kept) if kept else "    (it wrote nothing)"
