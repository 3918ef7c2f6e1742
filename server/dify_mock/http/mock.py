"""The mock's own API: health, fixture rules and their schema, scenario states (the journal is in journal.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from dify_mock.answers.rules import FixtureError, Rule, RuleBook, fixture_json_schema, reached_states
from dify_mock.answers.rules.reloading import log_reload, reload_rules
from dify_mock.host import Host
from dify_mock.http.dispatch import check_api_key, get_host

router = APIRouter()
guarded = APIRouter(dependencies=[Depends(check_api_key)])


@router.get("/health/check")
async def health() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/mock/fixtures/schema")
async def fixtures_schema() -> dict[str, Any]:
    return fixture_json_schema()


def describe_rule(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "label": rule.label(),
        "type": rule.invoke_type,
        "fixture_key": rule.fixture_key,
        "origin": rule.origin,
        "file": rule.source,
        "uses": rule.uses,
        "times": rule.times,
        "fail_times": rule.fail_times,
    }


@guarded.get("/mock/rules")
async def list_rules(request: Request, unused: bool = False) -> dict[str, Any]:
    rules = get_host(request).rules
    return {"rules": [describe_rule(rule) for rule in (rules.unused() if unused else rules.rules())]}


@guarded.post("/mock/rules", response_model=None)
async def add_rules(
    request: Request,
    body: dict[str, Any] = Body(...),  # noqa: B008
    reset: Annotated[
        bool, Query(description="first do what POST /mock/reset does; its answer is under `reset`")
    ] = False,
) -> JSONResponse:
    """Adds rules in the fixture-file format; they answer after the rules already loaded."""
    host = get_host(request)
    answer: dict[str, Any] = {"reset": reset_for_a_test(host)} if reset else {}
    try:
        added = host.rules.add(body, origin="api")
    except FixtureError as error:
        return JSONResponse({**answer, "error": str(error)}, status_code=400)
    return JSONResponse({**answer, "added": [describe_rule(rule) for rule in added]}, status_code=201)


@guarded.post("/mock/reload", response_model=None)
async def reload_fixtures(request: Request) -> JSONResponse:
    """Reads the fixture files again, as a change on disk does. With an error in any file, the earlier rules stay
    in force and the answer (400) says why; plugin connections are never touched."""
    host = get_host(request)
    result = await asyncio.to_thread(reload_rules, host.rules)
    log_reload(result, host.rules)
    body = {"reloaded": result.ok, "message": result.line, "rules": result.rules, "warnings": host.rules.warnings()}
    if result.ok:
        return JSONResponse(body)
    return JSONResponse({**body, "error": result.error}, status_code=400)


def remove_api_rules(rules: RuleBook) -> int:
    added = [rule for rule in rules.rules() if rule.source == "api"]
    rules.remove(added)
    return len(added)


@guarded.delete("/mock/rules")
async def remove_added_rules(request: Request) -> dict[str, Any]:
    """Removes every rule added through this API; rules from fixture files stay."""
    return {"removed": remove_api_rules(get_host(request).rules)}


@guarded.post("/mock/reset")
async def reset(request: Request) -> dict[str, Any]:
    """Puts the mock back as its fixture files left it, as a test begins: removes the rules added through this
    API, puts every scenario back in `started`, and counts every rule's uses from 0 (`replies`, `times`, `fail_times`). The journal stays; `journal_last_id` is its newest entry, so
    that `GET /mock/journal?after_id=` shows only what follows."""
    return reset_for_a_test(get_host(request))


def reset_for_a_test(host: Host) -> dict[str, int]:
    removed = remove_api_rules(host.rules)
    host.rules.reset_uses()
    scenarios = host.rules.scenarios.reset(scenario=None, scope=None)
    return {"removed_rules": removed, "reset_scenarios": scenarios, "journal_last_id": host.journal.last_id}


@guarded.get("/mock/scenarios")
async def list_scenarios(request: Request, session_id: str | None = None) -> dict[str, Any]:
    """Each scenario the rules name with the states they reach, and each invocation's scenario that has left
    `started` (a scenario not listed for an invocation is in `started` there)."""
    rules = get_host(request).rules
    known = reached_states(rules.rules())  # every rule's `state` is among them: the book refuses one that is not
    states = [
        {"session_id": scope, "scenario": scenario, "state": state}
        for scope, moved in rules.scenarios.snapshot().items()
        if session_id is None or scope == session_id
        for scenario, state in moved.items()
    ]
    return {"scenarios": {name: sorted(reached) for name, reached in sorted(known.items())}, "states": states}


@guarded.delete("/mock/scenarios")
async def reset_scenarios(
    request: Request, scenario: str | None = None, session_id: str | None = None
) -> dict[str, Any]:
    """Puts scenarios back in `started`: all of them, or one (`scenario`), in every invocation or one (`session_id`)."""
    return {"reset": get_host(request).rules.scenarios.reset(scenario=scenario, scope=session_id)}
