"""What the journal costs the event loop: `python -m bench.journal`.

Times start + 5 chunks + finish of one entry, in-process, with the SQLite writer thread running, then without
writing, then how long a read waits for the backlog. By default entries come back to back (the writer is always
busy: the worst case); `--gap-ms 1` spaces them as a busy plugin would. Timings are reported, never judged.

The read's wait is the journal's loss window at that moment: a mock killed with SIGKILL then loses the entries
still queued, those of the last that many milliseconds (docs/security.md).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from dify_mock.store.journal import Journal
from dify_mock.store.journal_sqlite import JournalQuery, JournalStore

REQUEST = {
    "provider": "openai",
    "model": "gpt-4o-mini",
    "prompt_messages": [{"role": "user", "content": "hello " * 20}],
    "credentials": {"api_key": "not-a-real-key"},
}
CHUNK = {"delta": {"message": {"content": "word "}}}


async def measure(entries: int, write: bool, gap: float) -> tuple[list[float], float, float]:
    with tempfile.TemporaryDirectory() as folder:
        store = JournalStore(Path(folder) / "journal.sqlite3", max_entries=10_000)
        if not write:
            store.write = lambda entry: None  # type: ignore[method-assign]
        journal = Journal(store)
        samples: list[float] = []
        flood_started = time.perf_counter()
        for number in range(entries):
            started = time.perf_counter()
            entry = journal.start("reverse", "llm", "default", "bench/journal", "session", REQUEST)
            for _ in range(5):
                entry.add_chunk(CHUNK)
            journal.finish(entry, answered_by="builtin")
            samples.append(time.perf_counter() - started)
            if gap > 0:
                await asyncio.sleep(gap)
            elif number % 100 == 0:
                await asyncio.sleep(0)
        started = time.perf_counter()
        flood = started - flood_started
        await journal.query(JournalQuery(limit=1))
        read_wait = time.perf_counter() - started
        journal.close()
        return sorted(samples), read_wait, flood


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--gap-ms", type=float, default=0.0, help="pause between entries")
    arguments = parser.parse_args()
    for label, write in (("with the SQLite writer", True), ("without writing", False)):
        samples, read_wait, flood = asyncio.run(measure(arguments.entries, write, arguments.gap_ms / 1000))

        def at(fraction: float, samples: Any = samples) -> float:
            return float(samples[int(fraction * (len(samples) - 1))] * 1e6)

        print(
            f"{label:24} per entry p50 {at(0.5):6.1f} us  p99 {at(0.99):7.1f} us  "
            f"first read after {arguments.entries} entries in {flood * 1000:.0f} ms waited {read_wait * 1000:.1f} ms "
            f"(the loss window then; {arguments.entries / (flood + read_wait):.0f} entries/s kept)"
        )


if __name__ == "__main__":
    main()
