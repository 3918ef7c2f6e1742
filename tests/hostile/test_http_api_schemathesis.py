"""schemathesis against the mock's own OpenAPI document, served by a live mock: no input gets a server error."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from dify_mock.testing import MockServer
from hypothesis import HealthCheck, given, settings


def test_no_generated_request_gets_a_server_error(tmp_path: Path) -> None:
    with MockServer(tmp_path / "mock") as mock:
        schema = schemathesis.openapi.from_url(f"{mock.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 5
        failures: list[str] = []
        for operation in operations:

            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(case=operation.as_strategy())
            def check(case: schemathesis.Case) -> None:
                response = case.call(base_url=mock.url, timeout=10)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                    )

            check()
        assert failures == []
        assert "Traceback" not in mock.log()
