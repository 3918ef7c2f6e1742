"""A web page in the developer's browser against the mock next door.

A page can send simple cross-origin POSTs (text/plain, HTML forms: no preflight), and with DNS rebinding it can read
answers under a foreign `Host`. The mock serves only the Host names it listens on or was told about, refuses
state-changing requests that a browser marks as cross-site or that need no preflight, and serves uploaded files as
sandboxed attachments. Dify's, the daemon's and the SDK's own calls still pass: the SDK's in every test that runs a
plugin, the daemon's in `test_the_real_daemon_still_reaches_the_inner_api` when DIFY_DAEMON_CTL names daemonctl.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer

RULE = {"llm": [{"name": "page-proof", "reply": {"text": "kept"}}]}


def bare(mock: MockServer) -> httpx.Client:
    """A client with no custom header: what a web page's simple request looks like on the wire."""
    return httpx.Client(base_url=mock.url, timeout=60)


def rules(mock: MockServer) -> list[str]:
    return [rule["name"] for rule in mock.http.get("/mock/rules").json()["rules"]]


def test_a_foreign_host_is_refused_on_every_route(mock_server):
    port = mock_server.url.rsplit(":", 1)[1]
    stored = mock_server.http.post("/mock/files", files={"file": ("a.txt", b"hello", "text/plain")}).json()
    signed = stored["file"]["url"].split(port, 1)[1]
    with bare(mock_server) as page:
        for path in ("/mock/journal", "/plugin/default/management/list", "/mock/rules", signed, "/"):
            rebound = page.get(path, headers={"Host": f"attacker.example:{port}"})
            assert rebound.status_code == 421, path
            assert rebound.json()["error"] == "unknown_host" and "--allowed-host" in rebound.json()["message"]
            for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "app.localhost"):
                assert page.get(path, headers={"Host": host}).status_code == 200, (path, host)
        posted = page.post(
            "/mock/reset", headers={"Host": "attacker.example", "Content-Type": "application/json", "X-Api-Key": "k"}
        )
        assert posted.status_code == 421
    assert "the Host 'attacker.example" in mock_server.log()


@pytest.mark.mock_server(extra_args=["--allowed-host", "dify-mock.test", "--files-url", "http://mock.example:8080"])
def test_the_names_it_was_told_about_are_served(mock_server):
    with bare(mock_server) as page:
        for host in ("dify-mock.test", "DIFY-MOCK.TEST:5002", "mock.example:8080", "mock.example"):
            assert page.get("/mock/journal", headers={"Host": host}).status_code == 200, host
        assert page.get("/mock/journal", headers={"Host": "other.example"}).status_code == 421


def test_simple_cross_origin_posts_change_nothing(mock_server):
    mock_server.http.post("/mock/rules", json=RULE).raise_for_status()
    with bare(mock_server) as page:
        attempts = [
            ("/mock/reset", {"Content-Type": "text/plain"}, b""),
            ("/mock/reset", {}, b""),
            ("/mock/reset", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=b"),
            ("/mock/rules", {"Content-Type": "text/plain"}, b'{"llm": [{"reply": {"text": "page"}}]}'),
            ("/plugin/default/endpoint/setup", {"Content-Type": "text/plain"}, b'{"plugin_unique_identifier": "x"}'),
            ("/inner/api/invoke/llm", {"Content-Type": "text/plain"}, b'{"tenant_id": "t", "user_id": "u"}'),
            ("/plugin/default/dispatch/tool/invoke", {"Content-Type": "text/plain"}, b'{"data": {}}'),
        ]
        for path, headers, body in attempts:
            answer = page.post(path, headers=headers, content=body)
            assert answer.status_code == 403, path
            assert answer.json()["error"] == "custom_header_required", path
        upload = page.post("/mock/files", files={"file": ("page.html", b"<script>alert(1)</script>", "text/html")})
        assert upload.status_code == 403

        # JSON (preflighted in a browser) from another origin, or a browser saying cross-site: refused as well
        json_headers = {"Content-Type": "application/json"}
        for extra in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
            answer = page.post("/mock/rules", headers={**json_headers, **extra}, content=b'{"llm": []}')
            assert answer.status_code == 403, extra
            answer = page.delete("/mock/journal", headers=extra)
            assert answer.status_code == 403, extra
        assert mock_server.http.get("/mock/files").json()["files"] == []
        assert rules(mock_server) == ["page-proof"]
        assert len(mock_server.journal(kind="reverse")) == 0

        # the dashboard's own requests: same origin
        own = {"Origin": mock_server.url, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
        assert page.post("/mock/reset", headers=own).status_code == 200
        assert rules(mock_server) == []
        assert page.post("/mock/reset", headers={"X-Requested-With": "dify-mock"}).status_code == 200


def test_an_uploaded_page_is_served_as_a_sandboxed_attachment(mock_server):
    page = b"<html><script>fetch('/mock/reset', {method: 'POST'})</script></html>"
    stored = mock_server.http.post("/mock/files", files={"file": ("page.html", page, "text/html")}).json()
    served = mock_server.http.get(stored["file"]["url"])
    assert served.status_code == 200 and served.content == page
    assert served.headers["content-disposition"].startswith("attachment")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    dashboard = mock_server.http.get("/")
    assert dashboard.headers["x-content-type-options"] == "nosniff" and dashboard.headers["x-frame-options"] == "DENY"


@pytest.mark.skipif(not os.environ.get("DIFY_DAEMON_CTL"), reason="DIFY_DAEMON_CTL names no daemonctl")
def test_the_real_daemon_still_reaches_the_inner_api(tmp_path):
    daemonctl = os.environ["DIFY_DAEMON_CTL"]
    state = Path(os.environ.get("DIFY_DAEMON_STATE_ROOT", "/var/tmp")) / f"dify-mock-test-{os.getpid()}"
    key = "same-origin-inner-key"
    fixture = tmp_path / "rules.yaml"
    fixture.write_text("llm:\n  - name: via-daemon\n    reply: {text: answered through the daemon}\n")
    with MockServer(tmp_path / "mock", fixtures=[fixture], extra_args=["--inner-api-key", key]) as mock:
        up = subprocess.run(
            [daemonctl, "up", "--inner-api-url", mock.url, "--inner-api-key", key, "--state", str(state)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        try:
            assert up.returncode == 0, up.stderr
            daemon = dict(line.split("=", 1) for line in up.stdout.split() if "=" in line)
            package = tmp_path / "model_caller.difypkg"
            packed = subprocess.run(
                [daemonctl, "package", str(TEST_PLUGINS / "model_caller"), str(package)],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert packed.returncode == 0, packed.stderr
            installed = subprocess.run(
                [daemonctl, "install", str(package), "--state", str(state)], capture_output=True, text=True, timeout=600
            )
            assert installed.returncode == 0, installed.stderr
            body = {
                "user_id": "me",
                "data": {
                    "provider": "model_caller",
                    "tool": "llm",
                    "credentials": {},
                    "tool_parameters": {"prompt": "hi"},
                },
            }
            headers = {"X-Api-Key": daemon["DAEMON_SERVER_KEY"], "X-Plugin-ID": "dify-mock-tests/model_caller"}
            url = f"{daemon['DAEMON_URL']}/plugin/{daemon['DAEMON_TENANT']}/dispatch/tool/invoke"
            answer = httpx.post(url, json=body, headers=headers, timeout=120)
            assert "answered through the daemon" in answer.text, answer.text
            entries = mock.journal(kind="reverse", type="llm")
            assert [entry["answered_by"] for entry in entries] == ["rule:via-daemon"]
            assert "refused" not in mock.log()
        finally:
            subprocess.run([daemonctl, "down", "--state", str(state)], capture_output=True, timeout=120)
            shutil.rmtree(state, ignore_errors=True)  # its database and the plugin's environment: 250 MB
