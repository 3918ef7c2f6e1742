"""The dashboard in headless Chromium (Debian's package, driven by Playwright): a real plugin appears, a tool is
invoked through the form built from its parameters, the call and its chunks show up live, errors stand out, TTS
audio plays, and a closed tab frees its stream."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, TEST_PLUGINS
from dify_mock.testing import MockServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is in the dev group: uv sync (make test does it)"
    )
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile for every test
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()


def subscribers(server: MockServer) -> int:
    return int(server.http.get("/mock/events/subscribers").json()["subscribers"])


def test_the_dashboard_shows_a_plugin_invokes_its_tool_and_streams_the_calls(
    page: Any, mock_server: MockServer, sdk_python: str
) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(mock_server.url + "/")
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    expect(page.locator("#setup")).to_contain_text(
        f"REMOTE_INSTALL_URL=localhost:{mock_server.debug_port}"
    )  # as the terminal says

    # A real plugin connects: it appears, with its tools and their parameters.
    plugin = mock_server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
    card = page.locator('.plugin[data-plugin-id="dify-mock-tests/model_caller"]')
    expect(card).to_be_visible()
    llm_tool = card.locator('[data-tool="model_caller/llm"]')
    expect(llm_tool).to_contain_text("prompt*: string")

    # Invoke it through the form built from its declared parameters.
    llm_tool.locator("summary").click()
    llm_tool.locator('[name="prompt"]').fill("count to three")
    llm_tool.locator('select[name="stream"]').select_option("true")
    llm_tool.locator("button[type=submit]").click()
    expect(llm_tool.locator(".invoke-output .done")).to_be_visible()
    expect(llm_tool.locator(".invoke-output")).to_contain_text("count to three")

    # The call and the reverse LLM call it made, with every streamed chunk and who answered.
    tool_call = page.locator('#entries .entry[data-type="invoke_tool"]').first
    expect(tool_call).to_have_attribute("data-state", "ok")
    llm_call = page.locator('#entries .entry[data-type="llm"]').first
    expect(llm_call).to_have_attribute("data-state", "ok")
    expect(llm_call.locator(".answered")).to_have_text("builtin")
    expect(llm_call.locator(".text")).to_contain_text("count to three")
    llm_entry = mock_server.journal(kind="reverse", type="llm")[-1]
    expect(llm_call.locator(".chunks .chunk")).to_have_count(len(llm_entry["response"]))

    # An error is in plain sight, in the form and in the list.
    fail_tool = card.locator('[data-tool="model_caller/fail"]')
    fail_tool.locator("summary").click()
    fail_tool.locator("button[type=submit]").click()
    expect(fail_tool.locator(".invoke-output .error")).to_contain_text("asked to fail")
    failed = page.locator('#entries .entry[data-type="invoke_tool"][data-state="error"]').first
    expect(failed.locator(".error")).to_contain_text("asked to fail")

    # TTS: the reverse call's audio plays in the browser.
    tts_tool = card.locator('[data-tool="model_caller/tts"]')
    tts_tool.locator("summary").click()
    tts_tool.locator('[name="text"]').fill("hello from the dashboard")
    tts_tool.locator("button[type=submit]").click()
    audio = page.locator('#entries .entry[data-type="tts"] audio').first
    expect(audio).to_be_attached()
    duration = audio.evaluate(
        """audio => new Promise((resolve, reject) => {
            audio.addEventListener("loadedmetadata", () => resolve(audio.duration), { once: true });
            audio.addEventListener("error", () => reject(new Error("cannot play: " + audio.error?.code)), { once: true });
            audio.load();
        })"""
    )
    assert duration > 0

    # Left open for hours, the page keeps a bounded window: the newest 300 calls, 200 chunks shown per call.
    kept = page.evaluate(
        """() => {
            const base = Math.max(...state.entries.keys()) + 1;
            for (let i = 0; i < 1000; i++) {
                upsertEntry({id: base + i, time: Date.now() / 1000, kind: "reverse", type: "llm", plugin_id: "x/y",
                             request: {}, response: [], done: false});
                addChunk({id: base + i, chunk: {delta: {message: {content: "word "}}}});
            }
            for (let i = 0; i < 1000; i++) addChunk({id: base + 999, chunk: {delta: {message: {content: "w"}}}});
            const last = document.querySelector(`[data-entry-id="${base + 999}"]`);
            return {entries: state.entries.size, items: document.querySelectorAll("#entries > li").length,
                    chunks: last.querySelectorAll(".chunks .chunk").length};
        }"""
    )
    assert kept == {"entries": 300, "items": 300, "chunks": 200}

    # The plugin goes away: so does its card.
    plugin.stop()
    expect(card).to_have_count(0)
    assert errors == []

    assert subscribers(mock_server) == 1
    page.close()
    deadline = time.monotonic() + 60
    while subscribers(mock_server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert subscribers(mock_server) == 0  # the closed tab's stream and queue are gone


# Set before the page's own script runs: remembers whether "No plugin is connected" was ever on the page.
WATCH_FOR_NO_PLUGIN = """
window.__sawNoPlugin = false;
new MutationObserver(() => {
  if (document.body && document.body.innerText.includes("No plugin is connected")) window.__sawNoPlugin = true;
}).observe(document, { childList: true, subtree: true, characterData: true });
"""


@pytest.mark.mock_server(fixtures=["fixtures/models.yaml"])
def test_the_dashboard_says_loading_until_its_first_snapshot_and_never_that_no_plugin_is_connected(
    page: Any, mock_server: MockServer, sdk_python: str, tmp_path: Path
) -> None:
    """Finding 3 of issue 27: with a plugin connected and calls made, the page showed "No plugin is connected"
    until its event stream's first snapshot arrived. Here the stream is held back by the browser until the page
    has been looked at: it must say "loading", then show the plugin, and never say that no plugin is connected."""
    from playwright.sync_api import expect

    plugin = mock_server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
    for prompt in ("hello", "weather in Paris?"):
        mock_server.invoke_tool(plugin.plugin_id, "model_caller", "llm", {"prompt": prompt, "with_tools": True})
    held: list[Any] = []
    page.route("**/mock/events*", lambda route: held.append(route))
    page.add_init_script(WATCH_FOR_NO_PLUGIN)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(mock_server.url + "/")
    setup = page.locator("#setup")
    expect(setup).to_contain_text("Loading: asking the mock which plugins are connected")
    assert len(held) == 1  # the page is waiting for its first snapshot
    expect(setup).not_to_contain_text("No plugin is connected")
    page.screenshot(path=str(tmp_path / "dashboard-loading.png"), full_page=True)

    held[0].continue_()
    card = page.locator('.plugin[data-plugin-id="dify-mock-tests/model_caller"]')
    expect(card).to_be_visible()
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    expect(setup).not_to_contain_text("Loading")
    llm_call = page.locator('#entries .entry[data-type="llm"]').first
    expect(llm_call.locator(".answered")).to_have_text("rule:weather")
    expect(llm_call.locator(".rule-file")).to_have_text(f"{REPO_ROOT / 'tests' / 'fixtures' / 'models.yaml'}:3")
    page.screenshot(path=str(tmp_path / "dashboard-live.png"), full_page=True)
    assert page.evaluate("window.__sawNoPlugin") is False
    assert errors == []

    # The truth, both ways: once the plugin goes, the page says so.
    plugin.stop()
    expect(setup).to_contain_text("No plugin is connected")


@pytest.mark.mock_server(server_key="dashboard-key-7")
def test_a_mock_with_a_server_key_asks_for_it_then_goes_live(page: Any, mock_server: MockServer) -> None:
    from playwright.sync_api import expect

    page.goto(mock_server.url + "/")
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#status")).to_have_text("server key needed")
    page.locator('#key-form [name="key"]').fill("dashboard-key-7")
    page.locator("#key-form button[type=submit]").click()
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    expect(page.locator("#setup")).to_contain_text("No plugin is connected")
