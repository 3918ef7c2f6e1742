"""Files plugins upload (`session.file.upload`) and files handed to tools, kept under the data folder.

Like Dify, the mock gives out signed URLs: an upload URL (`/files/upload/for-plugin?...&sign=`) for each
`upload_file` reverse call, and a download URL (`/files/tools/<id><extension>?...&sign=`) for each stored file.
Signatures are HMAC-SHA256 under a secret made at start-up, so URLs from an earlier run, or edited ones, are
refused. File names never become paths: each file is stored as `<data dir>/files/<32 hex id>` beside a
`<id>.json` record, and only appears once both are complete.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import mimetypes
import os
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

from dify_mock.store.disk import write_failure

FILE_ID = re.compile(r"^[0-9a-f]{32}$")
MIME_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")
LINK_LIFETIME = 3600  # seconds an upload or download URL stays valid
COPY_CHUNK = 1 << 20
# The standard table only: the system's mime.types differs between machines, and answers must not.
_MIME_TABLE = mimetypes.MimeTypes(filenames=())


class FileError(Exception):
    """A refused upload or download: the HTTP status, a short code, and a message saying what was wrong."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "status": self.status}


def file_kind(mime_type: str) -> str:
    """The file type Dify and the SDK use: image, video, audio or document."""
    for kind in ("image", "video", "audio"):
        if mime_type.startswith(f"{kind}/"):
            return kind
    return "document"


def extension_for(mime_type: str) -> str:
    """The extension Dify gives a tool file: the one the MIME type implies, with its dot; `.bin` if none."""
    return _MIME_TABLE.guess_extension(mime_type, strict=False) or ".bin"


def guess_mime_type(filename: str) -> str:
    return _MIME_TABLE.guess_type(filename, strict=False)[0] or "application/octet-stream"


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    size: int
    extension: str
    mime_type: str
    tenant_id: str
    user_id: str
    sha256: str
    created_at: int

    @property
    def type(self) -> str:
        return file_kind(self.mime_type)


@dataclass(frozen=True)
class UploadTicket:
    """What a valid upload URL allows: one file of this name and type, for this tenant and user."""

    filename: str
    mimetype: str
    tenant_id: str
    user_id: str


class FileStore:
    def __init__(self, folder: Path, public_url: str, max_bytes: int, secret: bytes | None = None) -> None:
        self.folder = folder
        self.public_url = public_url.rstrip("/")
        self.max_bytes = max_bytes
        self._secret = secret or secrets.token_bytes(32)
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob("*.part"):  # an upload cut short by a stop
            leftover.unlink(missing_ok=True)

    # -- signatures ---------------------------------------------------------------------------------------

    def _sign(self, *parts: str) -> str:
        digest = hmac.new(self._secret, "|".join(parts).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()

    def _signed(self, purpose: str, fields: dict[str, str], now: float | None) -> dict[str, str]:
        timestamp = str(int(now if now is not None else time.time()))
        nonce = secrets.token_hex(16)
        sign = self._sign(purpose, *fields.values(), timestamp, nonce)
        return {**fields, "timestamp": timestamp, "nonce": nonce, "sign": sign}

    def _verify(self, purpose: str, fields: dict[str, str], query: Mapping[str, str], now: float | None) -> None:
        timestamp, nonce, sign = query.get("timestamp"), query.get("nonce"), query.get("sign")
        if not timestamp or not nonce or not sign:
            raise FileError(
                403,
                "unsigned",
                "this URL is not signed: timestamp, nonce and sign are missing; use the URL dify-mock gave",
            )
        expected = self._sign(purpose, *fields.values(), timestamp, nonce)
        if not hmac.compare_digest(expected.encode(), sign.encode()):
            raise FileError(
                403,
                "invalid_signature",
                "the signature does not match: the URL was changed, or comes from an earlier run of dify-mock "
                "(signatures change at every start)",
            )
        try:
            age = (now if now is not None else time.time()) - int(timestamp)
        except ValueError:
            raise FileError(403, "invalid_signature", f"timestamp {timestamp!r} is not a number") from None
        if age > LINK_LIFETIME:
            raise FileError(403, "expired", f"this URL expired {int(age - LINK_LIFETIME)} s ago; ask for a new one")

    # -- uploads ------------------------------------------------------------------------------------------

    def upload_url(self, tenant_id: str, user_id: str, filename: str, mimetype: str, now: float | None = None) -> str:
        fields = {"filename": filename, "mimetype": mimetype, "tenant_id": tenant_id, "user_id": user_id}
        return f"{self.public_url}/files/upload/for-plugin?{urlencode(self._signed('upload', fields, now))}"

    def check_upload(self, query: Mapping[str, str], now: float | None = None) -> UploadTicket:
        fields = {name: query.get(name, "") for name in ("filename", "mimetype", "tenant_id", "user_id")}
        self._verify("upload", fields, query, now)
        return UploadTicket(fields["filename"], fields["mimetype"], fields["tenant_id"], fields["user_id"])

    def save(self, source: IO[bytes], name: str, mime_type: str, tenant_id: str, user_id: str) -> StoredFile:
        """Copy `source` into the store; nothing is left behind when it is over the limit or fails."""
        file_id = uuid.uuid4().hex
        data_path, part_path = self.folder / file_id, self.folder / f"{file_id}.part"
        digest, size = hashlib.sha256(), 0
        try:
            with part_path.open("wb") as target:
                while chunk := source.read(COPY_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FileError(413, "file_too_large", self.too_large())
                    digest.update(chunk)
                    target.write(chunk)
            stored = StoredFile(
                id=file_id,
                name=name,
                size=size,
                extension=extension_for(mime_type),
                mime_type=mime_type,
                tenant_id=tenant_id,
                user_id=user_id,
                sha256=digest.hexdigest(),
                created_at=int(time.time()),
            )
            os.replace(part_path, data_path)
            record_part = self.folder / f"{file_id}.json.part"
            record_part.write_text(json.dumps(asdict(stored), ensure_ascii=False), encoding="utf-8")
            os.replace(record_part, self.folder / f"{file_id}.json")
        except BaseException as error:
            for path in (part_path, data_path, self.folder / f"{file_id}.json.part"):
                with contextlib.suppress(OSError):
                    path.unlink()
            if isinstance(error, OSError):
                problem = self.write_failure(error)
                raise FileError(507, "insufficient_storage", f"the file was not stored: {problem}") from None
            raise
        return stored

    def write_failure(self, error: OSError) -> str:
        return write_failure(error, self.folder.parent)

    def too_large(self) -> str:
        return f"the file is larger than the upload limit of {self.max_bytes} bytes (--max-upload-bytes)"

    # -- stored files ---------------------------------------------------------------------------------------

    def get(self, file_id: str) -> StoredFile | None:
        """The stored file with this id; None for an unknown id or anything that is not an id."""
        if not FILE_ID.match(file_id):
            return None
        try:
            record = json.loads((self.folder / f"{file_id}.json").read_text(encoding="utf-8"))
            stored = StoredFile(**record)
        except (OSError, ValueError, TypeError):
            return None
        return stored if self.data_path(stored).is_file() else None

    def data_path(self, stored: StoredFile) -> Path:
        if not FILE_ID.match(stored.id):
            raise ValueError(f"not a file id: {stored.id!r}")
        return self.folder / stored.id

    def files(self) -> list[StoredFile]:
        found = [self.get(path.stem) for path in self.folder.glob("*.json")]
        return sorted((stored for stored in found if stored is not None), key=lambda f: (f.created_at, f.id))

    def preview_url(self, stored: StoredFile, now: float | None = None) -> str:
        signed = self._signed("file-preview", {"id": stored.id}, now)
        query = urlencode({name: value for name, value in signed.items() if name != "id"})
        return f"{self.public_url}/files/tools/{stored.id}{stored.extension}?{query}"

    def check_download(self, name: str, query: Mapping[str, str], now: float | None = None) -> StoredFile:
        """The file a download URL names (`<id><extension>`), once its signature is checked."""
        file_id = name.split(".", 1)[0]
        if not FILE_ID.match(file_id):
            raise FileError(404, "file_not_found", f"{name!r} is not a file name dify-mock gives (<32 hex><extension>)")
        self._verify("file-preview", {"id": file_id}, query, now)
        stored = self.get(file_id)
        if stored is None:
            raise FileError(
                404, "file_not_found", f"no stored file has the id {file_id} (was the data folder cleared?)"
            )
        if name not in (stored.id, f"{stored.id}{stored.extension}"):
            raise FileError(
                404, "file_not_found", f"no file is named {name!r}; this one is {stored.id}{stored.extension}"
            )
        return stored

    def record(self, stored: StoredFile) -> dict[str, Any]:
        """The upload's answer, as Dify's /files/upload/for-plugin gives it (the SDK's UploadFileResponse)."""
        url = self.preview_url(stored)
        return {
            "id": stored.id,
            "name": stored.name,
            "size": stored.size,
            "extension": stored.extension,
            "mime_type": stored.mime_type,
            "type": stored.type,
            "preview_url": url,
            "source_url": url,
            "created_by": stored.user_id,
            "created_at": stored.created_at,
            "user_id": stored.user_id,
            "tenant_id": stored.tenant_id,
            "conversation_id": None,
        }

    def file_parameter(self, stored: StoredFile) -> dict[str, Any]:
        """The stored file as a tool parameter of type `file`, in the shape the SDK turns into a `File`."""
        return {
            "dify_model_identity": "__dify__file__",
            "url": self.preview_url(stored),
            "mime_type": stored.mime_type,
            "filename": stored.name,
            "extension": stored.extension,
            "size": stored.size,
            "type": stored.type,
        }
