"""The YAML config file (`dify-mock serve --config FILE`): live backends, answer chains, cassettes, faults.

backends:
  local:
    type: openai
    base_url: http://127.0.0.1:11434/v1
    api_key_env: LOCAL_LLM_KEY        # the NAME of a variable; a key is never written in a file
    models: {gpt-4o-mini: llama3.2}
chain:
  llm: [fixtures, replay, local, builtin]
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dify_mock.config.faults import MODEL_INVOKE_TYPES, Fault, Latency
from dify_mock.config.specs import ServerlessPlugin, SpecError, parse_serverless
from dify_mock.config.yaml_lines import line_of

FIXTURES, REPLAY, BUILTIN = "fixtures", "replay", "builtin"
# The run's cassette: DIR/cassette.yaml. Before, it was DIR/dify-mock.yaml, the config file's usual name too; such a
# cassette is still replayed (with a warning saying to rename it).
DEFAULT_CASSETTE = "cassette"
OLD_DEFAULT_CASSETTE = "dify-mock"
RESERVED_LINKS = (FIXTURES, REPLAY, BUILTIN)
DEFAULT_CHAIN: tuple[str, ...] = (FIXTURES, REPLAY, BUILTIN)
ALL_TYPES = "all"
# Fixture keys name a type the way fixture files do; `summary` is the invoke type system_summary.
TYPE_ALIASES = {"summary": "system_summary"}
# What an OpenAI-compatible API can answer; multimodal embedding and rerank, and Dify's summary, it cannot.
OPENAI_TYPES = ("llm", "llm_structured_output", "text_embedding", "rerank", "tts", "speech2text", "moderation")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BACKEND_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ConfigFileError(ValueError):
    """The config file cannot be used; the text names the file, the line and the key."""


def model_type(name: str) -> str:
    """The invoke type a config key names (`summary` is accepted for system_summary)."""
    return TYPE_ALIASES.get(name, name)


class HookConfig(BaseModel):
    """One hook of the config file's `endpoints:` list; its URL is the same at every start."""

    model_config = ConfigDict(extra="forbid")

    plugin_id: str = Field(pattern=r"^[A-Za-z0-9_-]+/[a-z0-9_-]+$", description="author/name of the plugin.")
    name: str = Field(default="default", min_length=1, description="The hook's name, as in Dify's endpoint list.")
    tenant: str = Field(default="default", min_length=1, description="The tenant the hook belongs to.")
    hook_id: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,126}$",
        description="The id in /e/{hook_id}/...; by default one derived from tenant, plugin and name.",
    )
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict, description="The endpoint settings the plugin receives.")


class BackendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["openai"] = Field(description="openai: any server that speaks the OpenAI API.")
    base_url: str = Field(description="The API root, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1.")
    api_key_env: str | None = Field(
        default=None, description="The name of the environment variable holding the API key (never the key)."
    )
    models: dict[str, str] = Field(default_factory=dict, description="Model names: the plugin's -> the backend's.")
    providers: list[str] | None = Field(
        default=None,
        description="Serve only calls for these providers (the full name or its last part, e.g. openai); "
        "others fall through to the next link.",
    )
    only_models: list[str] | None = Field(
        default=None,
        description="Serve only calls for these models (the plugin's names; * is a wildcard, e.g. gpt-4o*); "
        "others fall through to the next link.",
    )
    model_types: list[str] | None = Field(
        default=None, description="Serve only these model types; others fall through. Default: all it can."
    )
    timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for the backend before failing.")
    stream_usage: bool = Field(
        default=True, description="Ask for token usage in streams (stream_options.include_usage)."
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"base_url must be an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not ENV_NAME.match(value):
            # The value is not shown: a key pasted here by mistake must not reach a terminal or a log.
            raise ValueError(
                "api_key_env must be the NAME of an environment variable (like OPENAI_API_KEY), not a key; "
                "the value given is not a variable name (not shown, in case it is a key)"
            )
        return value

    @field_validator("model_types")
    @classmethod
    def _served_types(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        types = [model_type(name) for name in value]
        for name in types:
            if name not in OPENAI_TYPES:
                raise ValueError(f"an openai backend cannot serve {name!r}; it serves {', '.join(OPENAI_TYPES)}")
        return types

    def serves_types(self) -> tuple[str, ...]:
        return tuple(self.model_types) if self.model_types is not None else OPENAI_TYPES


class CassetteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per: Literal["run", "test"] = Field(
        default="run",
        description="run: one cassette file per run, named `name`; test: one per test, named by the test "
        "(PUT /mock/cassette, or MockServer.use_cassette).",
    )
    name: str = Field(default=DEFAULT_CASSETTE, description="The cassette's file name (without .yaml) for per: run.")
    timing: Literal["instant", "recorded"] = Field(
        default="instant", description="instant: replay at once; recorded: with the recorded gaps between chunks."
    )
    ignore: list[str] = Field(
        default_factory=list,
        description="Request fields replay does not compare, as dotted paths; * matches any key or index "
        "(e.g. completion_params.temperature, prompt_messages.*.name).",
    )
    strict: bool = Field(
        default=True,
        description="A call a live backend would answer but no entry matches fails with a diff; "
        "false lets it go on to the backend.",
    )


def _serverless_entry(entry: str) -> str:
    try:
        parse_serverless(entry)
    except SpecError as error:
        raise ValueError(str(error).removeprefix("--serverless ")) from None
    return entry


class AnswerConfig(BaseModel):
    """Everything in the config file; an empty file means the default chain for every type."""

    model_config = ConfigDict(extra="forbid", title="dify-mock config file")

    backends: dict[str, BackendConfig] = Field(default_factory=dict)
    chain: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per model type, the links that may answer, in order: fixtures, replay, a backend's name, "
        "builtin. Types left out use [fixtures, replay, builtin]; llm_structured_output follows llm.",
    )
    cassettes: CassetteConfig = Field(default_factory=CassetteConfig)
    latency: dict[str, Latency] = Field(
        default_factory=dict, description="Per model type (or `all`): how slowly every answer arrives."
    )
    faults: dict[str, Fault] = Field(
        default_factory=dict, description="Per model type (or `all`): how every answer fails."
    )
    endpoints: list[HookConfig] = Field(
        default_factory=list,
        description="Endpoint hooks made at every start, with stable URLs: plugin_id, name, settings, hook_id.",
    )
    serverless: list[Annotated[str, AfterValidator(_serverless_entry)]] = Field(
        default_factory=list,
        description="Serverless plugins, as --serverless takes them: AUTHOR/NAME=URL, or AUTHOR/NAME=URL@FOLDER "
        "to read the plugin's declarations from its folder (relative to this file).",
    )

    def serverless_plugins(self, relative_to: Path) -> tuple[ServerlessPlugin, ...]:
        plugins = []
        for entry in self.serverless:
            plugin = parse_serverless(entry)
            if plugin.folder is not None and not plugin.folder.is_absolute():
                plugin = dataclasses.replace(plugin, folder=relative_to / plugin.folder)
            plugins.append(plugin)
        return tuple(plugins)

    @field_validator("backends")
    @classmethod
    def _backend_names(cls, value: dict[str, BackendConfig]) -> dict[str, BackendConfig]:
        for name in value:
            if name in RESERVED_LINKS:
                raise ValueError(f"a backend cannot be called {name!r}: that name is a link of every chain")
            if not BACKEND_NAME.match(name):
                raise ValueError(f"backend name {name!r} must be letters, digits, '.', '_' or '-'")
        return value

    @field_validator("chain", "latency", "faults", mode="before")
    @classmethod
    def _type_keys(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        allowed = (*MODEL_INVOKE_TYPES, *TYPE_ALIASES, ALL_TYPES)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key not in allowed:
                raise ValueError(f"unknown model type {key!r}{_suggest(str(key), list(allowed))}")
            out[model_type(str(key))] = item
        return out

    @model_validator(mode="after")
    def _links(self) -> Self:
        if ALL_TYPES in self.chain:
            raise ValueError("chain: give each model type its own chain (`all` is for latency and faults)")
        for invoke_type, links in self.chain.items():
            known = [*RESERVED_LINKS, *self.backends]
            seen: set[str] = set()
            for link in links:
                if link not in known:
                    raise ValueError(
                        f"chain.{invoke_type}: unknown link {link!r}{_suggest(link, known)}; "
                        f"a link is fixtures, replay, builtin or a backend named under `backends`"
                    )
                if link in seen:
                    raise ValueError(f"chain.{invoke_type}: {link!r} is listed twice")
                seen.add(link)
                backend = self.backends.get(link)
                if backend is not None and invoke_type not in backend.serves_types():
                    raise ValueError(
                        f"chain.{invoke_type}: backend {link!r} cannot serve {invoke_type} "
                        f"(it serves {', '.join(backend.serves_types())})"
                    )
        return self

    def chain_for(self, invoke_type: str) -> tuple[str, ...]:
        if invoke_type in self.chain:
            return tuple(self.chain[invoke_type])
        if invoke_type == "llm_structured_output" and "llm" in self.chain:
            return tuple(link for link in self.chain["llm"] if _serves(self, link, invoke_type))
        return DEFAULT_CHAIN

    def latency_for(self, invoke_type: str) -> Latency | None:
        return self.latency.get(invoke_type) or self.latency.get(ALL_TYPES)

    def fault_for(self, invoke_type: str) -> Fault | None:
        return self.faults.get(invoke_type) or self.faults.get(ALL_TYPES)


def _serves(config: AnswerConfig, link: str, invoke_type: str) -> bool:
    backend = config.backends.get(link)
    return backend is None or invoke_type in backend.serves_types()


@dataclasses.dataclass(frozen=True)
class ConfigFile:
    answers: AnswerConfig
    settings: dict[str, Any]  # top-level keys that name a setting (`port: 5010`), as written; Settings checks them
    lines: dict[str, int]  # the line of each of those keys


def load_config_file(path: Path) -> AnswerConfig:
    """The config file's answers (backends, chains, cassettes, faults), checked."""
    return read_config_file(path, frozenset()).answers


def read_config_file(path: Path, setting_names: frozenset[str]) -> ConfigFile:
    """The config file, checked; ConfigFileError names the file, line and key of every problem. Top-level keys in
    `setting_names` are settings (as on the command line), returned unchecked for Settings to check."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigFileError(f"{path}: cannot read the config file: {error}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigFileError(f"{path}{line}: YAML syntax error: {error.problem}") from None
    except yaml.YAMLError as error:
        raise ConfigFileError(f"{path}: YAML error: {error}") from None
    if data is None:
        return ConfigFile(AnswerConfig(), {}, {})
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: the config file must be a mapping (backends:, chain:, ...)")
    settings = {str(key): data.pop(key) for key in list(data) if key in setting_names}
    lines = {key: line_of(root, [key]) or 1 for key in settings}
    try:
        answers = AnswerConfig.model_validate(data)
    except ValidationError as error:
        problems = error.errors()
        raise ConfigFileError(
            "\n".join(_explain(path, root, problem, sorted(setting_names)) for problem in problems)
        ) from None
    return ConfigFile(answers, settings, lines)


def _explain(path: Path, root: yaml.Node | None, problem: Any, setting_names: list[str]) -> str:
    loc = [part for part in problem["loc"] if isinstance(part, int | str)]
    kind = problem["type"]
    named = re.match(r"(?:Value error, )?chain\.(\w+):", str(problem["msg"]))
    if not loc and named:  # a whole-file check that names the chain it is about
        loc = ["chain", named.group(1)]
        return f"{path}{_line(root, loc)}: {str(problem['msg']).removeprefix('Value error, ')}"
    where = ".".join(str(part) for part in loc) or "(top level)"
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        where = ".".join(str(part) for part in loc[:-1]) or "(top level)"
        message = f"unknown key {key!r}"
        if key in ("api_key", "key", "token"):
            message += ": never write a key in a file; give the name of the variable that holds it as api_key_env"
        else:
            message += _suggest(key, _allowed(loc[:-1]) + (setting_names if len(loc) == 1 else []))
    elif kind == "missing":
        message = "this key is required"
    else:
        message = str(problem["msg"]).removeprefix("Value error, ")
        if "input" in problem and kind not in ("value_error", "assertion_error"):
            message += f", got {_short(problem['input'])}"
    return f"{path}{_line(root, loc)}: {where}: {message}"


def _allowed(loc: list[int | str]) -> list[str]:
    model: type[BaseModel] | None = AnswerConfig
    for part in loc:
        if model is None:
            return []
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        model = _inner_model(annotation)
    return list(model.model_fields) if model is not None else []


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _line(root: yaml.Node | None, loc: list[int | str]) -> str:
    line = line_of(root, loc)
    return f":{line}" if line is not None else ""


def _suggest(word: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(allowed)})" if allowed else ""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
