"""`python -m dify_mock.answers.rules` prints the fixture files' JSON Schema (fixtures/schema.json)."""

import json

from dify_mock.answers.rules.models import fixture_json_schema

print(json.dumps(fixture_json_schema(), indent=2, sort_keys=True, ensure_ascii=False))
