"""pytest fixtures for plugin tests: `dify_mock` (a mock, with this test's rules and journal) and `connected_plugin`
(your plugin, connected; `dify_plugin`, its old name, shadowed the SDK's package and is deprecated). The mock and the
plugin process stay up across tests. `@pytest.mark.cassette` gives a test its own cassette, recorded or replayed
as `--record-mode` says (vcrpy's modes).

    def test_weather(dify_mock):
        dify_mock.add_rules({"llm": [{"match": {"prompt": {"contains": "weather"}}, "reply": {"text": "sunny"}}]})
        plugin = dify_mock.start_plugin("path/to/plugin")
        messages = plugin.invoke_tool("provider", "tool", {"query": "weather?"})
        assert dify_mock.calls("llm")[0].request["prompt_messages"][-1]["content"] == "weather?"

Registered through the `pytest11` entry point, so installing dify-mock is enough.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from dify_mock.testing.mock_pool import MockPool, SharedMock, mock_config, start_mock
from dify_mock.testing.processes import PluginProcess
from dify_mock.testing.server import MockServer

PLUGIN_MARKER = "dify_plugin"
MOCK_MARKER = "dify_mock"
CASSETTE_MARKER = "cassette"
RECORD_MODES = ("none", "once", "new_episodes", "all")  # the mock's --record-mode, as in vcrpy
DEFAULT_CASSETTES = "tests/cassettes"


@dataclass(frozen=True)
class Call:
    """One reverse call the plugin made: what it asked, what it got, and which rule answered."""

    type: str
    request: dict[str, Any]
    response: list[Any]
    answered_by: str | None
    error: str | None
    plugin_id: str
    session_id: str

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Call:
        return cls(
            type=entry["type"],
            request=entry["request"],
            response=entry["response"],
            answered_by=entry.get("answered_by"),
            error=entry.get("error"),
            plugin_id=entry["plugin_id"],
            session_id=entry["session_id"],
        )

    @property
    def prompt(self) -> str | None:
        """The text of the last user message of an LLM call."""
        for message in reversed(self.request.get("prompt_messages") or []):
            if message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, list):
                    return "\n".join(str(part.get("data", "")) for part in content if part.get("type") == "text")
                return str(content)
        return None

    @property
    def tools(self) -> list[str]:
        """The names of the tools offered to an LLM call."""
        return [tool["name"] for tool in self.request.get("tools") or []]


class Plugin:
    """A plugin process connected to the mock, with shortcuts that invoke it."""

    def __init__(self, mock: DifyMock, process: PluginProcess) -> None:
        self.mock = mock
        self.process = process
        self.plugin_id = process.plugin_id

    def invoke_tool(
        self, provider: str, tool: str, parameters: Mapping[str, Any], credentials: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The tool's messages, as the plugin streamed them (dicts with `type`, `message`, `meta`)."""
        return self.mock.server.invoke_tool(self.plugin_id, provider, tool, parameters, credentials)

    def invoke_agent_strategy(self, provider: str, strategy: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.mock.server.invoke_agent_strategy(self.plugin_id, provider, strategy, params)

    def validate_tool_credentials(self, provider: str, credentials: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self.mock.server.validate_tool_credentials(self.plugin_id, provider, credentials)

    def dispatch(self, route: str, data: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Any daemon dispatch route, e.g. `llm/invoke` or `model/schema`."""
        return self.mock.server.dispatch(route, self.plugin_id, data)

    def output(self) -> str:
        return self.process.output()

    def stop(self) -> None:
        self.process.stop()


class DifyMock:
    """One test's view of a dify-mock: the rules it adds answer in this test only, and `calls()` and
    `invocations()` list only what happened since it began.

    The server and the plugin processes are shared by every test of the session that asks for the same
    configuration (`SharedMock`); with `@pytest.mark.dify_mock(fresh=True)` a test gets a server of its own.
    """

    def __init__(
        self, shared: SharedMock, plugin_python: str | None, *, owns_server: bool = False, cassette: str | None = None
    ) -> None:
        self.shared = shared
        self.plugin_python = plugin_python
        self.owns_server = owns_server
        self.cassette = cassette  # this test's cassette (@pytest.mark.cassette), named as it begins
        self._journal_start: int | None = None

    # The mock is reset (POST /mock/reset: the last test's rules gone, scenarios back in `started`) the first time
    # this test reaches it, so that adding rules can do it in the same request: every way to the server goes
    # through begin().

    def begin(self) -> None:
        if self._journal_start is None:
            self._journal_start = self.shared.server.reset()["journal_last_id"]
            self._use_cassette()

    def _use_cassette(self) -> None:
        if self.cassette is not None:
            self.shared.server.use_cassette(self.cassette)

    @property
    def journal_start(self) -> int:
        """The newest journal entry before this test reached the mock: calls() and invocations() show what follows."""
        self.begin()
        assert self._journal_start is not None
        return self._journal_start

    @property
    def server(self) -> MockServer:
        """The client of the shared server, for routes this class does not wrap."""
        self.begin()
        return self.shared.server

    @property
    def url(self) -> str:
        return self.server.url

    def add_rules(self, rules: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Adds fixture rules (the fixture-file format, as a dict); raises ValueError naming what is wrong."""
        server = self.shared.server
        first = self._journal_start is None
        params = {"reset": "true"} if first else {}
        response = server.http.post("/mock/rules", json=dict(rules), params=params, headers=server._headers())
        answer: dict[str, Any] = response.json() if response.status_code in (201, 400) else {}
        if first and "reset" in answer:
            self._journal_start = int(answer["reset"]["journal_last_id"])
            self._use_cassette()
        if response.status_code == 400:
            raise ValueError(answer["error"])
        response.raise_for_status()
        return list(answer["added"])

    def start_plugin(self, path: str | Path, *, env: Mapping[str, str] | None = None, timeout: float = 60) -> Plugin:
        """The plugin in `path`, connected to this mock: started and awaited until it has registered, unless an
        earlier test already did (with the same Python and `env`) and it is still running."""
        return Plugin(self, self.shared.plugin(Path(path), self.plugin_python, env, timeout))

    def calls(self, type: str | None = None) -> list[Call]:
        """Reverse calls the plugins made in this test (oldest first), optionally of one type (`llm`, `tool`...)."""
        entries = self.server.journal(kind="reverse", type=type, after_id=self.journal_start)
        return [Call.from_entry(entry) for entry in entries]

    def invocations(self) -> list[dict[str, Any]]:
        """What the mock asked the plugins to do in this test (tool invocations and so on), as journal entries."""
        return self.server.journal(kind="dispatch", after_id=self.journal_start)

    def rules(self) -> list[dict[str, Any]]:
        """The rules in force: those of the fixture files and those this test added; `uses` counts this test's."""
        response = self.server.http.get("/mock/rules", headers=self.server._headers())
        response.raise_for_status()
        rules: list[dict[str, Any]] = response.json()["rules"]
        used = self.server.journal_summary(kind="reverse", after_id=self.journal_start)["rules"]
        return [{**rule, "uses": int(used.get(rule["label"], 0))} for rule in rules]

    def scenario_states(self) -> dict[tuple[str, str], str]:
        """{(session_id, scenario): state} for each scenario an invocation has moved out of `started`."""
        found = self.server.scenarios()["states"]
        return {(state["session_id"], state["scenario"]): state["state"] for state in found}

    def reset_scenarios(self, scenario: str | None = None, session_id: str | None = None) -> int:
        """Puts scenarios back in `started`: all, or one, in every invocation or one."""
        return self.server.reset_scenarios(scenario, session_id)

    def unused_rules(self) -> list[dict[str, Any]]:
        return [rule for rule in self.rules() if rule["uses"] == 0]

    def unexpected_calls(self) -> list[Call]:
        """Reverse calls that no fixture rule answered (the built-in answer, or an error in strict mode)."""
        return [call for call in self.calls() if call.answered_by in ("builtin", "strict")]

    def assert_all_rules_used(self) -> None:
        """Fails, listing each rule with its file and line, when a rule answered no call in this test."""
        __tracebackhide__ = True  # the failure is the test's: pytest shows the test's line, not this one
        unused = self.unused_rules()
        if unused:
            lines = [f"{len(unused)} fixture rule{'s' if len(unused) != 1 else ''} never used in this test:"]
            lines += [f"  {describe_rule(rule)}" for rule in unused]
            raise AssertionError("\n".join(lines))

    def assert_no_unexpected_calls(self) -> None:
        """Fails, listing each call, when a reverse call got the built-in answer (or a --strict error)."""
        __tracebackhide__ = True
        unexpected = self.unexpected_calls()
        if unexpected:
            lines = [f"reverse calls no rule answered ({len(unexpected)}):"]
            lines += [
                f"  {call.type} from {call.plugin_id}" + (f", prompt {call.prompt!r}" if call.prompt else "")
                for call in unexpected
            ]
            raise AssertionError("\n".join(lines))

    def finish(self) -> None:
        """Ends the test; a server of its own stops. (A shared one is reset as the next test begins.)"""
        if self.owns_server:
            self.shared.stop()


def describe_rule(rule: Mapping[str, Any]) -> str:
    """`llm rule 'weather' (tests/rules.yaml:3)`; a rule the test added says so."""
    origin = str(rule.get("origin") or "")
    where = f"added by the test, {origin.removeprefix('api:')}" if origin.startswith("api:") else origin
    name = f" '{rule['name']}'" if rule.get("name") else ""
    return f"{rule.get('fixture_key') or rule.get('type')} rule{name} ({where})"


PATHS: Literal["paths"] = "paths"
BOOL: Literal["bool"] = "bool"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("dify_mock_fixtures", "fixture files or folders every dify_mock loads", type=PATHS, default=[])
    parser.addini("dify_mock_strict", "fail reverse calls that no rule answers", type=BOOL, default=False)
    parser.addini("dify_plugin_path", "the plugin folder the dify_plugin fixture starts", default="")
    parser.addini(
        "dify_plugin_python", "the Python (with dify-plugin installed) that runs plugins; default: see docs", default=""
    )
    parser.addini(
        "dify_mock_cassettes",
        f"the folder of the cassettes of @pytest.mark.{CASSETTE_MARKER} tests (default {DEFAULT_CASSETTES})",
        default=DEFAULT_CASSETTES,
    )
    # pytest-recording has --record-mode too, with the same names and meaning: then the option is shared.
    with contextlib.suppress(ValueError):
        parser.getgroup("dify-mock").addoption(
            "--record-mode",
            choices=RECORD_MODES,
            default="none",
            help="what @pytest.mark.cassette tests do with their cassettes, as in vcrpy: none (replay only, the "
            "default), once (record a cassette that does not exist), new_episodes (record calls it lacks), "
            "all (record every call again, keeping the other entries)",
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MOCK_MARKER}(fixtures=[...], strict=False, args=[...], fresh=False): how the dify_mock fixture starts",
    )
    config.addinivalue_line("markers", f"{PLUGIN_MARKER}(path): the plugin folder the connected_plugin fixture starts")
    config.addinivalue_line(
        "markers",
        f"{CASSETTE_MARKER}(name=None): this test's own cassette of live answers, named after the test; "
        "--record-mode says whether it is recorded or replayed",
    )


def _plugin_python(config: pytest.Config) -> str | None:
    """$DIFY_MOCK_PLUGIN_PYTHON, else the `dify_plugin_python` ini option (relative to the rootdir)."""
    configured = os.environ.get("DIFY_MOCK_PLUGIN_PYTHON") or str(config.getini("dify_plugin_python") or "")
    if not configured:
        return None
    python = Path(configured)
    return str(python if python.is_absolute() else Path(str(config.rootpath)) / python)


@pytest.fixture(scope="session")
def dify_mock_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockPool]:
    """The mocks and plugin processes this session's tests share; all stopped when the session ends."""
    pool = MockPool(tmp_path_factory.mktemp("dify-mock"))
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def dify_mock(request: pytest.FixtureRequest, dify_mock_pool: MockPool) -> Iterator[DifyMock]:
    """A dify-mock on free ports, shared with the session's other tests that configure it alike, seen through
    this test's rules and journal; `@pytest.mark.dify_mock(fresh=True)` starts one for this test alone."""
    marker = request.node.get_closest_marker(MOCK_MARKER)
    options = dict(marker.kwargs) if marker else {}
    config = request.config
    fixtures: Sequence[Path] = [Path(p) for p in config.getini("dify_mock_fixtures")]
    fixtures = [*fixtures, *(Path(p) for p in options.get("fixtures", ()))]
    args = list(options.get("args", ()))
    cassette = request.node.get_closest_marker(CASSETTE_MARKER)
    if cassette is not None:
        args += ["--record", str(_cassette_folder(config)), "--record-mode", _record_mode(config)]
    wanted = mock_config(fixtures, bool(options.get("strict", config.getini("dify_mock_strict"))), args)
    fresh = bool(options.get("fresh", False))
    shared = dify_mock_pool.get(wanted) if not fresh else SharedMock(start_mock(fresh_data_dir(request), wanted))
    name = (str(cassette.args[0]) if cassette.args else request.node.nodeid) if cassette is not None else None
    mock = DifyMock(shared, _plugin_python(config), owns_server=fresh, cassette=name)
    try:
        yield mock
    finally:
        mock.finish()


def _cassette_folder(config: pytest.Config) -> Path:
    folder = Path(str(config.getini("dify_mock_cassettes") or DEFAULT_CASSETTES))
    return folder if folder.is_absolute() else Path(str(config.rootpath)) / folder


def _record_mode(config: pytest.Config) -> str:
    mode = str(config.getoption("record_mode", default=None) or "none")
    return "all" if mode == "rewrite" else mode  # pytest-recording's rewrite: record everything again


def fresh_data_dir(request: pytest.FixtureRequest) -> Path:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return tmp_path / "dify-mock"


@pytest.fixture
def connected_plugin(request: pytest.FixtureRequest, dify_mock: DifyMock) -> Plugin:
    """The plugin from `@pytest.mark.dify_plugin(path)` or the `dify_plugin_path` ini option, connected."""
    marker = request.node.get_closest_marker(PLUGIN_MARKER)
    path = (marker.args[0] if marker and marker.args else None) or request.config.getini("dify_plugin_path")
    if not path:
        root = Path(str(request.config.rootpath))
        if not (root / "manifest.yaml").exists():
            pytest.fail(
                "connected_plugin needs the plugin folder: set `dify_plugin_path` in your pytest configuration "
                "or mark the test with @pytest.mark.dify_plugin('path/to/plugin')",
                pytrace=False,
            )
        path = root
    folder = Path(str(path))
    return dify_mock.start_plugin(folder if folder.is_absolute() else Path(str(request.config.rootpath)) / folder)


@pytest.fixture
def dify_plugin(connected_plugin: Plugin) -> Plugin:
    """Deprecated: the old name of `connected_plugin`, which shadowed the SDK's package (`import dify_plugin`)."""
    warnings.warn(
        "the dify_plugin fixture is now called connected_plugin: the old name shadows the SDK's package "
        "(import dify_plugin) and will be removed",
        DeprecationWarning,
        stacklevel=2,
    )
    return connected_plugin
