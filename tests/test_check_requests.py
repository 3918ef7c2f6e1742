"""`dify-mock check` sends what Dify's API sends and judges by one rule table: a plugin of our own for each case
the check used to get wrong (each named for what it reproduces, under tests/plugins/check_*), all checked in one
run of the real command; and no orphans, whichever way the check ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_check import PLUGINS, copy_plugin, findings, processes_of, reports

CASES = [
    "check_credential_crash",
    "check_error_text_answer",
    "check_parameter_casting",
    "check_caught_proxy_refusal",
    "check_credentials_schema_list",
    "check_returned_credentials",
    "check_customizable_model",
    "check_oauth_only",
    "check_trigger_no_events",
    "check_trigger_subscription_properties",
]


@pytest.fixture(scope="module")
def checked(sdk_python: str) -> dict[str, dict[str, dict[str, Any]]]:
    """name -> check -> finding, from one `dify-mock check --json` over every case."""
    command = [sys.executable, "-m", "dify_mock", "check", *(str(PLUGINS / name) for name in CASES), "--json"]
    result = subprocess.run([*command, "--python", sdk_python], capture_output=True, text=True, timeout=900)
    by_name = {Path(report["path"]).name: report for report in reports(result)}
    assert sorted(by_name) == sorted(CASES), result.stdout + result.stderr
    for report in by_name.values():
        assert report["registered"], report
    return {name: findings(report) for name, report in by_name.items()}


def verdicts(checks: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        name: finding["verdict"] for name, finding in checks.items() if name.split()[0] in ("tool", "model", "trigger")
    }


def test_a_crash_wrapped_in_a_credential_validation_is_a_plugin_bug_with_its_line(checked: dict[str, Any]) -> None:
    finding = checked["check_credential_crash"]["tool crashing credentials"]
    assert finding["verdict"] == "plugin bug"
    assert (finding["file"], finding["line"]) == ("provider/crashing.py", 10)
    assert finding["message"] == "KeyError: 'base_url', wrapped in ToolProviderCredentialValidationError"
    assert "Traceback (most recent call last)" in finding["traceback"]


def test_an_answer_that_is_only_an_error_is_not_verified(checked: dict[str, Any]) -> None:
    finding = checked["check_error_text_answer"]["tool failing/answer"]
    assert finding["verdict"] == "not exercised: answered only with an error"
    assert finding["message"] == "Error: Execution failed - No access token available"


def test_parameters_arrive_cast_and_filled_in_as_the_description_says(checked: dict[str, Any]) -> None:
    finding = checked["check_parameter_casting"]["tool casting/answer"]
    assert finding["verdict"] == "verified", finding
    assert finding["message"] == "answered: 1 chunk, text '20 words from pages [1, 2, 3], exact=True'"


def test_a_proxy_refusal_the_plugin_caught_still_needs_the_network(checked: dict[str, Any]) -> None:
    finding = checked["check_caught_proxy_refusal"]["tool catching/answer"]
    assert finding["verdict"] == "not exercised: needs network"
    assert finding["hosts"] == ["api.weather-service.example"]


def test_a_credentials_schema_list_is_the_form_dify_shows(checked: dict[str, Any]) -> None:
    assert verdicts(checked["check_credentials_schema_list"]) == {
        "tool listed credentials": "verified",
        "tool listed/answer": "verified",
    }


def test_credentials_a_validation_returns_are_kept_for_the_models(checked: dict[str, Any]) -> None:
    assert verdicts(checked["check_returned_credentials"]) == {
        "model returning credentials": "verified",
        "model returning llm answer-llm": "verified",
    }


def test_a_customizable_model_is_configured_through_its_form_and_invoked(checked: dict[str, Any]) -> None:
    # its validate_credentials refuses anything but a form filtered as Dify does (show_on, radio, switch as bool)
    assert verdicts(checked["check_customizable_model"]) == {
        "model customizable llm dify-mock-model credentials": "verified",
        "model customizable llm dify-mock-model": "verified",
        # it declares no voices: Dify sends the first that get_tts_model_voices lists
        "model customizable tts dify-mock-model credentials": "verified",
        "model customizable tts dify-mock-model": "verified",
    }


def test_an_oauth_only_provider_gets_tokens_and_the_oauth2_type(checked: dict[str, Any]) -> None:
    assert verdicts(checked["check_oauth_only"]) == {"tool oauth_only/answer": "verified"}


def test_only_the_events_a_dispatch_returns_are_invoked(checked: dict[str, Any]) -> None:
    checks = checked["check_trigger_no_events"]
    assert checks["trigger trigger_no_events webhook"]["verdict"] == "verified"
    pushed = checks["trigger trigger_no_events/pushed"]
    assert pushed["verdict"] == "not exercised: not reached"
    assert pushed["message"] == "the webhook dispatch returned no events; Dify invokes only those"


def test_a_subscription_carries_what_the_user_entered_under_its_schema(checked: dict[str, Any]) -> None:
    assert verdicts(checked["check_trigger_subscription_properties"]) == {
        "trigger trigger_subscription_properties webhook": "verified",
        "trigger trigger_subscription_properties/pushed": "verified",
    }


def test_a_webhook_that_answers_500_is_a_failure(sdk_python: str, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("webhooks:\n  trigger trigger_subscription_properties:\n    body: 'not json'\n")
    plugin = PLUGINS / "check_trigger_subscription_properties"
    command = [sys.executable, "-m", "dify_mock", "check", str(plugin), "--json", "--inputs", str(inputs)]
    result = subprocess.run([*command, "--python", sdk_python], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    webhook = findings(reports(result)[0])["trigger trigger_subscription_properties webhook"]
    assert webhook["verdict"] == "plugin bug" and webhook["message"].startswith("answered HTTP 500")


# -- no orphans: a plugin that ignores SIGTERM, forks a child into a session of its own and never answers


def wait_for(condition: Any, what: str, bound: float = 90) -> None:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {bound:.0f} s")


def misbehaving(tmp_path: Path, sdk_python: str, *extra: str) -> tuple[Path, Path, list[str], dict[str, str]]:
    plugin = copy_plugin("check_misbehaving", tmp_path).resolve()
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    command = [sys.executable, "-m", "dify_mock", "check", str(plugin), "--python", sdk_python, *extra]
    return plugin, temporary, command, {**os.environ, "TMPDIR": str(temporary)}


def test_a_hang_is_named_as_one_and_leaves_nothing_behind(sdk_python: str, tmp_path: Path) -> None:
    plugin, temporary, command, env = misbehaving(tmp_path, sdk_python, "--json", "--invoke-timeout", "5")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    finding = findings(reports(result)[0])["tool stubborn/answer"]
    assert finding["verdict"] == "not exercised: hung", finding
    assert finding["message"].startswith("no answer after ") and finding["hosts"] == []
    assert processes_of(plugin) == [] and list(temporary.iterdir()) == []


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_a_check_ended_by_a_signal_leaves_nothing_behind(sdk_python: str, tmp_path: Path, how: signal.Signals) -> None:
    plugin, temporary, command, env = misbehaving(tmp_path, sdk_python, "--invoke-timeout", "600")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    child = "check-misbehaving-child"
    wait_for(
        lambda: any(child.encode() in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in processes_of(plugin)),
        "the plugin forked its child",
    )
    process.send_signal(how)
    _, stderr = process.communicate(timeout=120)
    if how is signal.SIGINT:
        assert process.returncode == 130
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert lines == ["dify-mock check: interrupted; the mock, the plugin and their temporary files are gone"]
    wait_for(lambda: processes_of(plugin) == [], "every process of the plugin's gone")
    wait_for(lambda: list(temporary.iterdir()) == [], "the temporary folder removed")
    json.dumps(stderr)  # readable text, whatever it held
