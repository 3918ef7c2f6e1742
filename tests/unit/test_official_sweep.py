"""How the official sweep sums up a `dify-mock check` report: the verdicts come from the check, the sweep counts."""

from __future__ import annotations

from typing import Any

from bench.official_sweep import (
    DEPENDENCY,
    MOCK_DEFECT,
    NOT_EXERCISED,
    PARTLY,
    PLUGIN_BUG,
    VERIFIED,
    classify,
)


def point(check: str, verdict: str, message: str = "", **extra: Any) -> dict[str, Any]:
    status = {"verified": "pass", "plugin bug": "fail"}.get(verdict, "skip")
    return {"check": check, "status": status, "verdict": verdict, "message": message, "entry_point": True, **extra}


def report(*findings: dict[str, Any], summary: str = "") -> dict[str, Any]:
    return {"findings": list(findings), "hosts": [], "summary": summary}


def test_each_outcome() -> None:
    assert classify(report(point("tool a/b", "verified"), summary="1 of 1")) == (VERIFIED, "1 of 1")
    partly = report(point("tool a/b", "verified"), point("tool a/c", "not exercised: needs network"))
    assert classify(partly)[0] == PARTLY
    assert classify(report(point("tool a/c", "not exercised: hung")))[0] == NOT_EXERCISED
    assert classify(report())[0] == NOT_EXERCISED  # nothing to call is nothing verified
    bug = point("tool a/b", "plugin bug", "KeyError: 'token'", file="tools/b.py", line=12)
    assert classify(report(point("tool a/a", "verified"), bug)) == (
        PLUGIN_BUG,
        "tool a/b (tools/b.py:12): KeyError: 'token'",
    )
    environment = {"check": "environment", "status": "fail", "message": "uv exited with 1"}
    assert classify(report(environment))[0] == DEPENDENCY
    icons = {"check": "icons", "status": "fail", "message": "_assets/icon.svg does not exist"}
    assert classify(report(icons))[0] == PLUGIN_BUG


def test_a_mock_defect_wins() -> None:
    broken = report(
        point("tool a/b", "plugin bug", "KeyError: 'x'"),
        point("tool a/c", "plugin bug", "dify-mock defect: the mock answered HTTP 500: boom"),
    )
    assert classify(broken) == (MOCK_DEFECT, "tool a/c: dify-mock defect: the mock answered HTTP 500: boom")
    assert classify({"path": "p", "crashed": "dify-mock check crashed (exit 1): Traceback"})[0] == MOCK_DEFECT
