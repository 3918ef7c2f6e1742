"""bench/profile.py: py-spy's raw stacks summed per function and per layer."""

from __future__ import annotations

from pathlib import Path

from bench.profile import layer_shares, short_name, top_lines

RAW = (
    "main (runpy.py:1);serve (/x/server/dify_mock/http/fast_lane.py:50);send (/v/site-packages/uvicorn/h.py:9) 6\n"
    "main (runpy.py:1);serve (/x/server/dify_mock/http/fast_lane.py:50);_insert (/x/server/dify_mock/store/j.py:3) 3\n"
    "main (runpy.py:1);poll (/usr/lib/python3.12/selectors.py:4) 1\n"
    "not a stack line\n"
)


def test_stacks_are_summed_by_own_and_inclusive_time(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(RAW)
    lines = top_lines(raw, count=3)
    assert lines[0] == "10 samples; own time:"
    assert lines[1].split() == ["60.0%", "send", "(uvicorn/h.py)"]
    assert "  100.0%  main (runpy.py)" not in lines  # start-up frames are left out of the inclusive list
    assert any(line.split() == ["90.0%", "serve", "(dify_mock/http/fast_lane.py)"] for line in lines)
    shares = layer_shares(raw)
    assert shares["uvicorn's reads and writes"] == 0.6 and shares["the journal"] == 0.3 and shares["other"] == 0.1
    assert short_name("f (/a/site-packages/pkg/m.py:3)") == "f (pkg/m.py)"
