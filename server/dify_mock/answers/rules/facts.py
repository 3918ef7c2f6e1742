"""What a rule's match keys look at in a request, per fixture key (`FAMILIES`).

Adding a family of reverse calls means adding one entry to `FAMILIES` (and its reply model).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dify_mock.answers.prompts import message_text
from dify_mock.answers.replies import REPLY_MODELS, Reply

Request = Mapping[str, Any]
FactKind = Literal["text", "names", "flag", "params", "messages", "count"]
ROLES = ("system", "user", "assistant", "tool", "developer")  # the SDK's PromptMessageRole
# Where a ReAct-style agent puts a tool's answer: after "Observation:" in an assistant message, up to its next step.
OBSERVATION = re.compile(
    r"Observation:[ \t]*(.*?)(?=\n[ \t]*(?:Thought|Action|Observation|Final ?Answer):|\Z)", re.DOTALL
)


@dataclass(frozen=True)
class Fact:
    """One match field: how to read it from the request, and what kind of condition it takes.

    kind "text": the fact is a string or a list of strings; the condition is an exact string,
    `{contains: ...}` or `{regex: ...}`; on a list, any element may match.
    kind "names": the fact is a list of names; the condition is a list that must all be present,
    or `{contains}`/`{regex}` matching any name.
    kind "flag": the fact is a bool; the condition is true or false.
    kind "messages": the fact is the prompt's (role, text) pairs; the condition is a text condition on any message,
    or `{role: ...}` with or without `equals`/`contains`/`regex`, on any message of that role.
    kind "count": the fact is a number; the condition is that number.
    kind "params": the fact is a mapping; the condition maps names to an exact value (compared by JSON
    equality: 1 matches 1.0, but true never matches 1; null matches a missing value) or to
    `{contains}`/`{regex}` (a string value, or any string in a list value); every listed name must match.
    """

    read: Callable[[Request], Any]
    description: str
    kind: FactKind = "text"


def _field(name: str) -> Callable[[Request], Any]:
    def read(request: Request) -> Any:
        return request.get(name)

    return read


def _strings(name: str) -> Callable[[Request], list[str]]:
    def read(request: Request) -> list[str]:
        values = request.get(name)
        return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []

    return read


def _messages(request: Request) -> list[Mapping[str, Any]]:
    messages = request.get("prompt_messages")
    return [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list) else []


def _last_user_text(request: Request) -> str | None:
    users = [m for m in _messages(request) if m.get("role") == "user"]
    return message_text(users[-1]) if users else None


def _system_text(request: Request) -> str | None:
    systems = [m for m in _messages(request) if m.get("role") == "system"]
    return message_text(systems[0]) if systems else None


def _transcript(request: Request) -> list[tuple[str, str]]:
    return [(str(m.get("role") or ""), message_text(m)) for m in _messages(request)]


def _tool_results(request: Request) -> list[str]:
    """What tools answered: each tool message, and each observation an agent wrote into an assistant message."""
    results: list[str] = []
    for message in _messages(request):
        if message.get("role") == "tool":
            results.append(message_text(message))
        elif message.get("role") == "assistant":
            results.extend(found.strip() for found in OBSERVATION.findall(message_text(message)))
    return results


def _turn(request: Request) -> int:
    return sum(1 for m in _messages(request) if m.get("role") == "assistant")


def _tool_names(request: Request) -> list[str]:
    tools = request.get("tools")
    if not isinstance(tools, list):
        return []
    return [t["name"] for t in tools if isinstance(t, Mapping) and isinstance(t.get("name"), str)]


def _tool_parameters(request: Request) -> Mapping[str, Any]:
    parameters = request.get("tool_parameters")
    return parameters if isinstance(parameters, Mapping) else {}


def _mapping(name: str) -> Callable[[Request], Mapping[str, Any]]:
    def read(request: Request) -> Mapping[str, Any]:
        value = request.get(name)
        return value if isinstance(value, Mapping) else {}

    return read


def _node_model(key: str) -> Callable[[Request], Any]:
    """A field of a workflow node's `model` config: provider or name."""

    def read(request: Request) -> Any:
        model = request.get("model")
        return model.get(key) if isinstance(model, Mapping) else None

    return read


def _declared_names(name: str) -> Callable[[Request], list[str]]:
    """The `name` of each entry of a list of declarations (a node's parameters or classes)."""

    def read(request: Request) -> list[str]:
        entries = request.get(name)
        if not isinstance(entries, list):
            return []
        return [e["name"] for e in entries if isinstance(e, Mapping) and isinstance(e.get("name"), str)]

    return read


def _text_documents(request: Request) -> list[str]:
    documents = request.get("documents")
    if not isinstance(documents, list):
        return []
    return [
        d["content"]
        for d in documents
        if isinstance(d, Mapping) and d.get("content_type") == "text" and isinstance(d.get("content"), str)
    ]


def _query_content(request: Request) -> Any:
    query = request.get("query")
    return query.get("content") if isinstance(query, Mapping) else query


_AUDIO_MAGIC: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (lambda h: h.startswith(b"ID3") or (len(h) >= 2 and h[0] == 0xFF and h[1] & 0xE0 == 0xE0), "mp3"),
    (lambda h: h.startswith(b"RIFF") and h[8:12] == b"WAVE", "wav"),
    (lambda h: h.startswith(b"OggS"), "ogg"),
    (lambda h: h.startswith(b"fLaC"), "flac"),
    (lambda h: h[4:8] == b"ftyp", "m4a"),
    (lambda h: h.startswith(b"\x1a\x45\xdf\xa3"), "webm"),
)


def audio_format(hex_audio: Any) -> str | None:
    """The container of hex-encoded audio, from its magic bytes: mp3, wav, ogg, flac, m4a, webm or unknown."""
    if not isinstance(hex_audio, str):
        return None
    try:
        head = bytes.fromhex(hex_audio[:24])
    except ValueError:
        return "unknown"
    return next((name for test, name in _AUDIO_MAGIC if test(head)), "unknown")


def _audio_file_format(request: Request) -> str | None:
    return audio_format(request.get("file"))


@dataclass(frozen=True)
class Family:
    """One fixture key: the reverse invocation type it answers and the match fields it offers."""

    invoke_type: str
    facts: Mapping[str, Fact]
    description: str
    common_facts: bool = True
    reply_model: type[Reply] | None = None

    def all_facts(self) -> dict[str, Fact]:
        return {**(_COMMON_FACTS if self.common_facts else {}), **self.facts}

    def replies(self) -> type[Reply]:
        return self.reply_model or REPLY_MODELS[self.invoke_type]


_COMMON_FACTS: dict[str, Fact] = {
    "provider": Fact(_field("provider"), "The provider as sent, e.g. langgenius/openai/openai."),
    "model": Fact(_field("model"), "The model name, e.g. gpt-4o-mini."),
}

_LLM_FACTS: dict[str, Fact] = {
    "prompt": Fact(_last_user_text, "The text of the last user message (text parts joined by newlines)."),
    "system": Fact(_system_text, "The text of the first system message."),
    "tools": Fact(_tool_names, "Tool names that must all be offered in the request's `tools`.", "names"),
    "stream": Fact(_field("stream"), "Whether the plugin asked for a streamed answer.", "flag"),
    "parameters": Fact(
        _mapping("completion_params"),
        "Conditions on the model parameters (completion_params: temperature, max_tokens...), by name: an exact "
        "value (null matches a missing parameter), or {contains}/{regex} on a string.",
        "params",
    ),
    "messages": Fact(
        _transcript,
        "Any prompt message: its text exactly, {contains} or {regex}; add `role` (system, user, assistant, tool, "
        "developer) to look only at messages of that role, with `equals` for an exact text.",
        "messages",
    ),
    "tool_results": Fact(
        _tool_results,
        "Any tool result in the prompt: a tool message, or the text after `Observation:` in an assistant message "
        "(ReAct agents).",
    ),
    "turn": Fact(
        _turn,
        "How many assistant messages the prompt already holds: 0 on an agent's first call, 1 after its first "
        "answer. A ReAct agent folds all its steps into one assistant message, so use `tool_results` or a "
        "scenario to tell its later steps apart.",
        "count",
    ),
}

_TOOL_FACTS: dict[str, Fact] = {
    "provider": Fact(_field("provider"), "The tool's provider as sent, e.g. time or langgenius/time/time."),
    "tool": Fact(_field("tool"), "The tool's name, e.g. current_time."),
    "tool_type": Fact(_field("tool_type"), "builtin, workflow, api or mcp."),
    "parameters": Fact(
        _tool_parameters,
        "Conditions on tool_parameters, by name: an exact value (any JSON; null matches a missing parameter), "
        "or {contains}/{regex} on a string. Every listed parameter must match; others are not checked.",
        "params",
    ),
}

_APP_FACTS: dict[str, Fact] = {
    "app_id": Fact(_field("app_id"), "The app's id as the plugin sends it."),
    "query": Fact(_field("query"), "The user's query (chat apps; completion and workflow calls send none)."),
    "inputs": Fact(
        _mapping("inputs"),
        "Conditions on the app's inputs, by name: an exact value (null matches a missing input), "
        "or {contains}/{regex} on a string. Every listed input must match; others are not checked.",
        "params",
    ),
    "response_mode": Fact(_field("response_mode"), "streaming or blocking."),
    "conversation_id": Fact(_field("conversation_id"), "The conversation the chat call continues."),
}

_NODE_FACTS: dict[str, Fact] = {
    "provider": Fact(_node_model("provider"), "The provider in the node's model config, e.g. openai."),
    "model": Fact(_node_model("name"), "The model name in the node's model config, e.g. gpt-4o-mini."),
    "query": Fact(_field("query"), "The text the node works on."),
    "instruction": Fact(_field("instruction"), "The node's instruction."),
}

FAMILIES: dict[str, Family] = {
    "llm": Family("llm", _LLM_FACTS, "Answers to session.model.llm.invoke()."),
    "llm_structured_output": Family(
        "llm_structured_output",
        _LLM_FACTS,
        "Answers to LLM calls with a structured output schema; give `structured_output` in the reply.",
    ),
    "text_embedding": Family(
        "text_embedding",
        {
            "text": Fact(_strings("texts"), "Any of the texts to embed."),
            "input_type": Fact(_field("input_type"), "document or query."),
        },
        "Answers to session.model.text_embedding.invoke().",
    ),
    "multimodal_embedding": Family(
        "multimodal_embedding",
        {"text": Fact(_text_documents, "Any of the documents whose content_type is text.")},
        "Answers to multimodal embedding calls.",
    ),
    "rerank": Family(
        "rerank",
        {
            "query": Fact(_field("query"), "The query."),
            "doc": Fact(_strings("docs"), "Any of the documents to rerank."),
        },
        "Answers to session.model.rerank.invoke().",
    ),
    "multimodal_rerank": Family(
        "multimodal_rerank",
        {"query": Fact(_query_content, "The query's content.")},
        "Answers to multimodal rerank calls.",
    ),
    "tts": Family(
        "tts",
        {
            "text": Fact(_field("content_text"), "The text to speak."),
            "voice": Fact(_field("voice"), "The voice asked for."),
        },
        "Answers to session.model.tts.invoke(); `audio_file` is relative to the fixture file.",
    ),
    "speech2text": Family(
        "speech2text",
        {"format": Fact(_audio_file_format, "The audio container: mp3, wav, ogg, flac, m4a, webm, unknown.")},
        "Answers to session.model.speech2text.invoke().",
    ),
    "moderation": Family(
        "moderation",
        {"text": Fact(_field("text"), "The text to moderate.")},
        "Answers to session.model.moderation.invoke().",
    ),
    "summary": Family(
        "system_summary",
        {
            "text": Fact(_field("text"), "The text to summarize."),
            "instruction": Fact(_field("instruction"), "The summary instruction."),
        },
        "Answers to session.model.summary.invoke() (invoke type system_summary).",
    ),
    "tool": Family(
        "tool",
        _TOOL_FACTS,
        "Answers to session.tool.invoke(): the messages the called tool yields.",
        common_facts=False,
    ),
    "app": Family(
        "app",
        _APP_FACTS,
        "Answers to session.app.chat/completion/workflow.invoke(): the app's answer, outputs or exact events.",
        common_facts=False,
    ),
    "fetch_app": Family(
        "fetch_app",
        {"app_id": Fact(_field("app_id"), "The app's id as the plugin sends it.")},
        "Answers to session.app.fetch_app(): the app's parameters (`info`).",
        common_facts=False,
    ),
    "node_parameter_extractor": Family(
        "node_parameter_extractor",
        {
            **_NODE_FACTS,
            "parameters": Fact(
                _declared_names("parameters"), "Parameter names that must all be declared in the call.", "names"
            ),
        },
        "Answers to session.workflow_node.parameter_extractor.invoke(): the extracted `outputs`.",
        common_facts=False,
    ),
    "node_question_classifier": Family(
        "node_question_classifier",
        {
            **_NODE_FACTS,
            "classes": Fact(_declared_names("classes"), "Class names that must all be declared in the call.", "names"),
        },
        "Answers to session.workflow_node.question_classifier.invoke(): the chosen class.",
        common_facts=False,
    ),
}

FIXTURE_KEYS: dict[str, str] = {key: family.invoke_type for key, family in FAMILIES.items()}
