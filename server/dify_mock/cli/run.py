"""`dify-mock run PLUGIN [PLUGIN ...]`: the mock and plugins together, each plugin run as Dify's daemon runs it.

PLUGIN is a plugin folder, or a `.difypkg` package (unpacked, its requirements installed into a cached environment
under --data-dir). The local runtime (default) is the daemon's own: a child process over stdin and stdout, with the
declarations read from the folder; `--runtime remote` starts the same process in remote-debug mode over TCP.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from dify_mock.answers.rules import FixtureError, RuleBook
from dify_mock.cli.console import configure_logging
from dify_mock.cli.options import SERVER_SETTINGS, add_settings_options
from dify_mock.config.settings import ConfigError, Settings
from dify_mock.config.specs import PluginLaunch
from dify_mock.plugins.environments import PluginEnvironmentError
from dify_mock.plugins.packages import PackageError, prepare_package

PLUGIN_PYTHON_ENV = "DIFY_MOCK_PLUGIN_PYTHON"


def add_run_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    run = commands.add_parser(
        "run",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "plugin",
        type=Path,
        nargs="+",
        metavar="PLUGIN",
        help="a plugin folder or a .difypkg package (several: all of them, side by side, as in one daemon)",
    )
    run.add_argument(
        "--python",
        help=f"for a folder, the Python that runs the plugin (default ${PLUGIN_PYTHON_ENV}, then FOLDER/.venv); "
        "for a .difypkg, the Python its environment is made from",
    )
    add_settings_options(run, ("runtime", *SERVER_SETTINGS))
    run.set_defaults(run=run_plugin)


def run_plugin(arguments: argparse.Namespace) -> int:
    from dify_mock.plugins.folder import DeclarationError  # a weighty module `serve` does without

    settings: Settings = arguments.settings
    try:
        settings.check()
        rules = RuleBook.load(list(settings.fixture_paths))
        launches = tuple(
            prepare_launch(plugin, arguments.runtime, arguments.python, settings.data_dir)
            for plugin in arguments.plugin
        )
    except (ConfigError, FixtureError, DeclarationError, PluginEnvironmentError) as error:
        print(f"dify-mock: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from dify_mock.startup.serve import serve

    return serve(settings.model_copy(update={"launches": launches}), rules)


def say(text: str) -> None:
    print(f"dify-mock: {text}", file=sys.stderr, flush=True)


def prepare_launch(target: Path, runtime: str, python: str | None, data_dir: Path) -> PluginLaunch:
    """Checks the plugin can be started at all, so that a mistake is reported before the mock starts."""
    from dify_mock.plugins.folder import load_plugin_folder

    if target.is_file():
        package = prepare_package(target, data_dir, python, say)
        folder, interpreter = package.folder, package.python
    else:
        folder, interpreter = target, plugin_python(target, python)
    loaded = load_plugin_folder(folder)  # a folder without a manifest, or with a broken one, stops here with the reason
    if os.sep in interpreter:
        interpreter = str(Path(interpreter).absolute())  # the plugin runs in its own folder
    sdk_version = check_sdk(interpreter, folder)
    return PluginLaunch(folder.resolve(), interpreter, runtime, str(target), loaded.plugin_id, sdk_version)


def plugin_python(folder: Path, python: str | None) -> str:
    if python:
        return python
    from_environment = os.environ.get(PLUGIN_PYTHON_ENV)
    if from_environment:
        return from_environment
    venv = folder / ".venv" / "bin" / "python"
    return str(venv.absolute()) if venv.exists() else sys.executable


SDK_VERSION = (
    "import importlib.metadata as m, importlib.util as u, sys\n"
    "if u.find_spec('dify_plugin') is None: sys.exit(1)\n"
    "print(m.version('dify_plugin'))"
)


def check_sdk(python: str, folder: Path) -> str:
    """The dify-plugin release `python` has; PackageError when it has none."""
    try:
        found = subprocess.run([python, "-c", SDK_VERSION], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PackageError(f"cannot run {python}: {error}") from None
    if found.returncode != 0:
        raise PackageError(
            f"{python} cannot import dify_plugin, so it cannot run {folder}: install the plugin's requirements "
            f"into {folder / '.venv'}, pass --python (or set {PLUGIN_PYTHON_ENV}), or run its .difypkg, whose "
            "requirements are installed for you"
        )
    return found.stdout.strip()
