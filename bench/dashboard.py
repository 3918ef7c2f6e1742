"""Section `dashboard`: from opening the dashboard to the truth on it (the connected plugin's card, the stream live),
against the same page's own load in the same browser, each run in a new page.

Target (issue 27): the dashboard shows "loading" until its first snapshot, then the truth, within 1 s of opening.
The reference is the time the browser takes to load the page's HTML and scripts (`load`), which the truth can only
follow; what comes after it is the dashboard's own work: its event stream's first snapshot, and drawing it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx

from bench.common import BenchError, percentile, plugin_process, start_mock, stop_group, wait_registered

TARGET_SECONDS = 1.0
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, as tests/test_dashboard.py drives it (make test installs it)
PLUGIN_CARD = '.plugin[data-plugin-id$="/bench_echo"]'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dashboard-runs", type=int, default=10, help="dashboard: pages opened (default 10)")


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    if arguments.dashboard_runs < 1:
        return ["dashboard: --dashboard-runs must be at least 1"]
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        return ["dashboard: playwright is not installed (make setup installs it with the dev tools)"]
    if not CHROMIUM.exists():
        return [f"dashboard: {CHROMIUM} is missing (apt-get install -y chromium; make test installs it)"]
    server, port, debug_port = start_mock(workdir)
    url = f"http://127.0.0.1:{port}/"
    loaded: list[float] = []
    truth: list[float] = []
    try:
        with (
            plugin_process(debug_port, workdir / "plugin.log") as plugin,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            wait_registered(client, plugin, workdir / "plugin.log", "the echo plugin")
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                try:
                    for _ in range(arguments.dashboard_runs + 1):  # the first, untimed: the browser warms up
                        page = browser.new_page()
                        started = time.perf_counter()
                        page.goto(url, wait_until="load")
                        page_loaded = time.perf_counter() - started
                        page.locator(PLUGIN_CARD).wait_for(state="visible", timeout=60_000)
                        page.locator('#status[data-state="live"]').wait_for(timeout=60_000)
                        shown = time.perf_counter() - started
                        if "Loading" in page.locator("#setup").inner_text():
                            raise BenchError("the plugin is shown, but the page still says it is loading")
                        page.close()
                        loaded.append(page_loaded)
                        truth.append(shown)
                finally:
                    browser.close()
    except (BenchError, PlaywrightError, OSError) as error:
        return [f"dashboard: {error}"]
    finally:
        stop_group(server)
    loaded, truth = loaded[1:], truth[1:]
    print(f"{'from opening the page to':<40} {'p50 ms':>8} {'max ms':>8}")
    print(f"{'its load event (the reference)':<40} {percentile(loaded, 0.5) * 1000:>8.1f} {max(loaded) * 1000:>8.1f}")
    print(f"{'the plugin shown, the stream live':<40} {percentile(truth, 0.5) * 1000:>8.1f} {max(truth) * 1000:>8.1f}")
    ratio = percentile(truth, 0.5) / percentile(loaded, 0.5)
    print(f"\n{len(truth)} pages, each new, in one Chromium; the truth takes {ratio:.2f}x the page's own load (p50)")
    met = max(truth) <= TARGET_SECONDS
    print(f"target (the truth within {TARGET_SECONDS:g} s of opening, every page): {'met' if met else 'missed'}")
    return []
