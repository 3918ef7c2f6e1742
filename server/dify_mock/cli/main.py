"""The `dify-mock` command: one subcommand per module of this folder, wired into one parser.

Only the command being run is imported (with what it needs): `dify-mock --help` and the light commands load
neither the server nor its models.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

PROG = "dify-mock"
# name -> (module, the function in it that adds the command's parser, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("dify_mock.cli.serve", "add_serve_parser", "run the mock: HTTP API and remote-debug TCP"),
    "run": (
        "dify_mock.cli.run",
        "add_run_parser",
        "run the mock with a plugin (a folder or a .difypkg), started and kept running as Dify's daemon does",
    ),
    "invoke": ("dify_mock.cli.invoke", "add_invoke_parser", "invoke a connected plugin and print what it streams"),
    "endpoints": (
        "dify_mock.cli.endpoints",
        "add_endpoints_parser",
        "list endpoint hooks with their URLs; set them up",
    ),
    "journal": (
        "dify_mock.cli.journal",
        "add_journal_parser",
        "print the journal of a running mock (--follow to keep watching)",
    ),
    "check": (
        "dify_mock.cli.check",
        "add_check_parser",
        "check a plugin offline: its files as the daemon validates them, its start, every entry point "
        "invoked, its reverse calls against its manifest",
    ),
}
AddParser = Callable[[Any, str], None]


class CommandLine(argparse.ArgumentParser):
    """A parser whose errors are one line that says where to look, with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


class _Version(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(PROG)
        except PackageNotFoundError:
            found = "unknown (not installed)"
        print(f"{PROG} {found}")
        parser.exit(0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in argv if word in COMMANDS), None)
    parser = build_parser(command or "")
    arguments, unknown = parser.parse_known_args(argv)
    if unknown:
        where = f"{PROG} {command}" if command else PROG
        parser.exit(2, f"{where}: unrecognized arguments: {' '.join(unknown)} (see {where} --help)\n")
    if not getattr(arguments, "command", None):
        parser.print_help()
        return 2
    if hasattr(arguments, "settings_names"):  # the command takes settings (cli/options.py)
        from dify_mock.cli.options import settings_of
        from dify_mock.config.settings import ConfigError

        try:
            arguments.settings = settings_of(arguments)
        except ConfigError as error:
            print(f"{PROG}: {error}", file=sys.stderr)
            return 2
    from dify_mock.cli.console import UsageError

    try:
        result: int = arguments.run(arguments)
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output was piped into something that stopped reading, such as `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; only `command`'s options are filled in ("": none, only the list of commands;
    None: every command's)."""
    parser = CommandLine(prog=PROG, description="A local stand-in for Dify that plugins connect to.")
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandLine)
    for name, (module, function, help_text) in COMMANDS.items():
        if command is None or name == command:
            add_parser: AddParser = getattr(importlib.import_module(module), function)
            add_parser(commands, help_text)
        else:
            commands.add_parser(name, help=help_text)
    return parser
