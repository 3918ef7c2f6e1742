"""Reverse `storage` calls (`session.storage.set/get/exist/delete`), answered from the plugin's store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from dify_mock.protocol.reverse_call import ReverseCall, ReverseError

if TYPE_CHECKING:
    from dify_mock.host import Host

MAX_KEY_BYTES = 1024
MISSING_KEY = "load data failed, please check if the key is correct or you have not set it"


def storage_quota(manifest: dict[str, Any]) -> int | None:
    storage = ((manifest.get("resource") or {}).get("permission") or {}).get("storage") or {}
    size = storage.get("size")
    return int(size) if isinstance(size, int | float) and size > 0 else None


async def answer_storage(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    request = call.request
    operation, key = request.get("opt"), request.get("key")
    if not isinstance(key, str) or not key:
        raise ReverseError("'key' must be a non-empty string")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ReverseError(f"the key is {len(key.encode())} bytes; at most {MAX_KEY_BYTES} are allowed")
    store, tenant, plugin = host.storage, call.tenant_id, call.plugin_id
    call.answered_by = "storage"
    if operation == "set":
        try:
            value = bytes.fromhex(str(request.get("value", "")))
        except ValueError:
            raise ReverseError("decode data failed: 'value' must be the hex of the bytes to store") from None
        runtime = host.registry.get(tenant, plugin)
        quota = storage_quota(runtime.manifest) if runtime else None
        store.set(tenant, plugin, key, value, quota)
        yield {"data": "ok"}
    elif operation == "get":
        found = store.get(tenant, plugin, key)
        if found is None:
            raise ReverseError(MISSING_KEY)
        yield {"data": found.hex()}
    elif operation == "exist":
        exists = store.get(tenant, plugin, key) is not None
        yield {"data": exists, "exist_num": int(exists)}
    elif operation == "del":
        deleted = store.delete(tenant, plugin, key)
        if not deleted:  # the daemon stats the key's file first, and fails as its file system does
            raise ReverseError(
                f"delete data failed: stat persistence/{tenant}/{plugin}/{key}: no such file or directory"
            )
        yield {"data": "ok", "deleted_num": deleted}
    else:
        raise ReverseError(f"unsupported storage operation {operation!r}; expected set, get, exist or del")
