"""`dify-mock check` on plugins of our own shaped like the official ones, and on broken copies of them.

Each runs the real command in a subprocess: the plugin starts over stdio under a real mock, its entry points are
invoked through the dispatch API, and its HTTP calls go to the check's refusing proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from wheelhouse import build_wheelhouse

PLUGINS = Path(__file__).parent / "plugins"


def check(*args: str | Path, python: str | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dify_mock", "check", *map(str, args)]
    if python:
        command += ["--python", python]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def reports(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def findings(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {finding["check"]: finding for finding in report["findings"]}


def copy_plugin(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(PLUGINS / name, target, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    return target


def test_our_plugins_of_every_kind_register_and_every_entry_point_answers(sdk_python: str, tmp_path: Path) -> None:
    kinds = ["web_search", "simple_agent", "model_provider", "datasource_plugin", "trigger_plugin"]
    # trigger_plugin also declares a tool, which the daemon refuses (tests/conformance/packages: trigger_and_tool)
    triggers_only = copy_plugin("trigger_plugin", tmp_path)
    manifest = triggers_only / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("  tools:\n    - provider/oauth_tool.yaml\n", ""))
    folders = [triggers_only if kind == "trigger_plugin" else PLUGINS / kind for kind in kinds]
    junit = tmp_path / "check.xml"
    result = check(*folders, "--json", "--junit", junit, python=sdk_python)
    assert result.returncode == 0, result.stdout + result.stderr
    by_id = {report["plugin_id"]: report for report in reports(result)}
    assert sorted(by_id) == sorted(f"dify-mock-tests/{kind}" for kind in kinds)
    for report in by_id.values():
        assert report["registered"] and report["entry_points"] > 0
        assert all(finding["verdict"] != "plugin bug" for finding in report["findings"]), report["findings"]
        assert report["summary"].startswith(f"{report['verified']} of {report['entry_points']} entry points verified")

    web = by_id["dify-mock-tests/web_search"]
    checks = findings(web)
    # made-up credentials refused: not exercised, for want of real ones
    assert checks["tool web_search credentials"]["verdict"] == "not exercised: needs real credentials"
    assert "the API key should start with ws-" in checks["tool web_search credentials"]["message"]
    # the search tool got parameters its schema allows (it raises otherwise), then tried the network
    assert checks["tool web_search/search"]["verdict"] == "not exercised: needs network"
    assert checks["tool web_search/search"]["message"].startswith("api.websearch.example (")
    assert web["hosts"] == ["api.websearch.example"]
    assert checks["tool web_search/summarize"]["verdict"] == "verified"
    assert web["reverse_calls"] == {"llm": 1} and checks["permission llm"]["status"] == "pass"
    assert web["summary"] == "1 of 3 entry points verified; not exercised: needs real credentials 1, needs network 1"

    models = findings(by_id["dify-mock-tests/model_provider"])
    assert {name for name in models if name.startswith("model fake ")} == {
        "model fake credentials",
        "model fake llm fake-llm",
        "model fake text-embedding fake-embed",
        "model fake rerank fake-rerank",
        "model fake tts fake-tts",
        "model fake speech2text fake-s2t",
        "model fake moderation fake-mod",
    }
    sources = findings(by_id["dify-mock-tests/datasource_plugin"])
    for browsed in ("datasource crawler/crawler", "datasource docs/docs", "datasource drive/drive"):
        assert sources[browsed]["status"] == "pass", sources[browsed]
    triggers = findings(by_id["dify-mock-tests/trigger_plugin"])
    assert triggers["trigger repo_events subscribe"]["verdict"] == "verified"
    # the subscription subscribe made holds a webhook secret; our sample webhook is not signed with it
    assert triggers["trigger repo_events webhook"]["verdict"] == "not exercised: sample input refused"
    assert triggers["trigger repo_events/issue_opened"]["verdict"] == "not exercised: not reached"
    strategies = findings(by_id["dify-mock-tests/simple_agent"])
    assert strategies["agent strategy simple_agent/react"]["status"] == "pass"

    suites = ElementTree.parse(junit).getroot().findall("testsuite")
    assert sorted(suite.get("name") for suite in suites) == sorted(by_id)
    web_suite = next(suite for suite in suites if suite.get("name") == "dify-mock-tests/web_search")
    assert web_suite.get("failures") == "0" and web_suite.get("skipped") == "2"


def test_an_endpoint_plugin_is_set_up_and_requested_and_its_failures_are_named(sdk_python: str) -> None:
    result = check(PLUGINS / "endpoint_plugin", "--json", python=sdk_python)
    assert result.returncode == 1
    checks = findings(reports(result)[0])
    assert checks["endpoint GET /echo/<path:rest>"]["message"].startswith("answered: HTTP 200")
    assert checks["endpoint POST /status/<int:code>"]["message"].startswith("answered: HTTP 200")
    assert checks["endpoint GET /fail"]["verdict"] == "plugin bug"
    assert checks["endpoint GET /fail"]["message"].startswith("answered HTTP 500")
    assert "asked to fail" in checks["endpoint GET /fail"]["message"]


def test_a_reverse_call_the_manifest_does_not_grant_fails_with_the_line_to_add(sdk_python: str, tmp_path: Path) -> None:
    plugin = copy_plugin("web_search", tmp_path)
    manifest = plugin / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("      llm: true\n", "      llm: false\n"))
    result = check(plugin, python=sdk_python)
    assert result.returncode == 1
    assert "✗ permission llm" in result.stdout
    assert (
        "manifest.yaml:13: the plugin calls llm, which is not granted (permission denied, you need to enable llm "
        "access in plugin manifest): add resource.permission.model: {enabled: true, llm: true}"
    ) in result.stdout
    assert "✗ tool web_search/summarize" in result.stdout


def test_a_package_is_unpacked_and_checked(sdk_python: str, tmp_path: Path) -> None:
    package = tmp_path / "web_search.difypkg"
    with zipfile.ZipFile(package, "w") as archive:
        for path in (PLUGINS / "web_search").rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(PLUGINS / "web_search").as_posix())
    result = check(package, "--json", "--cache-dir", tmp_path / "cache", python=sdk_python)
    report = reports(result)[0]
    assert result.returncode == 0, result.stdout
    assert findings(report)["package"]["status"] == "pass"
    assert report["registered"] and report["entry_points"] == 3 and report["verified"] == 1


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_warnings_fail_only_with_strict(sdk_python: str, tmp_path: Path, strict: bool) -> None:
    plugin = copy_plugin("simple_agent", tmp_path)
    manifest = plugin / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace('version: "3.12"', 'version: "3.11"'))
    result = check(plugin, *(["--strict"] if strict else []), python=sdk_python)
    assert result.returncode == (1 if strict else 0), result.stdout
    assert "meta.runner.version is '3.11'; the daemon makes every environment with Python 3.12" in result.stdout


# -- bad input: each named with its file, key and what the daemon would say, and none crashes the check


def test_a_manifest_that_is_not_yaml(tmp_path: Path) -> None:
    plugin = copy_plugin("web_search", tmp_path)
    (plugin / "manifest.yaml").write_text("version: 0.0.1\nauthor: [unclosed\nname: x\n")
    result = check(plugin)
    assert result.returncode == 1
    assert "✗ manifest  manifest.yaml:3: not valid YAML" in result.stdout
    assert "the daemon refuses the package (it cannot decode the manifest)" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_missing_icon(tmp_path: Path) -> None:
    plugin = copy_plugin("web_search", tmp_path)
    (plugin / "_assets" / "icon.svg").unlink()
    (plugin / "_assets" / "other.svg").write_text("<svg/>")
    result = check(plugin)
    assert result.returncode == 1
    assert (
        "manifest.yaml:10: icon: _assets/icon.svg does not exist; the daemon refuses the package: plugin icon not found"
        in result.stdout
    )
    assert (
        "provider/web_search.yaml:8: identity.icon: _assets/icon.svg does not exist; the daemon refuses the "
        "package: tool icon not found" in result.stdout
    )


def test_a_tool_yaml_that_points_at_a_missing_python_file(tmp_path: Path) -> None:
    plugin = copy_plugin("web_search", tmp_path)
    (plugin / "tools" / "search.py").unlink()
    result = check(plugin)
    assert result.returncode == 1
    assert (
        "tools/search.yaml:47: extra.python.source: tools/search.py does not exist; the SDK cannot load this declaration"
        in result.stdout
    )


def test_a_plugin_that_hangs_at_start_up(sdk_python: str, tmp_path: Path) -> None:
    plugin = copy_plugin("web_search", tmp_path)
    (plugin / "main.py").write_text("import time\n\ntime.sleep(600)\n")
    result = check(plugin, "--start-timeout", "4", "--json", python=sdk_python)
    assert result.returncode == 1
    start = findings(reports(result)[0])["start"]
    assert start["status"] == "fail"
    assert start["message"].startswith("the plugin did not register within 4 s: it hangs at start-up")


def test_a_plugin_that_prints_garbage_on_stdout(sdk_python: str, tmp_path: Path) -> None:
    plugin = copy_plugin("web_search", tmp_path)
    (plugin / "main.py").write_text(
        "import sys, time\n\nfor _ in range(3):\n    print('hello from a print statement', flush=True)\ntime.sleep(600)\n"
    )
    result = check(plugin, "--start-timeout", "4", "--json", python=sdk_python)
    assert result.returncode == 1
    start = findings(reports(result)[0])["start"]
    assert start["message"].startswith(
        "the plugin wrote 3 lines on stdout that are not the protocol (the first: 'hello from a print statement')"
    )
    assert "print to stderr or use the SDK's logger" in start["message"]


def test_a_plugin_that_crashes_at_start_up(sdk_python: str, tmp_path: Path) -> None:
    plugin = copy_plugin("web_search", tmp_path)
    (plugin / "main.py").write_text("import no_such_module_anywhere\n")
    result = check(plugin, "--start-timeout", "20", "--json", python=sdk_python)
    start = findings(reports(result)[0])["start"]
    assert start["message"].startswith("the plugin exited before it registered: plugin dify-mock-tests/web_search")
    assert "No module named 'no_such_module_anywhere'" in start["message"]


def test_a_path_that_is_no_plugin(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.difypkg").write_text("not a zip")
    result = check(tmp_path / "empty", tmp_path / "notes.difypkg")
    assert result.returncode == 1
    assert "there is no manifest.yaml" in result.stdout
    assert "is not a .difypkg package: it is not a zip file" in result.stdout
    missing = check(tmp_path / "empty", tmp_path / "missing")  # a typo: nothing is checked, one line says so
    assert missing.returncode == 2 and not missing.stdout
    assert missing.stderr == f"dify-mock: {tmp_path / 'missing'}: no such plugin folder or .difypkg\n"


def test_junit_times_the_environment_it_made(sdk_python: str, tmp_path: Path) -> None:
    site = subprocess.run(
        [sdk_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    wheels = build_wheelhouse(Path(site), tmp_path / "wheels")
    junit = tmp_path / "check.xml"
    offline = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    command = [sys.executable, "-m", "dify_mock", "check", str(PLUGINS / "web_search"), "--junit", str(junit)]
    command += ["--cache-dir", str(tmp_path / "cache")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=offline, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    cases = {case.get("name"): case for case in ElementTree.parse(junit).getroot().iter("testcase")}
    environment = next(case for name, case in cases.items() if name and name.startswith("environment"))
    assert float(environment.get("time", "0")) > 0.5, environment.attrib  # made with pip: seconds, not 0.000
    assert cases["icons"].findtext("system-out") == "every icon is in _assets (1 file)"


def processes_of(plugin: Path) -> list[int]:
    """The check, its mock (both name the folder) and the plugin (it runs in the folder)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(plugin).encode() in (proc / "cmdline").read_bytes() or (proc / "cwd").resolve() == plugin:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_a_stopped_check_takes_its_mock_and_plugin_with_it(sdk_python: str, tmp_path: Path) -> None:
    plugin = copy_plugin("web_search", tmp_path).resolve()
    (plugin / "main.py").write_text("import time\n\ntime.sleep(600)\n")
    command = [
        sys.executable,
        "-m",
        "dify_mock",
        "check",
        str(plugin),
        "--python",
        sdk_python,
        "--start-timeout",
        "120",
    ]
    check_process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(processes_of(plugin)) < 3:
        time.sleep(0.2)
    assert len(processes_of(plugin)) >= 3, "the mock and the plugin never started"
    check_process.send_signal(signal.SIGTERM)
    assert check_process.wait(timeout=60) == 143
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and processes_of(plugin):
        time.sleep(0.2)
    assert processes_of(plugin) == []
