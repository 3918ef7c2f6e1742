"""Reading fixture files into rules, with errors that name the file, the line and the key."""

from __future__ import annotations

import datetime
import difflib
import types
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from dify_mock.answers.replies import Reply
from dify_mock.answers.rules.facts import FAMILIES
from dify_mock.answers.rules.matching import Rule
from dify_mock.answers.rules.models import FIXTURE_MODEL, STARTED, FixtureError, short
from dify_mock.answers.rules.templates import ReplyTemplate
from dify_mock.config.yaml_lines import line_of

MAX_REPORTED_ERRORS = 10

Loc = tuple[str | int, ...]


def fixture_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in {".yaml", ".yml"}
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    if path.is_file():
        return [path]
    raise FixtureError(f"{path}: no such fixture file or folder")


def read_file(file: Path, folder: Path) -> list[Rule]:
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{source}: cannot read: {exc}") from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return []
        _check_duplicate_keys(root, source)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        lines = [m.line + 1 for m in (exc.problem_mark, exc.context_mark) if m is not None]
        line = f":{lines[0]}" if lines else ""
        context = exc.context or ""
        if context and len(set(lines)) == 2:
            context += f" (from line {lines[1]})"
        problem = ", ".join(part for part in (context, exc.problem) if part)
        raise FixtureError(f"{source}{line}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise FixtureError(f"{source}: YAML error: {exc}") from None
    finally:
        loader.dispose()
    if data is None:
        return []
    return build_rules(data, root, source, file.parent, (folder,))


def _check_duplicate_keys(node: yaml.Node, source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise FixtureError(f"{source}:{key.start_mark.line + 1}: duplicate key '{key.value}'")
                seen.add(key.value)
            _check_duplicate_keys(value, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, source)


def _origin(source: str, root: yaml.Node | None, where: Loc) -> str:
    line = line_of(root, where)
    return f"{source}:{line}" if line is not None else f"{source}:{where[0]}[{where[1]}]"


def build_rules(data: Any, root: yaml.Node | None, source: str, base_dir: Path, folders: Sequence[Path]) -> list[Rule]:
    try:
        fixture = FIXTURE_MODEL.model_validate(data)
    except ValidationError as exc:
        problems = [_explain(error["loc"], error, data, root) for error in exc.errors()]
        raise FixtureError(_report(source, problems)) from None

    rules: list[tuple[int, Rule]] = []
    problems = []
    for key, family in FAMILIES.items():
        for i, model in enumerate(getattr(fixture, key) or []):
            replies: list[Reply] = [model.reply] if model.reply is not None else list(model.replies)
            templates: list[ReplyTemplate | None] = []
            for j, reply in enumerate(replies):
                where: Loc = (key, i, "reply") if model.reply is not None else (key, i, "replies", j)
                replies[j], found = _resolve_files(reply, base_dir, folders, where, data, root)
                problems.extend(found)

                def template_problem(path: Loc, text: str, where: Loc = where) -> None:
                    problems.append(_explain((*where, *path), {"type": "template", "msg": text}, data, root))

                templates.append(ReplyTemplate.of(replies[j], family, template_problem))
            line = line_of(root, (key, i))
            origin = _origin(source, root, (key, i))
            rule = Rule(
                model.name,
                family.invoke_type,
                origin,
                fixture_key=key,
                source=source,
                match=model.match,
                replies=replies,
                latency=getattr(model, "latency", None),
                fault=getattr(model, "fault", None),
                path=f"{key}[{i}]",
                state_origin=_origin(source, root, (key, i, "state")),
                scenario=model.scenario,
                state=model.state or STARTED,
                next_state=model.next_state,
                times=model.times,
                fail_times=model.fail_times,
                fail_error=model.fail_error,
                templates=templates if any(templates) else [],
            )
            rules.append((line or 0, rule))
    if problems:
        raise FixtureError(_report(source, problems))
    return [rule for _, rule in sorted(rules, key=lambda pair: pair[0])]


def _resolve_files(
    reply: Reply, base_dir: Path, folders: Sequence[Path], where: Loc, data: Any, root: yaml.Node | None
) -> tuple[Reply, list[tuple[int | None, str]]]:
    """Paths in a reply made absolute; each must name a file inside one of `folders` (symbolic links followed)."""
    updates: dict[str, Path] = {}
    problems = []
    for name, value in reply:
        if isinstance(value, Path):
            path = (base_dir / value).resolve()
            if not any(path.is_relative_to(folder.resolve()) for folder in folders):
                unique = list(dict.fromkeys(folders))
                inside, them = " or ".join(map(str, unique)), "it" if len(unique) == 1 else "them"
                message = f"{value} ({path}) is outside {inside}: a rule may only name files inside {them}"
                problems.append(_explain((*where, name), {"type": "file_outside", "msg": message}, data, root))
            elif path.is_file():
                updates[name] = path
            else:
                error = {"type": "file_missing", "msg": f"no such file: {path}"}
                problems.append(_explain((*where, name), error, data, root))
    return (reply.model_copy(update=updates) if updates else reply), problems


def _report(source: str, problems: list[tuple[int | None, str]]) -> str:
    problems.sort(key=lambda p: p[0] or 0)
    lines = [f"{source}{'' if line is None else f':{line}'}: {text}" for line, text in problems]
    if len(lines) > MAX_REPORTED_ERRORS:
        lines[MAX_REPORTED_ERRORS:] = [f"... and {len(lines) - MAX_REPORTED_ERRORS} more problems"]
    return "\n".join(lines)


def _explain(
    loc: Iterable[str | int], error: Mapping[str, Any], data: Any, root: yaml.Node | None
) -> tuple[int | None, str]:
    """(line, "path: message") for one validation error."""
    path = _present(data, loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent, unknown = path[:-1], path[-1]
        message = f"unknown key '{unknown}'" + _suggest(str(unknown), _allowed_keys(parent))
    elif kind == "missing":
        parent, message = path, f"missing key '{list(loc)[-1]}'"
    elif kind == "union_tag_invalid":
        context = error.get("ctx") or {}
        key = str(context.get("discriminator", "type")).strip("'\"")
        tags = [tag.strip() for tag in str(context.get("expected_tags", "")).replace("'", "").split(",") if tag.strip()]
        parent = (*path, key) if _present(data, (*path, key)) == (*path, key) else path
        message = f"unknown {key} {short(context.get('tag'))}" + _suggest(str(context.get("tag")), tags)
    elif kind == "union_tag_not_found":
        key = str((error.get("ctx") or {}).get("discriminator", "type")).strip("'\"")
        parent, message = path, f"missing key '{key}' (it says which kind of entry this is)"
    elif kind == "value_error":
        parent, message = path, str(error["msg"]).removeprefix("Value error, ")
    elif kind in {"model_type", "dict_type", "model_attributes_type"}:
        parent, message = path, f"expected a mapping (key: value), got {short(error.get('input'))}"
    elif "input" in error:
        parent, message = path, f"{error['msg']}, got {short(error['input'])}"
        if isinstance(error["input"], datetime.date):
            message += " (YAML reads an unquoted date as a date: put it in quotes)"
    else:
        parent, message = path, str(error["msg"])
    return line_of(root, path), f"{_dotted(parent)}: {message}"


def _present(data: Any, loc: Iterable[str | int]) -> Loc:
    """The part of a pydantic error location that exists in the data (union tags are left out)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        found = (isinstance(current, Mapping) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        )
        if found:
            current = current[part]
            path.append(part)
    return tuple(path)


def _is_key(node: yaml.Node, part: str | int) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == str(part)


def _dotted(path: Loc) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _suggest(word: str, allowed: list[str]) -> str:
    if not allowed:
        return ""
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (expected one of: {', '.join(allowed)})"


def _allowed_keys(path: Loc) -> list[str]:
    """The keys the fixture models accept at path, found by walking their field annotations."""
    candidates: list[Any] = [FIXTURE_MODEL]
    for part in path:
        following: list[Any] = []
        for tp in _flatten(candidates):
            if isinstance(part, int):
                if get_origin(tp) is list:
                    following.extend(get_args(tp)[:1])
            elif _is_model(tp) and part in _yaml_keys(tp):
                following.append(_yaml_keys(tp)[part])
        candidates = following
    names: dict[str, None] = {}
    for tp in _flatten(candidates):
        if _is_model(tp):
            names.update(dict.fromkeys(_yaml_keys(tp)))
    return list(names)


def _yaml_keys(model: type[BaseModel]) -> dict[str, Any]:
    """The keys a model accepts in YAML (a field's alias when it has one) and their annotations."""
    return {info.alias or name: info.annotation for name, info in model.model_fields.items()}


def _flatten(candidates: list[Any]) -> list[Any]:
    out: list[Any] = []
    for tp in candidates:
        origin = get_origin(tp)
        if origin is Annotated:
            out.extend(_flatten([get_args(tp)[0]]))
        elif origin is Union or origin is types.UnionType:
            out.extend(_flatten(list(get_args(tp))))
        else:
            out.append(tp)
    return out


def _is_model(tp: Any) -> bool:
    return get_origin(tp) is None and isinstance(tp, type) and issubclass(tp, BaseModel)
