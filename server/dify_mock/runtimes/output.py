"""A plugin process's own output: its last lines kept for crash reports, the rest logged and journaled, with a
flood held back to a summary instead of drowning the mock's log."""

from __future__ import annotations

from collections import deque

from dify_mock.host import Host
from dify_mock.runtimes.plugin_log import LogLimiter

KEPT_LINES = 40
KEPT_LINE_CHARS = 1000


class ProcessOutput:
    def __init__(self, host: Host, tenant_id: str, plugin_id: str) -> None:
        self.plugin_id = plugin_id
        self.last: deque[str] = deque(maxlen=KEPT_LINES)
        self.limiter = LogLimiter(host, tenant_id, plugin_id)

    def line(self, level: str, text: str, source: str) -> None:
        """One line of output: kept, then logged and journaled unless the plugin floods its output."""
        self.lines(level, [text], source)

    def lines(self, level: str, texts: list[str], source: str) -> None:
        """Lines written together (a traceback, say): kept, then logged and journaled as one record."""
        kept = [text.rstrip() for text in texts if text.strip()]
        for text in kept:
            self.last.append(text if len(text) <= KEPT_LINE_CHARS else text[:KEPT_LINE_CHARS] + " […]")
        if kept:
            self.limiter.lines(level, kept, source)

    def flush(self) -> None:
        self.limiter.flush()

    def tail(self, lines: int = 20) -> str:
        """The plugin's last lines of output, indented for a log message."""
        kept = list(self.last)[-lines:]
        return "\n".join(f"    {line}" for line in kept) if kept else "    (it wrote nothing)"
