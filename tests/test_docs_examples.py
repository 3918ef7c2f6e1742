"""Every command example of README.md and docs/ that shows its output is run here, and its output compared.

How an example is written and compared: `tests/docs_examples.py`. The setups an example can name are below:
each is a real mock (and real plugins) started once for the examples that name it. Commands run in a folder of
their own that sees the repository's `tests/` and `fixtures/`, with `.venv/bin` first on PATH; the mock's
documented addresses (`localhost:5002`, `:5003`) are rewritten to the ports the setup really has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dify_mock.testing import MockServer

from tests.docs_examples import Block, Example, blocks, examples, matches, shows_a_session

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PLUGINS = ROOT / "tests" / "plugins"
DOCUMENTED_PORTS = {"5002": "port", "5003": "debug_port"}
# `make official-agent OFFICIAL=<dify-official-plugins checkout>` sets it; this repository has no copy of that code.
OFFICIAL_AGENT_VARIABLE = "DIFY_MOCK_OFFICIAL_AGENT_PLUGIN"


def web_search_without_llm(folder: Path) -> Path:
    """A copy of tests/plugins/web_search whose manifest no longer grants `llm`: check.md's failing check."""
    plugin = folder / "web_search"
    shutil.copytree(PLUGINS / "web_search", plugin, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    manifest = plugin / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("llm: true", "llm: false"))
    return plugin


@dataclass(frozen=True)
class Setup:
    """What an example needs: a mock with these fixture files and plugins connected (or no mock), and the folder
    its commands run in (by default an empty one that sees the repository's `tests/` and `fixtures/`)."""

    fixtures: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()
    mock: bool = True
    folder: Callable[[Path], Path] | None = None
    strict: bool = False
    run_plugin_from: str | None = None  # a variable naming a plugin folder that `dify-mock run` starts; unset: skip
    run_plugin_id: str = ""


SETUPS: dict[str, Setup] = {
    "tour": Setup(fixtures=("fixtures/examples.yaml",), plugins=("model_caller",)),
    "journal": Setup(fixtures=("fixtures/examples.yaml",), plugins=("model_caller",)),
    "platform": Setup(plugins=("platform_caller",)),
    "kinds": Setup(plugins=("model_provider", "datasource_plugin", "trigger_plugin", "endpoint_plugin")),
    "official_agent": Setup(
        fixtures=("tests/fixtures/official_agent.yaml",),
        strict=True,
        run_plugin_from=OFFICIAL_AGENT_VARIABLE,
        run_plugin_id="langgenius/agent",
    ),
    "check": Setup(mock=False),
    "check-without-llm": Setup(mock=False, folder=web_search_without_llm),
}


def start(setup: Setup, data_dir: Path, plugin_python: str) -> MockServer | None:
    if not setup.mock:
        return None
    run_plugin = None
    if setup.run_plugin_from:
        if not os.environ.get(setup.run_plugin_from):
            pytest.skip(
                f"needs ${setup.run_plugin_from} (make official-agent OFFICIAL=<a dify-official-plugins checkout>)"
            )
        run_plugin = Path(os.environ[setup.run_plugin_from])
    fixtures = [ROOT / path for path in setup.fixtures]
    server = MockServer(data_dir, fixtures, strict=setup.strict, run_plugin=run_plugin, plugin_python=plugin_python)
    server.start()
    if run_plugin is not None:
        assert server.wait_for_plugin(setup.run_plugin_id, timeout=120), f"{run_plugin} did not register"
    for plugin in setup.plugins:
        server.start_plugin(PLUGINS / plugin, python=plugin_python)
    return server


Setups = Callable[[str], MockServer | None]


@pytest.fixture(scope="module")
def setups(tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Iterator[Setups]:
    """`setups(name)`: the setup's mock, started the first time an example names it."""
    started: dict[str, MockServer | None] = {}

    def get(name: str) -> MockServer | None:
        if name not in started:
            started[name] = start(SETUPS[name], tmp_path_factory.mktemp(f"docs-{name}"), sdk_python)
        return started[name]

    yield get
    for server in started.values():
        if server is not None:
            server.stop()


def workdir(setup: Setup, tmp_path: Path) -> Path:
    for name in ("tests", "fixtures"):
        (tmp_path / name).symlink_to(ROOT / name)
    return setup.folder(tmp_path) if setup.folder else tmp_path


def environment(server: MockServer | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIFY_MOCK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "120"
    if server is not None:
        env["DIFY_MOCK_URL"] = server.url
    return env


def to_setup(text: str, server: MockServer | None) -> str:
    if server is None:
        return text
    for documented, attribute in DOCUMENTED_PORTS.items():
        real = str(getattr(server, attribute))
        text = text.replace(f"localhost:{documented}", f"127.0.0.1:{real}").replace(
            f"127.0.0.1:{documented}", f"127.0.0.1:{real}"
        )
    return text


def to_documented(text: str, server: MockServer | None) -> str:
    if server is None:
        return text
    for documented, attribute in DOCUMENTED_PORTS.items():
        text = text.replace(f"127.0.0.1:{getattr(server, attribute)}", f"127.0.0.1:{documented}")
    return text


ALL_EXAMPLES = examples(PAGES)


def test_every_shown_session_is_an_example_that_runs() -> None:
    unrun: list[Block] = [
        block
        for path in PAGES
        for block in blocks(path)
        if shows_a_session(block) and not (block.setup and block.lang == "console")
    ]
    assert not unrun, (
        "commands shown with their output but not run by this test (mark them `<!-- example: SETUP -->`, ```console):\n"
        + "\n".join(f"  {block.path.relative_to(ROOT)}:{block.line}" for block in unrun)
    )
    unknown = [example.id for example in ALL_EXAMPLES if example.setup not in SETUPS]
    assert not unknown, f"examples naming a setup this test does not have: {unknown}"


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=[example.id for example in ALL_EXAMPLES])
def test_example(example: Example, setups: Setups, tmp_path: Path) -> None:
    server = setups(example.setup)
    cwd, env = workdir(SETUPS[example.setup], tmp_path), environment(server)
    for command in example.commands:
        result = subprocess.run(
            ["bash", "-c", to_setup(command.text, server)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = to_documented(result.stdout + result.stderr, server)
        if command.shown_output:
            assert matches(command.shown_output, output), (
                f"{example.id}: `{command.text}` printed (exit {result.returncode}):\n{output}\n"
                "which is not what the page shows:\n" + "\n".join(command.shown_output)
            )
        else:
            assert result.returncode == 0, f"{example.id}: `{command.text}` failed ({result.returncode}):\n{output}"
