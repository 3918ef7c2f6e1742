"""Every command example of README.md and docs/ that shows its output is run here, and its output compared.

How an example is written and compared: `tests/docs_examples.py`. The setups an example can name are below. Each
gives a folder, made once and shared by the examples that name it, in page order (as one terminal session would
be): it sees the repository's `tests/` and `fixtures/`, and `.venv/bin` is first on PATH. A setup may also start a
mock with plugins connected, shared by its examples. An example whose first command is `dify-mock serve` or
`dify-mock run` starts that mock itself, as written, and its start-up output is compared like any other; the
plugins of the setup then connect to it, and it stops at the end of the example. The documented addresses
(`localhost:5002`, `:5003`, a setup's own) are rewritten to the ports really used.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dify_mock.testing import MockServer
from dify_mock.testing.processes import free_ports, spawn, terminate

from tests.docs_examples import Block, Command, Example, blocks, examples, matches, shows_a_session

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PLUGINS = ROOT / "tests" / "plugins"
MOCK_PORTS = {"5002": "port", "5003": "debug_port"}
# `make official-agent OFFICIAL=<dify-official-plugins checkout>` sets it; this repository has no copy of that code.
OFFICIAL_AGENT_VARIABLE = "DIFY_MOCK_OFFICIAL_AGENT_PLUGIN"
SERVER_COMMAND = re.compile(r"^(?:\w+=\S+\s+)*(?:\.venv/bin/)?dify-mock\s+(?:serve|run)\b")


@dataclass
class Folder:
    """Where a setup's commands run, what else it started there, and the documented ports it stands for."""

    path: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


def web_search_without_llm(folder: Folder) -> None:
    """check.md's failing check: a copy of tests/plugins/web_search whose manifest no longer grants `llm`."""
    plugin = folder.path / "web_search"
    shutil.copytree(PLUGINS / "web_search", plugin, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    manifest = plugin / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("llm: true", "llm: false"))
    folder.path = plugin


def page_block(page: str, after: str, lang: str) -> str:
    """The first ```lang block of a docs page after the text `after`: what a page tells the reader to write."""
    text = (ROOT / "docs" / page).read_text()
    found = re.search(rf"```{lang}\n(.*?)```", text[text.index(after) :], flags=re.S)
    assert found, f"docs/{page}: no ```{lang} block after {after!r}"
    return found.group(1)


def check_inputs_file(folder: Folder) -> None:
    """check-inputs.md's run: tests/plugins/trigger_plugin without its tool (the daemon refuses a trigger plugin that
    also declares a tool), as `repo_events/`, and the inputs file the page shows."""
    plugin = folder.path / "repo_events"
    shutil.copytree(PLUGINS / "trigger_plugin", plugin, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    manifest = plugin / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("  tools:\n    - provider/oauth_tool.yaml\n", ""))
    (folder.path / "inputs.yaml").write_text(page_block("check-inputs.md", "With a webhook signed", "yaml"))


def openai_standin(folder: Folder) -> None:
    """backends.md's walk-through: the stand-in model server it starts, and the config file it shows."""
    (port,) = free_ports(1)
    folder.ports["8400"] = port
    command = [
        sys.executable,
        str(ROOT / "tests/openai_standin.py"),
        "--port",
        str(port),
        "--api-key-env",
        "MY_LLM_KEY",
    ]
    env = {**os.environ, "MY_LLM_KEY": "sk-local-example"}
    folder.processes.append(spawn(command, cwd=folder.path, env=env, output_path=folder.path / "standin.log"))
    config = page_block("backends.md", "`dify-mock.yaml`:", "yaml").replace("8400", str(port))
    (folder.path / "dify-mock.yaml").write_text(config)


def a_plugin_and_its_package(folder: Folder) -> None:
    """runtimes.md's `./my-plugin` and `./my-plugin.difypkg`: tests/plugins/model_caller, as a folder and zipped."""
    plugin = folder.path / "my-plugin"
    shutil.copytree(PLUGINS / "model_caller", plugin, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    with zipfile.ZipFile(folder.path / "my-plugin.difypkg", "w") as package:
        for path in sorted(plugin.rglob("*")):
            if path.is_file():
                package.write(path, path.relative_to(plugin).as_posix())


@dataclass(frozen=True)
class Setup:
    """What an example needs: a mock with these fixture files and plugins (none: no mock, or one the example's
    first command starts), and what its folder holds."""

    fixtures: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()
    mock: bool = True
    prepare: Callable[[Folder], None] | None = None
    strict: bool = False
    run_plugin_from: str | None = None  # a variable naming a plugin folder that `dify-mock run` starts; unset: skip
    run_plugin_id: str = ""


SETUPS: dict[str, Setup] = {
    "tour": Setup(fixtures=("fixtures/examples.yaml",), plugins=("model_caller",)),
    "journal": Setup(fixtures=("fixtures/examples.yaml",), plugins=("model_caller",)),
    "platform": Setup(plugins=("platform_caller",)),
    "inner_api": Setup(),
    "kinds": Setup(plugins=("model_provider", "datasource_plugin", "trigger_plugin", "endpoint_plugin")),
    "official_agent": Setup(
        fixtures=("tests/fixtures/official_agent.yaml",),
        strict=True,
        run_plugin_from=OFFICIAL_AGENT_VARIABLE,
        run_plugin_id="langgenius/agent",
    ),
    "check": Setup(mock=False),
    "check-without-llm": Setup(mock=False, prepare=web_search_without_llm),
    "check_inputs": Setup(mock=False, prepare=check_inputs_file),
    "backends": Setup(mock=False, plugins=("model_caller",), prepare=openai_standin),
    "runtimes": Setup(mock=False, prepare=a_plugin_and_its_package),
}


@dataclass
class Session:
    """A setup as its examples share it: its folder and its mock, if it has one."""

    folder: Folder
    mock: MockServer | None = None


def start_mock(setup: Setup, data_dir: Path, plugin_python: str) -> MockServer:
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


Sessions = Callable[[str], Session]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Iterator[Sessions]:
    """`sessions(name)`: the setup's folder and mock, made the first time an example names it."""
    made: dict[str, Session] = {}

    def get(name: str) -> Session:
        if name not in made:
            setup = SETUPS[name]
            root = tmp_path_factory.mktemp(f"docs-{name}")
            for shared in ("tests", "fixtures"):
                (root / shared).symlink_to(ROOT / shared)
            made[name] = session = Session(Folder(root))
            if setup.prepare:
                setup.prepare(session.folder)
            if setup.mock:
                session.mock = start_mock(setup, tmp_path_factory.mktemp(f"docs-{name}-data"), sdk_python)
        return made[name]

    yield get
    for session in made.values():
        if session.mock is not None:
            session.mock.stop()
        for process in session.folder.processes:
            terminate(process, grace=5)


def ports_of(session: Session, mock: MockServer | None) -> dict[str, int]:
    ports = dict(session.folder.ports)
    if mock is not None:
        ports.update({documented: getattr(mock, attribute) for documented, attribute in MOCK_PORTS.items()})
    return ports


def to_real(text: str, ports: dict[str, int]) -> str:
    for documented, real in ports.items():
        text = re.sub(rf"\b(?:localhost|127\.0\.0\.1):{documented}\b", f"127.0.0.1:{real}", text)
    return text


def to_documented(text: str, ports: dict[str, int], folder: Path) -> str:
    """What a command printed, as the page shows it: the documented ports, and paths relative to its folder."""
    text = text.replace(f"{folder}/", "")
    for documented, real in ports.items():
        text = re.sub(rf"\b(localhost|127\.0\.0\.1):{real}\b", rf"\1:{documented}", text)
    return text


def environment(mock: MockServer | None, plugin_python: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIFY_MOCK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "120"
    env["DIFY_MOCK_PLUGIN_PYTHON"] = plugin_python
    if mock is not None:
        env["DIFY_MOCK_URL"] = mock.url
    return env


def serve(command: Command, session: Session, setup: Setup, data_dir: Path, plugin_python: str) -> MockServer:
    """The example's own `dify-mock serve|run ...`, started as written (on free ports), its plugins connected, and
    its start-up output compared once it has printed all that the page shows (or 60 s have passed)."""
    words = shlex.split(to_real(command.text, session.folder.ports))
    env = {}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    subcommand, arguments = words[1], words[2:]
    run_plugin = Path(session.folder.path, arguments.pop(0)) if subcommand == "run" else None
    env["DIFY_MOCK_PLUGIN_PYTHON"] = plugin_python
    mock = MockServer(data_dir, extra_args=arguments, env=env, cwd=session.folder.path, run_plugin=run_plugin)
    mock.startup_timeout = 300  # `run` on a package first makes its environment
    mock.log_path.unlink(missing_ok=True)  # the output of this start only
    mock.start()
    for plugin in setup.plugins:
        mock.start_plugin(PLUGINS / plugin, python=plugin_python)

    def startup_output() -> str:
        return to_documented(mock.log(command_lines=False), ports_of(session, mock), session.folder.path)

    deadline = time.monotonic() + 60
    while not matches(command.shown_output, startup_output()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert matches(command.shown_output, startup_output()), (
        f"`{command.text}` printed:\n{startup_output()}\nwhich is not what the page shows:\n"
        + "\n".join(command.shown_output)
    )
    return mock


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
def test_example(example: Example, sessions: Sessions, sdk_python: str, tmp_path: Path) -> None:
    setup = SETUPS[example.setup]
    session = sessions(example.setup)
    commands, served = list(example.commands), None
    if SERVER_COMMAND.match(commands[0].text):
        served = serve(commands.pop(0), session, setup, session.folder.path / ".dify-mock", sdk_python)
    mock = served or session.mock
    ports, env = ports_of(session, mock), environment(mock, sdk_python)
    try:
        for command in commands:
            result = subprocess.run(
                ["bash", "-c", to_real(command.text, ports)],
                cwd=session.folder.path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            output = to_documented(result.stdout + result.stderr, ports, session.folder.path)
            if command.shown_output:
                assert matches(command.shown_output, output), (
                    f"{example.id}: `{command.text}` printed (exit {result.returncode}):\n{output}\n"
                    "which is not what the page shows:\n" + "\n".join(command.shown_output)
                )
            else:
                assert result.returncode == 0, f"{example.id}: `{command.text}` failed ({result.returncode}):\n{output}"
    finally:
        if served is not None:
            served.stop()
