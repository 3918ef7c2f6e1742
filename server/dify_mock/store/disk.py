"""Why a write to disk failed, said plainly: the folder is full, a quota or this process's file size limit is hit.

An OSError carries its errno. SQLite says "database or disk is full" only for ENOSPC; a file over the size limit
(EFBIG) or a quota (EDQUOT) reaches it as "disk I/O error", so for those the folder's free space and the
process's file size limit are looked at to name the likely cause.
"""

from __future__ import annotations

import errno
import os
import resource
import sqlite3
from pathlib import Path

SQLITE_FULL = 13
SQLITE_IOERR = 10
LOW_SPACE_BYTES = 1 << 20  # with less free than this, a write error is most likely a full disk


def file_size_limit() -> int | None:
    """This process's file size limit (RLIMIT_FSIZE, `ulimit -f`) in bytes; None when there is none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def free_bytes(folder: Path) -> int | None:
    try:
        stat = os.statvfs(folder)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def _over_size_limit() -> str:
    limit = file_size_limit()
    where = f" of {limit} bytes" if limit is not None else ""
    return f"a file would grow past this process's file size limit{where} (ulimit -f)"


def full_because(error: BaseException, folder: Path) -> str | None:
    """Why there is no room to write in `folder`, if that is what `error` means; None for other errors."""
    if isinstance(error, OSError):
        if error.errno == errno.ENOSPC:
            return "no space left on its disk"
        if error.errno == errno.EDQUOT:
            return "the disk quota is exceeded"
        if error.errno == errno.EFBIG:
            return _over_size_limit()
        return None
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        if primary == SQLITE_FULL:
            return "no space left on its disk"
        if primary == SQLITE_IOERR:
            free = free_bytes(folder)
            if free is not None and free < LOW_SPACE_BYTES:
                return f"{free} bytes left on its disk"
            if file_size_limit() is not None:
                return _over_size_limit()
    return None


def write_failure(error: BaseException, folder: Path, what: str = "the data folder") -> str:
    """`the data folder /x is full: no space left on its disk`, or `cannot write to the data folder /x: ...`."""
    cause = full_because(error, folder)
    if cause is not None:
        return f"{what} {folder} is full: {cause}"
    return f"cannot write to {what} {folder}: {error}"


def unwritable_because(folder: Path) -> str | None:
    """Why this process cannot create files in `folder` (an existing folder), if it cannot: its owner and mode, as a
    folder mounted into a container from the host often has."""
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    stat = folder.stat()
    return (
        f"uid {os.getuid()}, which runs the mock, may not write in it (it belongs to uid {stat.st_uid}, "
        f"mode {stat.st_mode & 0o777:o}): give it to uid {os.getuid()}, or run the mock as its owner"
    )
