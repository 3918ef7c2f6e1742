"""`dify-mock serve`: the mock's HTTP API and remote-debug TCP listener, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys

from dify_mock.answers.rules import FixtureError, RuleBook
from dify_mock.cli.console import configure_logging
from dify_mock.config.settings import ConfigError, add_serve_arguments, settings_from_arguments


def add_serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="run the mock: HTTP API and remote-debug TCP")
    add_serve_arguments(serve, os.environ)
    serve.set_defaults(run=run_serve)


def run_serve(arguments: argparse.Namespace) -> int:
    try:
        settings = settings_from_arguments(arguments)
        rules = RuleBook.load(list(settings.fixtures))
    except (ConfigError, FixtureError) as error:
        print(f"dify-mock: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from dify_mock.startup.serve import serve

    return serve(settings, rules)
