"""Every reverse call a plugin can make, written against dify-plugin 0.0.1b72; newer calls are detected at run time."""

import io
import wave
from collections.abc import Callable
from typing import Any

from dify_plugin.entities.model.llm import LLMModelConfig, LLMResult
from dify_plugin.entities.model.message import PromptMessageTool, UserPromptMessage
from dify_plugin.entities.model.moderation import ModerationModelConfig
from dify_plugin.entities.model.rerank import RerankModelConfig
from dify_plugin.entities.model.speech2text import Speech2TextModelConfig
from dify_plugin.entities.model.text_embedding import TextEmbeddingModelConfig
from dify_plugin.entities.model.tts import TTSModelConfig

WEATHER = PromptMessageTool(
    name="get_weather",
    description="Get the current weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
LONG_TEXT = "Penguins are flightless birds. They live in the southern hemisphere. " * 20


def jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def text_of(message: Any) -> str:
    # get_text_content() only exists from 0.7 on
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "data", "") for part in content or [])


def llm_config() -> LLMModelConfig:
    return LLMModelConfig(provider="openai", model="gpt-4o-mini", mode="chat", completion_params={"temperature": 0})


def llm_stream(session: Any) -> dict[str, Any]:
    chunks, usage, finish = [], None, None
    for chunk in session.model.llm.invoke(
        model_config=llm_config(), prompt_messages=[UserPromptMessage(content="Tell me about penguins")], stream=True
    ):
        chunks.append(text_of(chunk.delta.message))
        usage = jsonable(chunk.delta.usage) if chunk.delta.usage is not None else usage
        finish = chunk.delta.finish_reason or finish
    return {"text": "".join(chunks), "chunks": len(chunks), "usage": usage, "finish_reason": finish}


def llm_blocking(session: Any) -> dict[str, Any]:
    result = session.model.llm.invoke(
        model_config=llm_config(), prompt_messages=[UserPromptMessage(content="Tell me about penguins")], stream=False
    )
    assert isinstance(result, LLMResult)
    return {"text": text_of(result.message), "usage": jsonable(result.usage)}


def llm_tool_call(session: Any) -> dict[str, Any]:
    calls = []
    for chunk in session.model.llm.invoke(
        model_config=llm_config(),
        prompt_messages=[UserPromptMessage(content="Is it cold in Oslo?")],
        tools=[WEATHER],
        stream=True,
    ):
        calls += [{"name": c.function.name, "arguments": c.function.arguments} for c in chunk.delta.message.tool_calls]
    return {"tool_calls": calls}


def structured_output(session: Any) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    result = session.model.llm_structured_output.invoke(
        model_config=llm_config(),
        prompt_messages=[UserPromptMessage(content="Name a penguin")],
        structured_output_schema=schema,
        stream=False,
    )
    return {"structured_output": dict(result.structured_output or {})}


def text_embedding(session: Any) -> dict[str, Any]:
    result = session.model.text_embedding.invoke(
        model_config=TextEmbeddingModelConfig(provider="openai", model="text-embedding-3-small"),
        texts=["hello world", "hello there"],
    )
    return {"count": len(result.embeddings), "dimensions": len(result.embeddings[0]), "usage": jsonable(result.usage)}


def multimodal_embedding(session: Any) -> dict[str, Any]:
    from dify_plugin.entities.model.text_embedding import (
        MultiModalContent,
        MultiModalContentType,
        MultiModalEmbeddingModelConfig,
    )

    result = session.model.text_embedding.invoke_multimodal(
        model_config=MultiModalEmbeddingModelConfig(provider="openai", model="mm-embedding", tenant_id="default"),
        documents=[MultiModalContent(content="a penguin", content_type=MultiModalContentType.TEXT)],
    )
    return {"count": len(result.embeddings), "dimensions": len(result.embeddings[0])}


def rerank(session: Any) -> dict[str, Any]:
    result = session.model.rerank.invoke(
        model_config=RerankModelConfig(provider="cohere", model="rerank-v3", score_threshold=0.0, top_n=2),
        docs=["penguins swim", "cats sleep", "penguins waddle"],
        query="penguins",
    )
    return {"docs": [{"index": d.index, "text": d.text, "score": d.score} for d in result.docs]}


def multimodal_rerank(session: Any) -> dict[str, Any]:
    from dify_plugin.entities.model.rerank import MultiModalRerankModelConfig
    from dify_plugin.entities.model.text_embedding import MultiModalContent, MultiModalContentType

    def text(value: str) -> Any:
        return MultiModalContent(content=value, content_type=MultiModalContentType.TEXT)

    result = session.model.rerank.invoke_multimodal(
        model_config=MultiModalRerankModelConfig(provider="cohere", model="mm-rerank", score_threshold=0.0, top_n=2),
        query=text("penguins"),
        docs=[text("penguins swim"), text("cats sleep")],
    )
    return {"docs": [{"index": d.index, "score": d.score} for d in result.docs]}


def tts(session: Any) -> dict[str, Any]:
    audio = b"".join(
        session.model.tts.invoke(
            model_config=TTSModelConfig(provider="openai", model="tts-1", voice="alloy"), content_text="hello penguins"
        )
    )
    return {"bytes": len(audio), "mp3": audio[:3] == b"ID3" or audio[:1] == b"\xff"}


def _silence_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 8000)
    return buffer.getvalue()


def speech2text(session: Any) -> dict[str, Any]:
    text = session.model.speech2text.invoke(
        model_config=Speech2TextModelConfig(provider="openai", model="whisper-1"), file=io.BytesIO(_silence_wav())
    )
    return {"text": text}


def moderation(session: Any) -> dict[str, Any]:
    config = ModerationModelConfig(provider="openai", model="omni-moderation-latest")
    return {
        "flagged": session.model.moderation.invoke(model_config=config, text="this is forbidden"),
        "clean": session.model.moderation.invoke(model_config=config, text="hello penguins"),
    }


def summary(session: Any) -> dict[str, Any]:
    return {"summary": session.model.summary.invoke(text=LONG_TEXT, instruction="Summarise", min_summarize_length=10)}


def storage(session: Any) -> dict[str, Any]:
    store = session.storage
    steps: dict[str, Any] = {}
    store.set("compat-key", b"\x00penguin\xff")
    steps["get"] = store.get("compat-key").hex()
    if hasattr(store, "exist"):  # from 0.2 on
        steps["exist_before_delete"] = store.exist("compat-key")
    store.delete("compat-key")
    if hasattr(store, "exist"):
        steps["exist_after_delete"] = store.exist("compat-key")
    try:
        store.get("compat-key")
        steps["get_after_delete"] = "found"
    except Exception as error:
        steps["get_after_delete"] = str(error)
    return steps


CALLS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "llm_stream": llm_stream,
    "llm_blocking": llm_blocking,
    "llm_tool_call": llm_tool_call,
    "structured_output": structured_output,
    "text_embedding": text_embedding,
    "multimodal_embedding": multimodal_embedding,
    "rerank": rerank,
    "multimodal_rerank": multimodal_rerank,
    "tts": tts,
    "speech2text": speech2text,
    "moderation": moderation,
    "summary": summary,
    "storage": storage,
}


def missing_calls(session: Any) -> dict[str, str]:
    """The calls this release lacks, each with the attribute that is missing."""
    probes = {
        "structured_output": (session.model, "llm_structured_output"),
        "multimodal_embedding": (session.model.text_embedding, "invoke_multimodal"),
        "multimodal_rerank": (session.model.rerank, "invoke_multimodal"),
    }
    return {
        name: f"{type(owner).__name__}.{attribute}"
        for name, (owner, attribute) in probes.items()
        if not hasattr(owner, attribute)
    }
