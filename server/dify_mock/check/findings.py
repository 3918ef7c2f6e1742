"""What a check found: one `Finding` per check, gathered into one `PluginReport` per plugin."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"  # a failure only with --strict
    FAIL = "fail"
    NETWORK = "network"  # needs a third-party service; not the plugin's failure
    SKIP = "skip"


@dataclass
class Finding:
    check: str  # what was checked: "manifest", "icon", "tool weather/get_weather", "permission llm"...
    status: Status
    message: str
    file: str | None = None
    line: int | None = None
    seconds: float = 0.0
    hosts: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class PluginReport:
    path: str
    plugin_id: str | None = None
    version: str | None = None
    category: str | None = None  # tool, model, extension, agent-strategy, datasource, trigger
    findings: list[Finding] = field(default_factory=list)
    registered: bool = False
    entry_points: int = 0
    invoked: int = 0  # entry points that answered (or failed only for want of the network)
    reverse_calls: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        return finding

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for finding in self.findings:
            counts[finding.status.value] += 1
        return counts

    def failed(self, strict: bool = False) -> bool:
        failing = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
        return any(finding.status in failing for finding in self.findings)

    @property
    def hosts(self) -> list[str]:
        return sorted({host for finding in self.findings for host in finding.hosts})

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["hosts"] = self.hosts
        data["counts"] = self.counts()
        return data
