from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
from tools._params import get_str


class StorageTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        op, key = get_str(tool_parameters, "op"), get_str(tool_parameters, "key")
        value = get_str(tool_parameters, "value")
        if op == "set":
            data = b"x" * int(value[5:]) if value.startswith("size:") else value.encode()
            self.session.storage.set(key, data)
            yield self.create_json_message({"op": op, "key": key, "stored": len(data)})
        elif op == "get":
            yield self.create_json_message({"op": op, "key": key, "value": self.session.storage.get(key).decode()})
        elif op == "exist":
            yield self.create_json_message({"op": op, "key": key, "exists": self.session.storage.exist(key)})
        elif op == "delete":
            self.session.storage.delete(key)
            yield self.create_json_message({"op": op, "key": key})
        else:
            raise ValueError(f"unknown op {op!r}")
