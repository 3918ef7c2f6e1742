"""What `dify-mock serve` prints at start: lines a person can act on."""

from __future__ import annotations

import time
from pathlib import Path

from dify_mock.testing import MockServer


def test_startup_names_the_env_lines_dashboard_fixture_counts_and_dead_rules(tmp_path: Path) -> None:
    empty = tmp_path / "empty-fixtures"
    empty.mkdir()
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "llm:\n"
        "  - reply: {text: always}\n"  # matches every call...
        "  - name: never\n"
        "    match: {prompt: {contains: hi}}\n"  # ...so this one can never answer
        "    reply: {text: hi}\n"
        "moderation: [{reply: {flagged: false}}]\n"
    )
    with MockServer(tmp_path / "data", fixtures=[empty, rules]) as server:
        deadline = time.monotonic() + 10
        while "Fixture rules loaded" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log()
    assert "INSTALL_METHOD=remote" in log
    assert f"REMOTE_INSTALL_URL=localhost:{server.debug_port}" in log
    assert "REMOTE_INSTALL_KEY=" in log
    assert f"Dashboard: http://localhost:{server.port}/" in log
    assert f"dify-mock journal -f --url http://localhost:{server.port}" in log
    assert f"{rules}  (llm: 2, moderation: 1)" in log
    assert f"warning: {rules}:3: llm rule 'never' can never answer" in log
    assert f"warning: --fixtures {empty}: no .yaml or .yml file in this folder" in log
