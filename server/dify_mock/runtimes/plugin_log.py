"""What a plugin logs or prints: into the mock's log and its journal, a flood held back to a count of what was
dropped, so that one plugin cannot drown the log or push the other plugins' entries out of the journal."""

from __future__ import annotations

import asyncio
import logging
import time

from dify_mock.host import Host

log = logging.getLogger("dify_mock.plugin")
LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def record_plugin_log(host: Host, tenant_id: str, plugin_id: str, level: str, message: str, source: str) -> None:
    """One line the plugin logged or printed: into the mock's log and its journal (kind `log`)."""
    level = level.upper() if level.upper() in LEVELS else "INFO"
    log.log(LEVELS[level], "[%s] %s", plugin_id, message)
    entry = host.journal.start("log", level.lower(), tenant_id, plugin_id, "", {"message": message, "source": source})
    host.journal.finish(entry, answered_by="plugin")


class LogLimiter:
    """At most `--plugin-log-rate` lines a second of one plugin are logged and journalled; past that they are
    counted, and within a second one warning, in the log and the journal, says how many were dropped."""

    def __init__(self, host: Host, tenant_id: str, plugin_id: str) -> None:
        self.host = host
        self.tenant_id = tenant_id
        self.plugin_id = plugin_id
        self.per_second = host.settings.plugin_log_rate
        self.window = 0
        self.in_window = 0
        self.held_back = 0
        self.summary: asyncio.TimerHandle | None = None

    def lines(self, level: str, texts: list[str], source: str) -> None:
        """Lines written together (a traceback, say): one record, as far as the second's room goes."""
        second = int(time.monotonic())
        if second != self.window:
            self.flush()
            self.window, self.in_window = second, 0
        room = max(0, self.per_second - self.in_window)
        self.in_window += len(texts)
        if len(texts) > room:
            self.held_back += len(texts) - room
            if self.summary is None:  # say so within a second, even if the plugin then falls silent
                self.summary = asyncio.get_running_loop().call_later(1.0, self.flush)
        if texts[:room]:
            record_plugin_log(self.host, self.tenant_id, self.plugin_id, level, "\n    ".join(texts[:room]), source)

    def flush(self) -> None:
        if self.summary is not None:
            self.summary.cancel()
            self.summary = None
        if self.held_back:
            text = (
                f"floods its output: {self.held_back} lines were dropped from the log and the journal "
                f"(more than {self.per_second} a second; --plugin-log-rate)"
            )
            self.held_back = 0
            record_plugin_log(self.host, self.tenant_id, self.plugin_id, "WARNING", text, "dify-mock")
