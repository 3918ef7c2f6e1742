"""Which entry points `dify-mock check` invokes, and how it reads what they raise."""

from __future__ import annotations

from pathlib import Path

from dify_mock.check.findings import Status
from dify_mock.check.invocations import EntryPoint, entry_points, invoke
from dify_mock.check.network import RefusingProxy
from dify_mock.testing import MockServer, PluginError

FORM = [{"name": "api_key", "type": "secret-input", "required": True, "label": {"en_US": "key"}}]


def names(declarations: dict[str, list[dict[str, object]]], tmp_path: Path) -> list[str]:
    return [point.name for point in entry_points(MockServer(tmp_path), "a/b", declarations)]  # never started


def test_credentials_are_validated_only_where_dify_shows_a_form(tmp_path: Path) -> None:
    without = {
        "datasources": [{"identity": {"name": "docs"}, "credentials_schema": []}],
        "triggers": [{"identity": {"name": "hooks"}, "subscription_constructor": None}],
    }
    assert names(without, tmp_path) == ["trigger hooks webhook"]  # a webhook needs no credentials
    with_forms = {
        "datasources": [{"identity": {"name": "docs"}, "credentials_schema": FORM}],
        "triggers": [{"identity": {"name": "hooks"}, "subscription_constructor": {"credentials_schema": FORM}}],
    }
    assert names(with_forms, tmp_path) == [
        "datasource docs credentials",
        "trigger hooks credentials",
        "trigger hooks webhook",
    ]


def raising(error: Exception) -> EntryPoint:
    def call() -> list[dict[str, object]]:
        raise error

    return EntryPoint("model m credentials", call, True, "model m")


def test_a_refusal_is_an_answer_a_crash_is_not_and_what_follows_a_refusal_needs_real_credentials() -> None:
    proxy = RefusingProxy()
    try:
        refused: set[str] = set()
        finding = invoke(raising(PluginError("ValueError", "the key looks wrong")), proxy, refused)
        assert finding.status is Status.PASS and finding.message.startswith("refused made-up credentials")
        assert refused == {"model m"}
        later = EntryPoint("model m llm x", raising(PluginError("InvokeError", "401")).call, provider="model m")
        assert invoke(later, proxy, refused).status is Status.SKIP
        denied = EntryPoint(
            "model m llm y", raising(PluginError("Exception", "permission denied")).call, provider="model m"
        )
        assert invoke(denied, proxy, refused).status is Status.FAIL
        crash = invoke(raising(PluginError("NotImplementedError", "implement me")), proxy, set())
        assert crash.status is Status.FAIL
        offline = invoke(raising(PluginError("ConnectError", "Failed to resolve 'api.x.io'")), proxy, set())
        assert (offline.status, offline.message) == (Status.NETWORK, "needs network: api.x.io")
    finally:
        proxy.stop()


def test_a_provider_with_oauth_only_needs_dify_to_run_its_flow() -> None:
    proxy = RefusingProxy()
    try:
        call = raising(PluginError("ValueError", "Credentials not found")).call
        point = EntryPoint("datasource box/box", call, provider="datasource box", oauth_only=True)
        finding = invoke(point, proxy, set())
        assert finding.status is Status.SKIP
        assert finding.message.startswith("needs OAuth credentials, which only Dify's OAuth flow gives")
    finally:
        proxy.stop()
