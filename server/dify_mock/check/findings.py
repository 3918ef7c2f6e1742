"""What a check found: one `Finding` per check, gathered into one `PluginReport` per plugin.

An entry point (a tool, a model type, an event...) ends in one of three verdicts, by the rules of `RULES`, which
`verdicts.py` applies and `docs/official-plugins.md` prints:

- **verified** (`Status.PASS`): it ran to a normal answer;
- **not exercised** (`Status.SKIP`, with a `Reason`): something we cannot give it stood in the way;
- **plugin bug** (`Status.FAIL`): it crashed on a request Dify would send, shown with the plugin's file and line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"  # a failure only with --strict
    FAIL = "fail"
    SKIP = "skip"


class Reason(StrEnum):
    """Why an entry point was not exercised."""

    NETWORK = "needs network"
    CREDENTIALS = "needs real credentials"
    OAUTH = "needs OAuth"
    INPUT = "sample input refused"
    ERROR_ANSWER = "answered only with an error"
    HUNG = "hung"
    NOT_REACHED = "not reached"  # Dify would not call it after what came before (no event dispatched, say)


DEFECT = "dify-mock defect"  # how a finding that the mock or the check itself broke begins, and its verdict

# The rule table: (verdict, the condition), in the order they are tried. docs/official-plugins.md prints it.
RULES: tuple[tuple[str, str], ...] = (
    ("not exercised: not reached", "Dify would not make the call: dispatch returned no such event, "
     "the provider has no form to validate, the subscription could not be made"),
    ("not exercised: hung", "no answer within --invoke-timeout (the hosts the proxy refused meanwhile are named)"),
    ("plugin bug", "a crash no input or network state can cause (NameError, ImportError, an attribute a module "
     "lacks), with its file and line"),
    ("not exercised: needs network", "the check's proxy refused a request during the call (whatever the plugin made "
     "of the refusal, even a normal-looking answer), or the error is a client's connection error"),
    ("not exercised: (the validation's reason), or needs OAuth", "a crash of the kind below (KeyError...) in a "
     "call with credentials that its model provider's validation did not pass (Dify stores only credentials that "
     "validated, with what the validation returned); a KeyError with made-up OAuth tokens (Dify stores what the "
     "plugin's OAuth exchange returns)"),
    ("plugin bug", "an error no plugin raises on purpose (KeyError, TypeError, AttributeError, IndexError, "
     "NameError, NotImplementedError, ZeroDivisionError...) anywhere in the plugin's traceback, also when a credential "
     "validation wraps it in its own error; shown with the deepest frame in the plugin's own files; or a reverse "
     "call its manifest does not grant (permission denied)"),
    ("not exercised: needs OAuth", "any other error from a provider whose credentials come only from OAuth "
     "(it got made-up tokens)"),
    ("not exercised: needs real credentials", "a credentials error (CredentialsValidateFailedError, "
     "ToolProviderCredentialValidationError, InvokeAuthorizationError...), any error from a credential validation, "
     "or any other error after its provider refused the made-up credentials"),
    ("not exercised: sample input refused", "any other error the plugin raised: a ValueError (JSONDecodeError, "
     "`int()` or `float()` of a text: a value it could not parse), its own error type"),
    ("not exercised: answered only with an error", "it answered only JSON objects that are an error "
     "(`{\"error\": ...}`, perhaps with a status or code), or every text it sent reads as an error "
     "(`Error: ...`, `failed`, `unauthorized`, an HTTP 4xx or 5xx status) and it sent nothing else; an endpoint or "
     "webhook that answered 4xx"),
    ("plugin bug", "an answer whose only text is a crash the plugin caught (`got an unexpected keyword argument`, "
     "`object has no attribute`...), or an endpoint or webhook that answered HTTP 5xx"),
    ("verified", "anything else: a normal answer, with the network untouched"),
)  # fmt: skip


@dataclass
class Finding:
    check: str  # what was checked: "manifest", "icon", "tool weather/get_weather", "permission llm"...
    status: Status
    message: str
    file: str | None = None
    line: int | None = None
    seconds: float = 0.0
    hosts: list[str] = field(default_factory=list)
    entry_point: bool = False  # an invocation, judged by RULES
    reason: Reason | None = None  # why it was not exercised (status SKIP)
    traceback: str | None = None  # the plugin's, for a plugin bug

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def verdict(self) -> str:
        """`verified`, `not exercised: <reason>` or `plugin bug`, for an entry point; its status otherwise."""
        if not self.entry_point:
            return self.status.value
        if self.status is Status.PASS:
            return "verified"
        if self.status is Status.SKIP:
            return f"not exercised: {self.reason or Reason.NOT_REACHED}"
        return DEFECT if self.message.startswith(DEFECT) else "plugin bug"


@dataclass
class PluginReport:
    path: str
    plugin_id: str | None = None
    version: str | None = None
    category: str | None = None  # tool, model, extension, agent-strategy, datasource, trigger
    findings: list[Finding] = field(default_factory=list)
    registered: bool = False
    reverse_calls: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        return finding

    @property
    def entry_points(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.entry_point]

    @property
    def verified(self) -> int:
        return sum(1 for finding in self.entry_points if finding.status is Status.PASS)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for finding in self.findings:
            counts[finding.status.value] += 1
        return counts

    def not_exercised(self) -> dict[str, int]:
        reasons: dict[str, int] = {}
        for finding in self.entry_points:
            if finding.status is Status.SKIP:
                key = str(finding.reason or Reason.NOT_REACHED)
                reasons[key] = reasons.get(key, 0) + 1
        return reasons

    def failed(self, strict: bool = False) -> bool:
        failing = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
        return any(finding.status in failing for finding in self.findings)

    @property
    def hosts(self) -> list[str]:
        return sorted({host for finding in self.findings for host in finding.hosts})

    def summary(self) -> str:
        """`3 of 5 entry points verified; not exercised: needs network 2` (or why none ran)."""
        if not self.registered:
            return "not started"
        points = self.entry_points
        bugs = sum(1 for finding in points if finding.status is Status.FAIL)
        parts = [f"{self.verified} of {len(points)} entry point{'s' if len(points) != 1 else ''} verified"]
        skipped = self.not_exercised()
        if skipped:
            parts.append("not exercised: " + ", ".join(f"{reason} {count}" for reason, count in skipped.items()))
        if bugs:
            parts.append(f"plugin bugs: {bugs}")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["hosts"] = self.hosts
        data["counts"] = self.counts()
        data["entry_points"] = len(self.entry_points)
        data["verified"] = self.verified
        data["not_exercised"] = self.not_exercised()
        data["summary"] = self.summary()
        for finding, raw in zip(self.findings, data["findings"], strict=True):
            raw["verdict"] = finding.verdict
        return data
