"""dify-mock against reference hosts, all measured in one run: `python -m bench [--only SECTION ...]`.

Each section prints its own table. The exit status is non-zero only when something failed functionally: timings
are reported, never judged.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from bench import cli_help, dashboard, hostile, inner_api, latency, load, pytest_loop, startup, stdio, stream
from bench.common import machine_info

SECTIONS: dict[str, ModuleType] = {  # name -> module with add_arguments(parser) and run(arguments, workdir)
    "latency": latency,
    "inner_api": inner_api,
    "load": load,
    "stdio": stdio,
    "stream": stream,
    "startup": startup,
    "cli_help": cli_help,
    "pytest_loop": pytest_loop,
    "hostile": hostile,
    "dashboard": dashboard,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only", action="append", choices=list(SECTIONS), help="run only this section (repeatable; default all)"
    )
    for section in SECTIONS.values():
        section.add_arguments(parser)
    arguments = parser.parse_args(argv)
    print("\n".join(machine_info()))
    failures: list[str] = []
    for name in arguments.only or list(SECTIONS):
        print(f"\n== {name} ==\n")
        run: Callable[[argparse.Namespace, Path], list[str]] = SECTIONS[name].run
        with tempfile.TemporaryDirectory(prefix=f"dify-mock-bench-{name}-") as temporary:
            failures += run(arguments, Path(temporary))
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
