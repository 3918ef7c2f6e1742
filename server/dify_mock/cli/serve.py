"""`dify-mock serve`: the mock's HTTP API and remote-debug TCP listener, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from dify_mock.cli.console import configure_logging
from dify_mock.cli.options import SERVER_SETTINGS, add_settings_options
from dify_mock.config.settings import ConfigError, Settings

DESCRIPTION = """Run the mock until Ctrl-C: Dify's plugin API and the mock's own API (/mock/*) over HTTP, and the
remote-debug TCP listener plugins connect to (INSTALL_METHOD=remote). Fixture rules answer the plugins' reverse
calls; a config file adds live model backends, cassettes, latency and faults.

Every option can also be set with its DIFY_MOCK_* environment variable or as a top-level key of the --config file
(the command line wins, then the environment, then the file)."""


def add_serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    serve = commands.add_parser(
        "serve", help=help_text, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_settings_options(serve, SERVER_SETTINGS)
    serve.set_defaults(run=run_serve)


def run_serve(arguments: argparse.Namespace) -> int:
    from dify_mock.answers.rules import FixtureError, RuleBook

    settings: Settings = arguments.settings
    try:
        settings.check()
        rules = RuleBook.load(list(settings.fixture_paths))
    except (ConfigError, FixtureError) as error:
        print(f"dify-mock: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from dify_mock.startup.serve import serve

    return serve(settings, rules)
