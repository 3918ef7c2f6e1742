"""File routes: the plugin's upload, downloads of stored files, and `/mock/files` for files put there by hand.

- `POST /files/upload/for-plugin?...&sign=`: where `session.file.upload` sends the file (multipart field
  `file`) after the `upload_file` reverse call; answers 201 with the file's record, as Dify does.
- `GET /files/tools/<id><extension>?...&sign=`: the file's bytes, with its content type. This is the `url`
  of a tool parameter of type `file`, so `File.blob` in a plugin works.
- `POST /mock/files` (multipart `file`) and `GET /mock/files`: store a file yourself and get the dict to pass
  as a tool's `file` parameter; list what is stored. These need the server key when one is set.

The upload and download routes are guarded by their URL's signature, not by the server key: the plugin calls
them with nothing but the URL, as it does with Dify.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.types import Message

from dify_mock.config.settings import DEFAULT_TENANT
from dify_mock.http.dispatch import check_api_key, get_host
from dify_mock.store.disk import write_failure
from dify_mock.store.files import MIME_TYPE, FileError, FileStore, StoredFile, guess_mime_type

log = logging.getLogger("dify_mock.files")

router = APIRouter()
guarded = APIRouter(dependencies=[Depends(check_api_key)])

MULTIPART_SLACK = 64 * 1024  # room for the multipart boundaries and part headers around the file
DRAIN_LIMIT = 256 * 1024 * 1024  # an oversized body is read (and dropped) up to this, so the client sees the 413


class _BodyTooLarge(Exception):
    pass


def _error(error: FileError) -> JSONResponse:
    return JSONResponse(error.to_json(), status_code=error.status)


async def _drain(request: Request) -> None:
    dropped = 0
    while dropped < DRAIN_LIMIT:
        message = await request.receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _read_file_field(request: Request, store: FileStore) -> tuple[FormData, UploadFile]:
    """The multipart form and its `file` part; refuses other bodies and bodies over the upload limit."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise FileError(
            415,
            "unsupported_media_type",
            f"expected a multipart/form-data body with the file in a field named 'file', got {content_type or 'no Content-Type'}",
        )
    limit = store.max_bytes + MULTIPART_SLACK
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        await _drain(request)
        raise FileError(413, "file_too_large", store.too_large())
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _BodyTooLarge
        return message

    try:
        form = await Request(request.scope, counted).form(max_files=1, max_fields=16)
    except _BodyTooLarge:
        await _drain(request)
        raise FileError(413, "file_too_large", store.too_large()) from None
    except HTTPException as error:
        raise FileError(400, "bad_multipart", f"the multipart body cannot be read: {error.detail}") from None
    except OSError as error:  # a large part is spooled to the temporary folder
        problem = write_failure(error, Path(tempfile.gettempdir()), "the temporary folder")
        raise FileError(507, "insufficient_storage", f"the upload could not be received: {problem}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        fields = ", ".join(sorted(form.keys())) or "none"
        raise FileError(400, "no_file", f"no file in a multipart field named 'file' (fields sent: {fields})")
    await upload.seek(0)
    return form, upload


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


@router.post("/files/upload/for-plugin", response_model=None)
async def upload_for_plugin(request: Request) -> Response:
    store = get_host(request).files
    try:
        ticket = store.check_upload(request.query_params)
        form, upload = await _read_file_field(request, store)
    except FileError as error:
        return _error(error)
    try:
        sent = _media_type(upload.content_type)
        if sent != ticket.mimetype.lower():
            raise FileError(
                415,
                "unsupported_file_type",
                f"the file is {sent or 'of no declared type'}, but this upload URL was made for "
                f"{ticket.mimetype}: upload with the mimetype you asked the URL for",
            )
        stored = store.save(upload.file, ticket.filename, ticket.mimetype, ticket.tenant_id, ticket.user_id)
    except FileError as error:
        return _error(error)
    finally:
        await form.close()
    log.info(
        "stored %s (%s, %d bytes) for tenant %s as %s",
        stored.name,
        stored.mime_type,
        stored.size,
        stored.tenant_id,
        stored.id,
    )
    return JSONResponse(store.record(stored), status_code=201)


# An uploaded file is whatever a plugin or a caller sent: never a page of the mock's origin.
UNTRUSTED_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


@router.get("/files/tools/{name}", response_model=None)
async def download(name: str, request: Request) -> Response:
    store = get_host(request).files
    try:
        stored = store.check_download(name, request.query_params)
    except FileError as error:
        return _error(error)
    return FileResponse(
        store.data_path(stored),
        media_type=stored.mime_type,
        filename=stored.name,
        content_disposition_type="attachment",
        headers=UNTRUSTED_FILE_HEADERS,
    )


def _described(store: FileStore, stored: StoredFile) -> dict[str, Any]:
    return {**store.record(stored), "file": store.file_parameter(stored)}


@guarded.post("/mock/files", response_model=None)
async def put_file(request: Request, tenant: str = DEFAULT_TENANT, user_id: str = "") -> Response:
    """Store a file by hand; the answer's `file` is what to pass as a tool parameter of type `file`."""
    store = get_host(request).files
    try:
        form, upload = await _read_file_field(request, store)
    except FileError as error:
        return _error(error)
    try:
        mime_type = _media_type(upload.content_type)
        if mime_type in ("", "application/octet-stream"):  # curl -F sends no type of its own
            mime_type = guess_mime_type(upload.filename or "")
        if not MIME_TYPE.match(mime_type):
            raise FileError(415, "unsupported_file_type", f"the file's Content-Type {mime_type!r} is not a MIME type")
        stored = store.save(upload.file, upload.filename or "file", mime_type, tenant, user_id)
    except FileError as error:
        return _error(error)
    finally:
        await form.close()
    return JSONResponse(_described(store, stored), status_code=201)


@guarded.get("/mock/files")
async def list_files(request: Request, tenant: str | None = None) -> dict[str, Any]:
    store = get_host(request).files
    return {"files": [_described(store, f) for f in store.files() if tenant is None or f.tenant_id == tenant]}
