"""A journal reopened on a full disk: SQLite's "database or disk is full" (or a write past the file size limit) is
not corruption. Nothing is moved aside, start-up says what is full, and once there is room the entries are all there.

The disk is made full as tests/test_full_disk.py makes it: a tmpfs filled for real, or a file size limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from test_full_disk import SmallDisk, small_disk  # noqa: F401  (the fixture)

ENTRIES = 300
OPEN = """
import json, sys
from dify_mock.store.journal_sqlite import JournalQuery, JournalStore
try:
    store = JournalStore(sys.argv[1], 10_000)
except Exception as error:
    print(json.dumps({"refused": f"{type(error).__name__}: {error}"}))
else:
    rows = store.select(JournalQuery()).result(timeout=60)
    print(json.dumps({"entries": len(rows)}))
    store.close()
"""
WRITE = """
import sys
from dify_mock.store.journal_sqlite import JournalStore
store = JournalStore(sys.argv[1], 10_000)
for number in range(int(sys.argv[2])):
    store.write({"id": store.next_id + number, "time": 1.0, "kind": "log", "type": "info", "tenant_id": "t",
                 "plugin_id": "p", "session_id": "", "message": "x" * 200})
store.close()
"""


def python(script: str, *args: str, limit=None) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("DIFY_MOCK_")}
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120, env=clean, preexec_fn=limit
    )


def test_a_journal_reopened_on_a_full_disk_is_not_taken_for_corruption(small_disk):  # noqa: F811
    data = small_disk.folder / "data"
    data.mkdir()
    journal = data / "journal.sqlite3"
    written = python(WRITE, str(journal), str(ENTRIES))
    assert written.returncode == 0, written.stderr

    limit = small_disk.full_from_the_start()
    for attempt in range(3):  # the reported loss happened in 2 runs of 3
        opened = python(OPEN, str(journal), limit=limit)
        assert opened.returncode == 0, opened.stderr
        outcome = json.loads(opened.stdout)
        assert outcome == {"entries": ENTRIES} or "refused" in outcome, outcome  # readable, or an error raised
        assert not [path.name for path in data.iterdir() if "unreadable" in path.name], attempt

        clean = {name: value for name, value in os.environ.items() if not name.startswith("DIFY_MOCK_")}
        command = [sys.executable, "-m", "dify_mock", "serve", "--port", "0", "--debug-port", "0"]
        started = subprocess.run(
            [*command, "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=120,
            env=clean,
            preexec_fn=limit,
        )
        assert started.returncode == 2, started.stderr
        assert f"dify-mock: cannot start: the data folder {data} is full: " in started.stderr
        assert "unreadable" not in started.stderr and "Traceback" not in started.stderr
        assert not [path.name for path in data.iterdir() if "unreadable" in path.name], attempt

    free(small_disk)
    assert json.loads(python(OPEN, str(journal)).stdout) == {"entries": ENTRIES}
    assert not [path.name for path in data.iterdir() if "unreadable" in path.name]


def free(disk: SmallDisk) -> None:
    if disk.method == "tmpfs":
        disk.filler.unlink()
