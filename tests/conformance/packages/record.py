"""Writes verdicts.json: every corpus case through the real CLI and daemon.

    DIFY_DAEMON_CTL=../shared/tools/daemon/daemonctl .venv/bin/python tests/conformance/packages/record.py \
        --state /var/tmp/$USER/daemon [CASE ...]

The daemon must be up (`daemonctl up --state ...`); each accepted case is uninstalled again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from corpus import CASES, VERDICTS, make
from oracle import verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", default=sorted(CASES))
    parser.add_argument("--state", type=Path, required=True)
    arguments = parser.parse_args()
    ctl = os.environ["DIFY_DAEMON_CTL"]
    recorded = json.loads(VERDICTS.read_text()) if VERDICTS.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="corpus-") as temporary:
        for name in arguments.cases:
            started = time.monotonic()
            folder = make(name, Path(temporary))
            result = verdict(ctl, folder, arguments.state, Path(temporary) / "packages")
            recorded[name] = {"about": CASES[name].about, **result.to_json(), "overall": result.overall}
            seconds = time.monotonic() - started
            print(
                f"{name}: cli {result.cli}, daemon {result.daemon} ({seconds:.0f} s) {result.cli_says}"
                f" {result.daemon_says}",
                flush=True,
            )
            VERDICTS.write_text(json.dumps(dict(sorted(recorded.items())), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
