"""The reverse `upload_file` call: the plugin asks where to upload a file and gets a signed URL on the mock.

The SDK then POSTs the file there itself (`http/files.py` takes it), so the URL must be one the plugin can
reach: it starts with the mock's public URL (`--files-url`, what FILES_URL is to Dify).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from dify_mock.protocol.reverse_call import ReverseCall, ReverseError
from dify_mock.store.files import MIME_TYPE

if TYPE_CHECKING:
    from dify_mock.host import Host


async def answer_upload_file(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    filename, mimetype = call.request.get("filename"), call.request.get("mimetype")
    if not isinstance(filename, str) or not filename.strip():
        raise ReverseError("'filename' must be a non-empty string")
    if not isinstance(mimetype, str) or not MIME_TYPE.match(mimetype):
        raise ReverseError(f"'mimetype' must be a MIME type such as image/png, got {mimetype!r}")
    call.answered_by = "files"
    yield {"url": host.files.upload_url(call.tenant_id, call.user_id, filename, mimetype)}
