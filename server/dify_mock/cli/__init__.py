"""The `dify-mock` command line: one module per command, `main` parses and dispatches."""

from dify_mock.cli.main import main

__all__ = ["main"]
