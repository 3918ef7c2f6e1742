"""One case's verdict: identical, equal after normalisation, an allowed difference, or unexplained."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from conformance.allowed import ALLOWED, HINT_REASON, HINT_SEPARATOR
from conformance.normalise import normalise, reaches_dify, reverse_call
from conformance.sides import Answer

IDENTICAL, NORMALISED, ALLOWED_DIFFERENCE, UNEXPLAINED = (
    "identical",
    "equal after normalisation",
    "allowed difference",
    "unexplained",
)


@dataclass
class Verdict:
    case_id: str
    outcome: str
    reason: str = ""
    diff: str = ""


def parts(answer: Answer, calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "status": answer.status,
        "content_type": answer.content_type,
        "body": normalise(answer.parsed()),
        "calls": [reverse_call(call) for call in calls if reaches_dify(call)],
    }


def judge(
    case_id: str,
    daemon: Answer,
    direct: Answer,
    daemon_calls: list[dict[str, Any]],
    direct_calls: list[dict[str, Any]],
) -> Verdict:
    theirs, ours = parts(daemon, daemon_calls), parts(direct, direct_calls)
    if theirs == ours:
        same_bytes = daemon.body == direct.body and daemon.content_type == direct.content_type
        return Verdict(case_id, IDENTICAL if same_bytes else NORMALISED)
    if without_hints(theirs, ours) == theirs:
        return Verdict(case_id, ALLOWED_DIFFERENCE, HINT_REASON, show_diff(theirs, ours, {"body"}))
    differing = {name for name in theirs if theirs[name] != ours[name]}
    allowed = ALLOWED.get(case_id)
    if allowed is not None and differing <= allowed[0]:
        return Verdict(case_id, ALLOWED_DIFFERENCE, allowed[1], show_diff(theirs, ours, differing))
    return Verdict(case_id, UNEXPLAINED, diff=show_diff(theirs, ours, differing))


def without_hints(theirs: Any, ours: Any) -> Any:
    """`ours` with each string that is the daemon's string plus a hint cut back to the daemon's."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return {key: without_hints(theirs.get(key), value) for key, value in ours.items()}
    if isinstance(theirs, list) and isinstance(ours, list) and len(theirs) == len(ours):
        return [without_hints(a, b) for a, b in zip(theirs, ours, strict=True)]
    if isinstance(theirs, str) and isinstance(ours, str) and ours.startswith(theirs + HINT_SEPARATOR):
        return theirs
    return ours


def show_diff(theirs: dict[str, Any], ours: dict[str, Any], differing: set[str]) -> str:
    lines: list[str] = []
    for name in sorted(differing):
        a = json.dumps(theirs[name], indent=1, sort_keys=True, ensure_ascii=False)[:20000].splitlines()
        b = json.dumps(ours[name], indent=1, sort_keys=True, ensure_ascii=False)[:20000].splitlines()
        lines += difflib.unified_diff(a, b, f"daemon {name}", f"dify-mock {name}", lineterm="", n=2)
    return "\n".join(lines)
