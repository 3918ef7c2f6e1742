"""The real dify-plugin-daemon and dify-mock, side by side, for one pytest session.

Skipped unless DIFY_DAEMON_CTL names `daemonctl` (../shared/tools/daemon/daemonctl here). The session starts
the inner-API mock, `daemonctl up` pointed at it, packages and installs every plugin of tests/plugins once (the
daemon makes each environment with uv, which is slow), and `dify-mock run` with the same plugin folders; it ends
all of them, whatever happened. DIFY_CONFORMANCE_REPORT=PATH writes the verdicts into that page at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from dify_mock.testing import MockServer

from conformance import report
from conformance.allowed import NOT_DISPATCHED_PREFIX, NOT_INSTALLABLE
from conformance.sides import SERVER_KEY, Side, daemonctl, parse_up

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_PLUGINS = REPO_ROOT / "tests" / "plugins"
FIXTURES = [REPO_ROOT / "fixtures" / "examples.yaml"]
PLUGINS = sorted(
    path.parent.name
    for path in TEST_PLUGINS.glob("*/manifest.yaml")
    if path.parent.name not in NOT_INSTALLABLE and not path.parent.name.startswith(NOT_DISPATCHED_PREFIX)
)
# Both sides give up on an invocation after this long (the daemon's PLUGIN_MAX_EXECUTION_TIMEOUT, dify-mock's
# --invoke-timeout): the plugin that never answers ends here rather than after the daemon's default 10 minutes.
INVOKE_TIMEOUT = 20
INSTALL_JOBS = 3


@dataclass
class Setups:
    daemon: Side
    direct: Side
    inner: MockServer


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("DIFY_CONFORMANCE_REPORT")
    if target and report.RESULTS:
        report.write(Path(target), report.RESULTS)


@pytest.fixture(scope="session")
def setups(sdk_python: str) -> Iterator[Setups]:
    ctl = os.environ.get("DIFY_DAEMON_CTL")
    if not ctl:
        pytest.skip("DIFY_DAEMON_CTL is not set: the conformance suite needs the real daemon's daemonctl")
    ctl = str(Path(ctl).resolve())
    # The daemon's PostgreSQL runs as user postgres, which must reach the state folder: not under pytest's 0700 tmp.
    root = Path(os.environ.get("DIFY_CONFORMANCE_STATE", "/var/tmp/dify-mock-conformance"))
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    # DIFY_CONFORMANCE_REUSE=DIR keeps the daemon's data (its installed plugins and their environments) in DIR from
    # one run to the next, for working on the suite itself.
    reuse = os.environ.get("DIFY_CONFORMANCE_REUSE")
    work = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="run-", dir=root))
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)
    state = work / "daemon"
    inner = MockServer(work / "inner", fixtures=FIXTURES, extra_args=["--invoke-timeout", str(INVOKE_TIMEOUT)])
    direct_mock: MockServer | None = None
    started = False
    try:
        inner.start()
        up = parse_up(
            daemonctl(
                ctl,
                state,
                "up",
                "--inner-api-url",
                inner.url,
                "--state",
                str(state),
                env={"PLUGIN_MAX_EXECUTION_TIMEOUT": str(INVOKE_TIMEOUT)},
            )
        )
        started = True
        tenant = up["DAEMON_TENANT"]

        def install(name: str) -> None:
            package, installed = work / f"{name}.difypkg", work / f"{name}.installed"
            if installed.exists():
                return
            daemonctl(ctl, state, "package", str(TEST_PLUGINS / name), str(package))
            installed.write_text(daemonctl(ctl, state, "install", str(package), "--state", str(state)))

        with ThreadPoolExecutor(INSTALL_JOBS) as pool:
            list(pool.map(install, PLUGINS))
        direct_mock = MockServer(
            work / "direct",
            fixtures=FIXTURES,
            # the launched plugins join the daemon's tenant; the key is a secret, masked wherever it appears
            keys=[f"unused-remote-key-6f1d={tenant}"],
            server_key=SERVER_KEY,
            extra_args=["--invoke-timeout", str(INVOKE_TIMEOUT)],
            run_plugin=[TEST_PLUGINS / name for name in PLUGINS],
            plugin_python=sdk_python,
        )
        direct_mock.start()
        for name in PLUGINS:
            if not direct_mock.wait_for_plugin(f"dify-mock-tests/{name}", timeout=120, tenant=tenant):
                raise RuntimeError(f"dify-mock run did not start {name}:\n{direct_mock.log()[-4000:]}")
        daemon = Side("daemon", up["DAEMON_URL"], tenant, inner)
        for name in PLUGINS:
            daemon.wait_ready(f"dify-mock-tests/{name}")
        yield Setups(daemon=daemon, direct=Side("dify-mock", direct_mock.url, tenant, direct_mock), inner=inner)
    finally:
        if started:
            daemonctl(ctl, state, "down", "--state", str(state))
        if direct_mock is not None:
            direct_mock.stop()
        inner.stop()
        if not reuse:
            shutil.rmtree(work, ignore_errors=True)
