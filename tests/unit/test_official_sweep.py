"""How the official sweep classifies a `dify-mock check` report."""

from __future__ import annotations

from typing import Any

from bench.official_sweep import (
    DEPENDENCY,
    MOCK_DEFECT,
    NEEDS_SERVICE,
    PLUGIN_BUG,
    REFUSED_INPUT,
    classify,
)


def report(*findings: tuple[str, str, str], hosts: list[str] | None = None) -> dict[str, Any]:
    return {
        "findings": [{"check": check, "status": status, "message": message} for check, status, message in findings],
        "hosts": hosts or [],
    }


def test_each_outcome() -> None:
    assert classify(report(("start", "pass", "registered"))) == ("ok", "")
    network = report(("tool a/b", "network", "needs network: api.x.com"), hosts=["api.x.com"])
    assert classify(network) == (NEEDS_SERVICE, "needs network: api.x.com")
    assert classify(report(("environment", "fail", "uv exited with 1")))[0] == DEPENDENCY
    assert classify(report(("tool a/b", "fail", "ValueError: row_id must be an integer")))[0] == REFUSED_INPUT
    assert classify(report(("tool a/b", "fail", "KeyError: 'token'")))[0] == PLUGIN_BUG
    float_of_text = "ValueError: could not convert string to float: 'What is the weather in Paris?'"
    assert classify(report(("tool a/b", "fail", float_of_text)))[0] == PLUGIN_BUG
    assert classify(report(("model m llm x", "fail", "InvokeError: [models] Error: 'mode'")))[0] == PLUGIN_BUG
    assert classify(report(("icons", "fail", "_assets/icon.svg does not exist")))[0] == PLUGIN_BUG
    refused_then_crash = report(("tool a/b", "fail", "ValueError: bad"), ("tool a/c", "fail", "AttributeError: x"))
    assert classify(refused_then_crash) == (PLUGIN_BUG, "tool a/c: AttributeError: x")


def test_a_mock_defect_wins() -> None:
    broken = report(("tool a/b", "fail", "KeyError: 'x'"), ("tool a/c", "fail", "the mock answered HTTP 500: boom"))
    assert classify(broken) == (MOCK_DEFECT, "tool a/c: the mock answered HTTP 500: boom")
    assert classify({"path": "p", "crashed": "dify-mock check crashed (exit 1): Traceback"})[0] == MOCK_DEFECT
