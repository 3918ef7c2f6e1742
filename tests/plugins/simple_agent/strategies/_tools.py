"""What both strategies do with the tool the model picked: run it through the host, flatten its answer."""

import json
from collections.abc import Mapping
from typing import Any

from dify_plugin.core.runtime import Session
from dify_plugin.entities.tool import ToolInvokeMessage
from dify_plugin.interfaces.agent import ToolEntity


def run_tool(session: Session, tools_by_name: Mapping[str, ToolEntity], name: str, arguments: dict[str, Any]) -> str:
    """The tool's answer as the text the model sees next. Any error of the reverse tool call propagates, so tests
    see it as the strategy's error."""
    tool = tools_by_name.get(name)
    if tool is None:
        return f"there is no tool named {name}"
    responses = session.tool.invoke(
        provider_type=tool.provider_type,
        provider=tool.identity.provider,
        tool_name=tool.identity.name,
        parameters={**tool.runtime_parameters, **arguments},
        credential_id=tool.credential_id,
    )
    return tool_result_text(list(responses))


def tool_result_text(messages: list[ToolInvokeMessage]) -> str:
    """Flatten what a tool answered into the text the model sees next."""
    kinds = ToolInvokeMessage.MessageType
    parts: list[str] = []
    saw_blob = False
    for message in messages:
        body: Any = message.message
        if message.type in (kinds.TEXT, kinds.LINK):
            parts.append(body.text)
        elif message.type in (kinds.IMAGE, kinds.IMAGE_LINK):
            parts.append(f"image: {body.text}")
        elif message.type == kinds.JSON:
            parts.append(json.dumps(body.json_object, ensure_ascii=False))
        elif message.type == kinds.VARIABLE:
            parts.append(f"{body.variable_name}: {body.variable_value}")
        elif message.type in (kinds.BLOB, kinds.BLOB_CHUNK):
            if not saw_blob:
                parts.append("[binary data]")
            saw_blob = True
        elif message.type == kinds.FILE:
            parts.append("[file]")
    return "\n".join(parts)
