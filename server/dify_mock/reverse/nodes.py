"""Reverse workflow-node calls: `session.workflow_node.parameter_extractor/question_classifier.invoke(...)`.

Both answer one NodeResponse `{"process_data", "inputs", "outputs"}` shaped like the outputs of Dify's own
nodes: the extractor's outputs hold every declared parameter plus `__is_success`, `__reason` and `__usage`;
the classifier's hold `class_name`, `class_id` and `usage`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from dify_mock.answers.builtin.nodes import PARAMETER_TYPES, empty_value, fits
from dify_mock.answers.replies import ParameterExtractorReply, QuestionClassifierReply
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError
from dify_mock.reverse.models import choose_reply, count_tokens, llm_usage

if TYPE_CHECKING:
    from dify_mock.host import Host


def _model(request: dict[str, Any]) -> dict[str, Any]:
    model = request.get("model")
    if not isinstance(model, dict):
        raise ReverseError("'model' must be an object with provider, name and mode")
    missing = [key for key in ("provider", "name", "mode") if not isinstance(model.get(key), str) or not model[key]]
    if missing:
        raise ReverseError(f"'model' is missing {', '.join(missing)}")
    return model


def _query(request: dict[str, Any]) -> tuple[str, str]:
    query, instruction = request.get("query"), request.get("instruction") or ""
    if not isinstance(query, str) or not query:
        raise ReverseError("'query' must be a non-empty string")
    if not isinstance(instruction, str):
        raise ReverseError("'instruction' must be a string")
    return query, instruction


def _parameters(request: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = request.get("parameters")
    if not isinstance(parameters, list):
        raise ReverseError("'parameters' must be a list of {name, type, options, description, required}")
    seen: set[str] = set()
    for index, parameter in enumerate(parameters):
        where = f"parameters[{index}]"
        if not isinstance(parameter, dict):
            raise ReverseError(f"{where} must be an object, got {type(parameter).__name__}")
        name, kind, options = parameter.get("name"), parameter.get("type"), parameter.get("options") or []
        if not isinstance(name, str) or not name:
            raise ReverseError(f"{where}.name must be a non-empty string")
        if name in seen:
            raise ReverseError(f"{where}.name: the parameter {name!r} is declared twice")
        seen.add(name)
        if kind not in PARAMETER_TYPES:
            raise ReverseError(f"{where}.type is {kind!r}; expected one of {', '.join(PARAMETER_TYPES)}")
        if not isinstance(options, list) or not all(isinstance(option, str) for option in options):
            raise ReverseError(f"{where}.options must be a list of strings")
    return parameters


def _classes(request: dict[str, Any]) -> list[dict[str, Any]]:
    classes = request.get("classes")
    if not isinstance(classes, list) or not classes:
        raise ReverseError("'classes' must be a non-empty list of {id, name}")
    for index, entry in enumerate(classes):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(key), str) for key in ("id", "name")):
            raise ReverseError(f"classes[{index}] must be an object with a string id and name")
    return classes


def _usage(query: str, instruction: str, answer: str, started: float) -> dict[str, Any]:
    return llm_usage(count_tokens(f"{instruction}\n{query}"), count_tokens(answer), time.perf_counter() - started)


def extracted_outputs(parameters: list[dict[str, Any]], given: dict[str, Any], origin: str) -> dict[str, Any]:
    """Every declared parameter's value: from `given` when it fits the type, else Dify's empty value."""
    values: dict[str, Any] = {}
    for parameter in parameters:
        name, kind = parameter["name"], parameter["type"]
        if name not in given:
            values[name] = empty_value(kind)
            continue
        options = [str(option) for option in parameter.get("options") or []]
        if not fits(kind, given[name], options):
            allowed = f" (one of {', '.join(options)})" if kind == "select" and options else ""
            raise ReverseError(f"{origin} gives {given[name]!r} for the {kind} parameter {name!r}{allowed}")
        values[name] = given[name]
    return values


async def answer_parameter_extractor(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    started = time.perf_counter()
    request = call.request
    parameters, model = _parameters(request), _model(request)
    query, instruction = _query(request)
    reply = choose_reply(host, call)
    assert isinstance(reply, ParameterExtractorReply)
    values = extracted_outputs(parameters, reply.outputs, _origin(call))
    extras = {key: value for key, value in reply.outputs.items() if key not in values}
    usage = _usage(query, instruction, str(values), started)
    yield {
        "process_data": {
            "model_mode": model["mode"],
            "prompts": [],
            "usage": usage,
            "function": {},
            "tool_call": None,
            "model_provider": model["provider"],
            "model_name": model["name"],
        },
        "inputs": {"query": query, "files": [], "parameters": parameters, "instruction": instruction},
        "outputs": {"__is_success": 1, "__reason": None, "__usage": usage, **values, **extras},
    }


async def answer_question_classifier(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    started = time.perf_counter()
    request = call.request
    classes, model = _classes(request), _model(request)
    query, instruction = _query(request)
    reply = choose_reply(host, call)
    assert isinstance(reply, QuestionClassifierReply)
    if reply.class_id is not None:
        chosen = next((c for c in classes if c["id"] == reply.class_id), None)
    else:
        chosen = next((c for c in classes if c["name"] == reply.class_name), None)
    if chosen is None:
        wanted = f"id {reply.class_id!r}" if reply.class_id is not None else repr(reply.class_name)
        declared = ", ".join(f"{c['name']!r} (id {c['id']!r})" for c in classes)
        raise ReverseError(f"{_origin(call)} answers the class {wanted}, but the call declares only {declared}")
    usage = _usage(query, instruction, chosen["name"], started)
    yield {
        "process_data": {"model_mode": model["mode"], "prompts": [], "usage": usage, "finish_reason": "stop"},
        "inputs": {"query": query},
        "outputs": {"class_name": chosen["name"], "class_id": chosen["id"], "usage": usage},
    }


def _origin(call: ReverseCall) -> str:
    return f"fixture {call.answered_by}" if call.answered_by.startswith("rule:") else "the answer"
