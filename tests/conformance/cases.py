"""The dispatch requests sent to both setups: every entry point of every plugin of tests/plugins, then bad input.

A case is one HTTP request. `data` is the body's `data`; `body` replaces the whole body (bytes sent as they are);
`headers` adds or, with None, removes a header of the usual four.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

AUTHOR = "dify-mock-tests"


@dataclass(frozen=True)
class Case:
    id: str
    plugin: str
    route: str
    data: dict[str, Any] = field(default_factory=dict)
    body: bytes | dict[str, Any] | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    path: str | None = None  # a whole path instead of /plugin/{tenant}/dispatch/ROUTE

    def request(self, server_key: str) -> tuple[str, bytes, dict[str, str]]:
        headers: dict[str, str | None] = {
            "X-Api-Key": server_key,
            "X-Plugin-ID": f"{AUTHOR}/{self.plugin}",
            "Content-Type": "application/json",
            **self.headers,
        }
        if isinstance(self.body, bytes):
            body = self.body
        else:
            body = json.dumps(self.body if self.body is not None else {"user_id": "conformance", "data": self.data})
            body = body.encode()
        path = self.path or f"/plugin/{{tenant}}/dispatch/{self.route}"
        return path, body, {name: value for name, value in headers.items() if value is not None}


def tool(plugin: str, provider: str, name: str, parameters: dict[str, Any], case_id: str = "") -> Case:
    data = {"provider": provider, "tool": name, "credentials": {}, "tool_parameters": parameters}
    return Case(case_id or f"{plugin}.{name}", plugin, "tool/invoke", data)


def model(route: str, model_type: str, name: str, case_id: str, **fields: Any) -> Case:
    data = {"provider": "fake", "model_type": model_type, "model": name, "credentials": {"api_key": "k"}, **fields}
    return Case(f"model_provider.{case_id}", "model_provider", route, data)


def reverse(case_id: str, invoke_type: str, request: dict[str, Any]) -> Case:
    """The probe sends a reverse call as it is and reports what came back: the plugin's view of the host's verdict."""
    parameters = {"invoke_type": invoke_type, "request": json.dumps(request)}
    return tool("conformance_probe", "conformance_probe", "reverse", parameters, f"reverse.{case_id}")


def chunk(case_id: str, message: dict[str, Any]) -> Case:
    parameters = {"message": json.dumps(message)}
    return tool("conformance_probe", "conformance_probe", "chunk", parameters, f"chunk.{case_id}")


LLM_MODEL = {"provider": "openai", "model": "gpt-4o-mini", "mode": "chat", "completion_params": {}}
PROMPT = [{"role": "user", "content": "hello big world"}]
AGENT_MODEL = {
    "provider": "openai",
    "model": "gpt-4o-mini",
    "mode": "chat",
    "completion_params": {},
    "history_prompt_messages": [],
    "type": "model-selector",
    "model_type": "llm",
}

ENTRY_POINTS: list[Case] = [
    # model_caller: every reverse model call, as a tool
    tool("model_caller", "model_caller", "llm", {"prompt": "hi"}),
    tool("model_caller", "model_caller", "llm", {"prompt": "hi", "stream": False}, "model_caller.llm_blocking"),
    tool("model_caller", "model_caller", "llm", {"prompt": "weather?", "with_tools": True}, "model_caller.llm_tools"),
    tool(
        "model_caller",
        "model_caller",
        "llm",
        {"prompt": "an outage", "provider": "anthropic", "stream": False},
        "model_caller.llm_rule_error",
    ),
    tool("model_caller", "model_caller", "structured", {"prompt": "Extract the person", "schema": '{"type":"object"}'}),
    tool("model_caller", "model_caller", "embed", {"texts": "a b\nc"}),
    tool("model_caller", "model_caller", "multimodal_embed", {"text": "hi", "image_base64": "aGk="}),
    tool("model_caller", "model_caller", "rerank", {"query": "big world", "docs": "a world\nbig world\nx"}),
    tool("model_caller", "model_caller", "multimodal_rerank", {"query": "big", "docs": "small\nbig one"}),
    tool("model_caller", "model_caller", "tts", {"text": "hi there", "voice": "nova"}),
    tool("model_caller", "model_caller", "speech2text", {"audio_hex": b"RIFF\0\0\0\0WAVEdata".hex()}),
    tool("model_caller", "model_caller", "moderation", {"text": "a forbidden word"}),
    tool("model_caller", "model_caller", "summary", {"text": "a long text " * 20, "instruction": "short"}),
    tool("model_caller", "model_caller", "fail", {}),
    Case(
        "model_caller.validate_credentials",
        "model_caller",
        "tool/validate_credentials",
        {"provider": "model_caller", "credentials": {"api_key": "bad"}},
    ),
    Case(
        "model_caller.get_runtime_parameters",
        "model_caller",
        "tool/get_runtime_parameters",
        {"provider": "model_caller", "tool": "llm", "credentials": {}},
    ),
    # platform_caller: apps, nodes, storage, uploads
    tool("platform_caller", "platform_caller", "app", {"kind": "chat", "app_id": "support-bot", "query": "refund"}),
    tool(
        "platform_caller",
        "platform_caller",
        "app",
        {"kind": "workflow", "app_id": "report-workflow", "inputs": '{"topic": "sales"}', "response_mode": "blocking"},
        "platform_caller.app_workflow",
    ),
    tool("platform_caller", "platform_caller", "fetch_app", {"app_id": "support-bot"}),
    tool(
        "platform_caller",
        "platform_caller",
        "classify",
        {"query": "my invoice", "classes": '[{"id": "1", "name": "billing"}, {"id": "2", "name": "other"}]'},
    ),
    tool(
        "platform_caller",
        "platform_caller",
        "extract",
        {"query": "Ann is 7", "parameters": '[{"name": "age", "type": "number", "description": "age"}]'},
    ),
    tool("platform_caller", "platform_caller", "storage", {"op": "set", "key": "k", "value": "v"}),
    tool("platform_caller", "platform_caller", "storage", {"op": "get", "key": "k"}, "platform_caller.storage_get"),
    tool("platform_caller", "platform_caller", "upload", {"filename": "a.txt", "text": "hello"}),
    # web_search: a tool that reaches the network (refused here) and one that calls the llm
    tool("web_search", "web_search", "summarize", {"text": "some text", "model": "gpt-4o-mini"}),
    # simple_agent: an agent strategy
    Case(
        "simple_agent.echo",
        "simple_agent",
        "agent_strategy/invoke",
        {
            "agent_strategy_provider": "simple_agent",
            "agent_strategy": "echo",
            "agent_strategy_params": {"model": AGENT_MODEL, "query": "hello"},
        },
    ),
    # model_provider: every model route
    model("llm/invoke", "llm", "fake-llm", "llm", prompt_messages=PROMPT, model_parameters={}, stop=None, tools=None),
    model("llm/num_tokens", "llm", "fake-llm", "num_tokens", prompt_messages=PROMPT, tools=None),
    model("text_embedding/invoke", "text-embedding", "fake-embed", "embed", texts=["a b", "c"], input_type="query"),
    model("text_embedding/num_tokens", "text-embedding", "fake-embed", "embed_tokens", texts=["a b", "c"]),
    model(
        "multimodal_embedding/invoke",
        "text-embedding",
        "fake-embed",
        "multimodal_embed",
        documents=[{"content": "hi", "content_type": "text"}],
        input_type="document",
    ),
    model(
        "rerank/invoke",
        "rerank",
        "fake-rerank",
        "rerank",
        query="big world",
        docs=["a world", "big world"],
        score_threshold=0.4,
        top_n=None,
    ),
    model("tts/invoke", "tts", "fake-tts", "tts", content_text="hi there", voice="nova", tenant_id="t"),
    model("tts/model/voices", "tts", "fake-tts", "voices", language="fr-FR"),
    model("speech2text/invoke", "speech2text", "fake-s2t", "speech2text", file=b"RIFFdata".hex()),
    model("moderation/invoke", "moderation", "fake-mod", "moderation", text="fine"),
    model("model/validate_model_credentials", "llm", "fake-llm", "validate_model_credentials"),
    model("model/schema", "llm", "fake-llm", "schema"),
    Case(
        "model_provider.validate_provider_credentials",
        "model_provider",
        "model/validate_provider_credentials",
        {"provider": "fake", "credentials": {"api_key": "bad"}},
    ),
    # datasource_plugin
    Case(
        "datasource_plugin.validate_credentials",
        "datasource_plugin",
        "datasource/validate_credentials",
        {"provider": "crawler", "credentials": {}},
    ),
    Case(
        "datasource_plugin.website_crawl",
        "datasource_plugin",
        "datasource/get_website_crawl",
        {"provider": "crawler", "datasource": "crawler", "datasource_parameters": {"url": "https://site.test"}},
    ),
    Case(
        "datasource_plugin.online_document_pages",
        "datasource_plugin",
        "datasource/get_online_document_pages",
        {"provider": "docs", "datasource": "docs", "datasource_parameters": {}, "credentials": {}},
    ),
    Case(
        "datasource_plugin.online_drive_browse",
        "datasource_plugin",
        "datasource/online_drive_browse_files",
        {
            "provider": "drive",
            "datasource": "drive",
            "credentials": {},
            "request": {"bucket": "b", "prefix": "d/", "max_keys": 5},
        },
    ),
]

# What a plugin can send wrong: reverse calls it makes by hand, and chunks it yields.
PLUGIN_BAD_INPUT: list[Case] = [
    reverse("llm_ok", "llm", {**LLM_MODEL, "prompt_messages": PROMPT, "tools": [], "stop": [], "stream": False}),
    reverse("moderation_without_text", "moderation", {"provider": "openai", "model": "omni-moderation-latest"}),
    reverse("llm_without_prompt_messages", "llm", {**LLM_MODEL, "stream": True}),
    reverse("rerank_without_docs", "rerank", {"provider": "cohere", "model": "rerank-v3", "query": "q"}),
    reverse("tool_without_provider", "tool", {"tool": "x", "tool_parameters": {}}),
    reverse("app_without_app_id", "app", {"inputs": {}, "response_mode": "blocking"}),
    reverse("unknown_type", "teleport", {"where": "mars"}),
    reverse(
        "multimodal_rerank_defaults",
        "multimodal_rerank",
        {
            "provider": "cohere",
            "model": "rerank-v3",
            "query": {"content": "big", "content_type": "text"},
            "docs": [{"content": "small", "content_type": "text"}, {"content": "big one", "content_type": "text"}],
        },
    ),
    reverse("storage_clear", "storage", {"opt": "del", "key": "big"}),
    reverse("storage_over_quota", "storage", {"opt": "set", "key": "big", "value": "ab" * 2048}),
    reverse("storage_over_quota_again", "storage", {"opt": "set", "key": "big", "value": "ab" * 2048}),
    reverse("storage_unknown_op", "storage", {"opt": "explode", "key": "k"}),
    reverse(
        "llm_rule_error",
        "llm",
        {
            **LLM_MODEL,
            "provider": "anthropic",
            "prompt_messages": [{"role": "user", "content": "outage"}],
            "stream": False,
            "tools": [],
            "stop": [],
        },
    ),
    chunk("unknown_type", {"type": "mystery", "message": {"text": "?"}, "meta": None}),
    chunk("text_without_text", {"type": "text", "message": {}, "meta": None}),
    chunk("json_not_an_object", {"type": "json", "message": {"json_object": "a string"}, "meta": None}),
    chunk("no_message", {"type": "text", "meta": None}),
    tool("conformance_probe", "conformance_probe", "hang", {}, "probe.never_answers"),
    tool("conformance_probe", "conformance_probe", "big", {"size": 4 * 1024 * 1024}, "probe.line_under_limit"),
    tool("conformance_probe", "conformance_probe", "big", {"size": 6 * 1024 * 1024}, "probe.line_over_limit"),
]

# What a caller can send wrong.
TOOL = {"provider": "model_caller", "tool": "llm", "credentials": {}, "tool_parameters": {"prompt": "hi"}}
CALLER_BAD_INPUT: list[Case] = [
    Case("caller.unknown_route", "model_caller", "tool/nope", TOOL),
    Case("caller.unknown_plugin", "no_such_plugin", "tool/invoke", TOOL),
    Case("caller.wrong_api_key", "model_caller", "tool/invoke", TOOL, headers={"X-Api-Key": "wrong"}),
    Case("caller.no_plugin_id", "model_caller", "tool/invoke", TOOL, headers={"X-Plugin-ID": None}),
    Case("caller.not_json", "model_caller", "tool/invoke", body=b"{not json"),
    Case("caller.no_data", "model_caller", "tool/invoke", body={"user_id": "u"}),
    Case("caller.data_not_object", "model_caller", "tool/invoke", body={"user_id": "u", "data": [1]}),
    Case("caller.missing_provider", "model_caller", "tool/invoke", {"tool": "llm", "tool_parameters": {}}),
    Case(
        "caller.no_credentials",
        "model_caller",
        "tool/invoke",
        {"provider": "model_caller", "tool": "llm", "tool_parameters": {"prompt": "hi"}},
    ),
    Case("caller.unknown_tool", "model_caller", "tool/invoke", {**TOOL, "tool": "nope"}),
    Case(
        "caller.form_content_type",
        "model_caller",
        "tool/invoke",
        TOOL,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case(
        "caller.oversized_body",
        "model_caller",
        "tool/invoke",
        {**TOOL, "tool_parameters": {"prompt": "x" * (16 * 1024 * 1024)}},
    ),
]
