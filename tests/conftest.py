"""Shared fixtures: a dify-mock server per test and the real SDK test plugins connected to it.

    @pytest.mark.mock_server(fixtures=["fixtures/examples.yaml"], strict=True)
    def test_something(mock_server, model_caller):
        chunks = mock_server.invoke_tool(model_caller.plugin_id, "model_caller", "llm", {"prompt": "hi"})

Relative fixture paths are looked up next to the test module first, then from the repository root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from dify_mock.testing import PLUGIN_PYTHON_ENV, MockServer, PluginProcess

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_PLUGINS = REPO_ROOT / "tests" / "plugins"

# tests/official/ runs plugins of dify-official-plugins, which this repository does not hold: only with a checkout
# named (`make official-agent OFFICIAL=...` sets the variable), so that the rest of the suite never skips them.
collect_ignore = [] if os.environ.get("DIFY_MOCK_OFFICIAL_AGENT_PLUGIN") else ["official"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mock_server(fixtures=[...], strict=False, keys=[...], server_key=None, extra_args=[...], env={...}): "
        "how the mock_server fixture starts dify-mock",
    )


@pytest.fixture(scope="session")
def sdk_python() -> str:
    """The Python that has dify-plugin installed, used to run the test plugins."""
    configured = os.environ.get(PLUGIN_PYTHON_ENV)
    python = Path(configured) if configured else REPO_ROOT / ".venv-sdk" / "bin" / "python"
    if not python.exists():
        where = f"${PLUGIN_PYTHON_ENV}={configured}" if configured else str(python)
        pytest.fail(
            f"no plugin SDK interpreter at {where}: run `make setup` (it creates .venv-sdk with dify-plugin), "
            f"or point {PLUGIN_PYTHON_ENV} at a Python 3.12 that has dify-plugin installed",
            pytrace=False,
        )
    return str(python)


@pytest.fixture
def user_project(pytester: pytest.Pytester, sdk_python: str) -> pytest.Pytester:
    """A plugin developer's project under pytester: a pytest.ini naming tests/plugins/model_caller and the SDK's
    Python, as the README says to write it (test modules that use it load the `pytester` plugin)."""
    pytester.makeini(
        f"""
        [pytest]
        dify_plugin_path = {TEST_PLUGINS / "model_caller"}
        dify_plugin_python = {sdk_python}
        """
    )
    return pytester


def _resolve_fixture(path: str | Path, test_dir: Path) -> Path:
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    for base in (test_dir, REPO_ROOT):
        if (base / candidate).exists():
            return base / candidate
    pytest.fail(f"fixture path {path} found neither under {test_dir} nor under {REPO_ROOT}", pytrace=False)


@pytest.fixture
def mock_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MockServer]:
    """A fresh dify-mock on free ports, data in tmp_path; configured by an optional `mock_server` marker."""
    marker = request.node.get_closest_marker("mock_server")
    options = dict(marker.kwargs) if marker else {}
    test_dir = Path(str(request.node.fspath)).parent
    server = MockServer(
        tmp_path / "dify-mock",
        fixtures=[_resolve_fixture(f, test_dir) for f in options.pop("fixtures", ())],
        strict=bool(options.pop("strict", False)),
        keys=list(options.pop("keys", ())),
        extra_args=list(options.pop("extra_args", ())),
        env=options.pop("env", None),
        server_key=options.pop("server_key", None),
    )
    if options:
        pytest.fail(f"unknown mock_server marker options: {', '.join(sorted(options))}", pytrace=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        # pytest shows a fixture's teardown output only for failing tests: there it explains what happened.
        print(f"--- end of the dify-mock log ({server.log_path}) ---\n{server.log()[-8000:]}")


def _connected(mock_server: MockServer, sdk_python: str, folder: str) -> Iterator[PluginProcess]:
    plugin = mock_server.start_plugin(TEST_PLUGINS / folder, python=sdk_python)
    try:
        yield plugin
    finally:
        plugin.stop()
        print(f"--- end of the {plugin.plugin_id} output ({plugin.output_path}) ---\n{plugin.output()[-8000:]}")


@pytest.fixture
def model_caller(mock_server: MockServer, sdk_python: str) -> Iterator[PluginProcess]:
    """tests/plugins/model_caller, registered with mock_server (plugin id dify-mock-tests/model_caller)."""
    yield from _connected(mock_server, sdk_python, "model_caller")


@pytest.fixture
def simple_agent(mock_server: MockServer, sdk_python: str) -> Iterator[PluginProcess]:
    """tests/plugins/simple_agent, registered with mock_server (plugin id dify-mock-tests/simple_agent)."""
    yield from _connected(mock_server, sdk_python, "simple_agent")


@pytest.fixture
def platform_caller(mock_server: MockServer, sdk_python: str) -> Iterator[PluginProcess]:
    """tests/plugins/platform_caller (apps, workflow nodes, file uploads), registered with mock_server."""
    yield from _connected(mock_server, sdk_python, "platform_caller")
