"""Every dispatch case sent to the real daemon and to dify-mock; the two answers, and the reverse calls the plugin
made, must be identical, equal after normalisation, or a difference listed in allowed.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from conformance import report
from conformance.cases import CALLER_BAD_INPUT, ENTRY_POINTS, PLUGIN_BAD_INPUT, Case, model
from conformance.compare import UNEXPLAINED, Verdict, judge
from conformance.conftest import Setups
from conformance.normalise import normalise
from conformance.sides import SERVER_KEY, Answer, Side

# Sent beside each bad input, to another plugin: its answer must be the one it gets alone. It makes no reverse call,
# so the journal of the case holds only the case's own.
WITNESS = model("model/schema", "llm", "fake-llm", "witness")


def send(side: Side, case: Case) -> Answer:
    path, body, headers = case.request(SERVER_KEY)
    return side.send(path, body, headers)


def run_case(setups: Setups, case: Case, pool: ThreadPoolExecutor) -> Verdict:
    marks = {side.name: side.mark() for side in (setups.daemon, setups.direct)}
    theirs, ours = pool.submit(send, setups.daemon, case), pool.submit(send, setups.direct, case)
    daemon, direct = theirs.result(), ours.result()
    verdict = judge(
        case.id,
        daemon,
        direct,
        setups.daemon.reverse_calls(marks["daemon"]),
        setups.direct.reverse_calls(marks["dify-mock"]),
    )
    report.RESULTS.append(verdict)
    return verdict


@pytest.fixture(scope="module")
def pool() -> ThreadPoolExecutor:
    with ThreadPoolExecutor(4) as threads:
        yield threads


@pytest.mark.parametrize("case", ENTRY_POINTS, ids=[case.id for case in ENTRY_POINTS])
def test_entry_point(setups: Setups, pool: ThreadPoolExecutor, case: Case) -> None:
    verdict = run_case(setups, case, pool)
    assert verdict.outcome != UNEXPLAINED, f"{case.id}: the daemon and dify-mock differ\n{verdict.diff}"


BAD_INPUT = PLUGIN_BAD_INPUT + CALLER_BAD_INPUT


@pytest.mark.parametrize("case", BAD_INPUT, ids=[case.id for case in BAD_INPUT])
def test_bad_input(setups: Setups, pool: ThreadPoolExecutor, case: Case) -> None:
    alone = {side.name: normalise(send(side, WITNESS).shown()) for side in (setups.daemon, setups.direct)}
    witnesses = {side.name: pool.submit(send, side, WITNESS) for side in (setups.daemon, setups.direct)}
    verdict = run_case(setups, case, pool)
    for side in (setups.daemon, setups.direct):  # a case may have ended the plugin's instance: wait for the next
        side.wait_ready(f"dify-mock-tests/{case.plugin}")
    for name, witness in witnesses.items():
        assert normalise(witness.result().shown()) == alone[name], f"{case.id} disturbed another plugin on {name}"
    assert verdict.outcome != UNEXPLAINED, f"{case.id}: the daemon and dify-mock differ\n{verdict.diff}"
