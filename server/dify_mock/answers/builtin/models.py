"""Built-in answers: what dify-mock replies to a model call that no fixture answers.

Each answer is a pure function of the request (hashes come from hashlib), so the same request always gets
the same reply. Requests are the dicts the plugin SDK sends; see reference/protocol.md section 5.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from dify_mock.answers.builtin.apps import builtin_app, builtin_fetch_app
from dify_mock.answers.builtin.audio import AudioError, inspect_audio
from dify_mock.answers.builtin.nodes import builtin_parameter_extractor, builtin_question_classifier
from dify_mock.answers.builtin.schema_sample import key_words, sample_for_schema
from dify_mock.answers.prompts import message_text
from dify_mock.answers.replies import (
    EmbeddingReply,
    JsonToolMessage,
    LLMReply,
    ModerationReply,
    Reply,
    RerankReply,
    Speech2TextReply,
    SummaryReply,
    TextToolMessage,
    ToolCallReply,
    ToolReply,
    TTSReply,
)

DEFAULT_DIMENSIONS = 256
# Moderation flags a text holding one of these words, alone or with a common ending ("bombs", "killing").
MODERATION_BLOCKLIST = ("kill", "bomb", "forbidden", "weapon", "terror")
SUMMARY_LENGTH = 200
_BLOCKED = re.compile(rf"\b(?:{'|'.join(MODERATION_BLOCKLIST)})(?:s|ed|er|ers|ing|ist|ists|ism)?\b", re.IGNORECASE)


def builtin_reply(invoke_type: str, request: dict[str, Any]) -> Reply:
    """The built-in answer to one reverse invocation; KeyError for a type without one."""
    try:
        build = _BUILDERS[invoke_type]
    except KeyError:
        raise KeyError(f"no built-in answer for invoke type {invoke_type!r}") from None
    return build(request)


def last_user_text(prompt_messages: list[dict[str, Any]]) -> str:
    """The text of the last user message: a string content, or its text parts joined by newlines."""
    for message in reversed(prompt_messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


# --- LLM --------------------------------------------------------------------------------------------


def _llm(request: dict[str, Any]) -> LLMReply:
    messages = _messages(request)
    prompt = last_user_text(messages)
    tool = _tool_to_call(request, messages)
    if tool is not None:
        parameters = tool.get("parameters")
        arguments = sample_for_schema(parameters if isinstance(parameters, dict) else {}, seed=prompt)
        arguments = arguments if isinstance(arguments, dict) else {}
        call_id = "call_" + _digest(f"{tool['name']}\n{json.dumps(arguments, sort_keys=True)}\n{prompt}")[:12]
        call = ToolCallReply(name=str(tool["name"]), arguments=arguments, id=call_id)
        return LLMReply(text="", tool_calls=[call], finish_reason="tool_calls")
    text, finish_reason = _limited(_answer_text(messages, prompt), request)
    return LLMReply(text=text, finish_reason=finish_reason)


def _structured_output(request: dict[str, Any]) -> LLMReply:
    schema = request.get("structured_output_schema")
    if isinstance(schema, str):
        schema = json.loads(schema)
    value = sample_for_schema(schema if isinstance(schema, dict) else {}, seed=last_user_text(_messages(request)))
    return LLMReply(
        structured_output=value if isinstance(value, dict) else None,
        text=json.dumps(value, ensure_ascii=False),
        finish_reason="stop",
    )


def _messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request.get("prompt_messages") or [] if isinstance(m, dict)]


def _tool_to_call(request: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first offered tool, unless a tool result already follows the last user message."""
    tools = [t for t in request.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    choice = request.get("tool_choice")
    mode = choice.get("mode") if isinstance(choice, dict) else None
    if not tools or mode == "none":
        return None
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if any(m.get("role") == "tool" for m in messages[users[-1] + 1 if users else 0 :]):
        return None
    if mode == "tool" and isinstance(choice, dict):
        return next((t for t in tools if t["name"] == choice.get("name")), tools[0])
    return tools[0]


def _answer_text(messages: list[dict[str, Any]], prompt: str) -> str:
    if messages and messages[-1].get("role") == "tool":
        result = _shorten(message_text(messages[-1]), 200) or "(empty)"
        result += "" if result.endswith((".", "!", "?", "…")) else "."
        asked = f' That answers your question, "{_shorten(prompt, 100)}".' if prompt.strip() else ""
        return f"Based on the tool result: {result}{asked}"
    if not prompt.strip():
        return "Hello! I am the built-in model of dify-mock. Ask me something and I will answer."
    sentences = [f'You asked: "{_shorten(prompt, 120)}".']
    if words := key_words(prompt, 5):
        sentences.append(f"The key words are {', '.join(words)}.")
    content = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)
    parts = content if isinstance(content, list) else []
    others = Counter(str(p.get("type")) for p in parts if isinstance(p, dict) and p.get("type") != "text")
    if others:
        sentences.append(f"Your message also carried {', '.join(f'{n} {k}' for k, n in sorted(others.items()))}.")
    sentences.append("This is a deterministic answer from dify-mock: the same prompt always gets this reply.")
    return " ".join(sentences)


def _limited(text: str, request: dict[str, Any]) -> tuple[str, str]:
    """Cut the text at the first stop sequence, or at max_tokens (about four characters a token)."""
    stops = [s for s in request.get("stop") or [] if isinstance(s, str) and s]
    cut = min((i for s in stops if (i := text.find(s)) != -1), default=-1)
    if cut != -1:
        return text[:cut], "stop"
    params = request.get("completion_params")
    max_tokens = params.get("max_tokens") if isinstance(params, dict) else None
    if isinstance(max_tokens, int) and max_tokens > 0 and len(text) > max_tokens * 4:
        return text[: max_tokens * 4], "length"
    return text, "stop"


# --- embeddings and rerank -----------------------------------------------------------------------------


def embed_texts(texts: list[str], dimensions: int = DEFAULT_DIMENSIONS) -> list[list[float]]:
    """Unit vectors hashed from words and character trigrams: texts sharing words point the same way."""
    return [_unit(_text_features(text, dimensions)) for text in texts]


def _text_features(text: str, dimensions: int) -> list[float]:
    vector = [0.0] * dimensions
    counts = Counter(re.findall(r"\w+", text.lower()))
    for word, count in sorted(counts.items()):
        weight = 1 + math.log(count)
        _add_feature(vector, f"w:{word}", weight)
        padded = f" {word} "
        trigrams = [padded[i : i + 3] for i in range(len(padded) - 2)]
        for trigram in trigrams:
            _add_feature(vector, f"t:{trigram}", weight * 0.5 / math.sqrt(len(trigrams)))
    if not counts:
        _add_feature(vector, f"raw:{text}", 1.0)
    return vector


def _add_feature(vector: list[float], feature: str, weight: float) -> None:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    index = int.from_bytes(digest[:4], "big") % len(vector)
    vector[index] += weight if digest[4] & 1 else -weight


def _bytes_vector(data: bytes, dimensions: int) -> list[float]:
    seed = hashlib.sha256(data).digest()
    stream = b"".join(
        hashlib.sha256(seed + block.to_bytes(4, "big")).digest() for block in range(math.ceil(dimensions / 16))
    )
    return _unit([int.from_bytes(stream[2 * i : 2 * i + 2], "big") / 32767.5 - 1 for i in range(dimensions)])


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        return [1.0] + [0.0] * (len(vector) - 1)
    return [v / norm for v in vector]


def _image_bytes(content: str) -> bytes:
    payload = content.split(",", 1)[1] if content.startswith("data:") and "," in content else content
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return content.encode()


def _text_embedding(request: dict[str, Any]) -> EmbeddingReply:
    return EmbeddingReply(embeddings=embed_texts([str(t) for t in request.get("texts") or []]))


def _multimodal_embedding(request: dict[str, Any]) -> EmbeddingReply:
    embeddings = []
    for document in request.get("documents") or []:
        content = str(document.get("content", "")) if isinstance(document, dict) else str(document)
        if isinstance(document, dict) and document.get("content_type") == "image":
            embeddings.append(_bytes_vector(_image_bytes(content), DEFAULT_DIMENSIONS))
        else:
            embeddings.extend(embed_texts([content]))
    return EmbeddingReply(embeddings=embeddings)


def rerank_scores(query: str, docs: list[str]) -> list[float]:
    """Lexical relevance in [0, 1]: 1.0 only for a doc equal to the query (ignoring case and spacing)."""
    query_terms = set(_words(query))
    doc_terms = [set(_words(doc)) for doc in docs]
    frequency = Counter(term for terms in doc_terms for term in terms)
    idf = {t: math.log(1 + (len(docs) - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in query_terms}
    total = sum(idf.values())
    normal_query = " ".join(_words(query))
    scores = []
    for doc, terms in zip(docs, doc_terms, strict=True):
        normal_doc = " ".join(_words(doc))
        if normal_query and normal_doc == normal_query:
            scores.append(1.0)
            continue
        shared = query_terms & terms
        coverage = sum(idf[t] for t in shared) / total if total else 0.0
        precision = len(shared) / len(terms) if terms else 0.0
        score = 0.6 * coverage + 0.2 * precision + 0.2 * _trigram_similarity(normal_query, normal_doc)
        scores.append(round(min(score, 0.99), 6))
    return scores


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _trigram_similarity(a: str, b: str) -> float:
    grams_a = {a[i : i + 3] for i in range(len(a) - 2)}
    grams_b = {b[i : i + 3] for i in range(len(b) - 2)}
    union = grams_a | grams_b
    return len(grams_a & grams_b) / len(union) if union else 0.0


def _rerank(request: dict[str, Any]) -> RerankReply:
    return RerankReply(
        scores=rerank_scores(str(request.get("query") or ""), [str(d) for d in request.get("docs") or []])
    )


def _multimodal_rerank(request: dict[str, Any]) -> RerankReply:
    """Text against text is scored lexically; anything with an image scores 1.0 if identical, else 0.0."""
    query = _content(request.get("query"))
    docs = [_content(doc) for doc in request.get("docs") or []]
    scores = [1.0 if doc == query else 0.0 for doc in docs]
    if query[0] == "text":
        text_indexes = [i for i, doc in enumerate(docs) if doc[0] == "text"]
        text_scores = rerank_scores(query[1], [docs[i][1] for i in text_indexes])
        for i, score in zip(text_indexes, text_scores, strict=True):
            scores[i] = score
    return RerankReply(scores=scores)


def _content(item: Any) -> tuple[str, str]:
    if isinstance(item, dict):
        return str(item.get("content_type") or "text"), str(item.get("content") or "")
    return "text", str(item or "")


# --- audio, moderation, summary -------------------------------------------------------------------------


def _tts(request: dict[str, Any]) -> TTSReply:
    return TTSReply()


def _speech2text(request: dict[str, Any]) -> Speech2TextReply:
    file_hex = request.get("file")
    if not isinstance(file_hex, str):
        raise AudioError("'file' must be a string holding the hex of the audio bytes")
    try:
        data = bytes.fromhex(file_hex)
    except ValueError as error:
        raise AudioError(f"'file' is not a hex string: {error}") from None
    info = inspect_audio(data)
    if info.embedded_text is not None:
        return Speech2TextReply(text=info.embedded_text)
    length = f"{info.duration_seconds:.1f} s of " if info.duration_seconds is not None else ""
    return Speech2TextReply(text=f"[mock transcription of {length}{info.format} audio]")


def _moderation(request: dict[str, Any]) -> ModerationReply:
    return ModerationReply(flagged=bool(_BLOCKED.search(str(request.get("text") or ""))))


def _summary(request: dict[str, Any]) -> SummaryReply:
    """The leading sentences of the text that fit in SUMMARY_LENGTH characters."""
    text = " ".join(str(request.get("text") or "").split())
    summary = ""
    for sentence in re.findall(r"[^.!?]+(?:[.!?]+|$)", text):
        candidate = f"{summary} {sentence.strip()}".strip()
        if len(candidate) > SUMMARY_LENGTH:
            break
        summary = candidate
    return SummaryReply(summary=summary or _shorten(text, SUMMARY_LENGTH))


# --- tools ------------------------------------------------------------------------------------------------


def _tool(request: dict[str, Any]) -> ToolReply:
    """An echo: one text naming the tool and its parameters, one JSON message with the whole call."""
    provider, tool = str(request.get("provider") or ""), str(request.get("tool") or "")
    parameters = request.get("tool_parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    echo = {
        "provider": provider,
        "tool": tool,
        "tool_type": request.get("tool_type"),
        "parameters": parameters,
    }
    text = f"{provider}/{tool} called with {json.dumps(parameters, sort_keys=True, ensure_ascii=False)}"
    return ToolReply(
        messages=[
            TextToolMessage(type="text", text=text),
            JsonToolMessage.model_validate({"type": "json", "json": echo}),
        ]
    )


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_BUILDERS: dict[str, Callable[[dict[str, Any]], Reply]] = {
    "llm": _llm,
    "llm_structured_output": _structured_output,
    "text_embedding": _text_embedding,
    "multimodal_embedding": _multimodal_embedding,
    "rerank": _rerank,
    "multimodal_rerank": _multimodal_rerank,
    "tts": _tts,
    "speech2text": _speech2text,
    "moderation": _moderation,
    "system_summary": _summary,
    "tool": _tool,
    "app": builtin_app,
    "fetch_app": builtin_fetch_app,
    "node_parameter_extractor": builtin_parameter_extractor,
    "node_question_classifier": builtin_question_classifier,
}
