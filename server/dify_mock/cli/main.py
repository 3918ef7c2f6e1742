"""The `dify-mock` command: one subcommand per module of this folder, wired into one parser."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dify_mock.cli.check import add_check_parser
from dify_mock.cli.endpoints import add_endpoints_parser
from dify_mock.cli.invoke import add_invoke_parser
from dify_mock.cli.journal import add_journal_parser
from dify_mock.cli.run import add_run_parser
from dify_mock.cli.serve import add_serve_parser

if TYPE_CHECKING:
    pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if not getattr(arguments, "command", None):
        parser.print_help()
        return 2
    try:
        result: int = arguments.run(arguments)
    except BrokenPipeError:  # the output was piped into something that stopped reading, such as `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dify-mock", description="A local stand-in for Dify that plugins connect to.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    add_serve_parser(commands)
    add_run_parser(commands)

    add_invoke_parser(commands)
    add_endpoints_parser(commands)
    add_journal_parser(commands)
    add_check_parser(commands)
    return parser
