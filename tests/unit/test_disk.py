"""Write failures said plainly: which errors mean a full folder, and what the message names."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from dify_mock.store.disk import full_because, write_failure


def sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


def test_os_errors_that_mean_no_room_name_the_folder_and_the_cause(tmp_path: Path) -> None:
    no_space = OSError(errno.ENOSPC, "No space left on device")
    assert write_failure(no_space, tmp_path) == f"the data folder {tmp_path} is full: no space left on its disk"
    assert full_because(OSError(errno.EDQUOT, "Disk quota exceeded"), tmp_path) == "the disk quota is exceeded"
    assert "file size limit" in str(full_because(OSError(errno.EFBIG, "File too large"), tmp_path))
    read_only = OSError(errno.EROFS, "Read-only file system")
    assert full_because(read_only, tmp_path) is None
    assert write_failure(read_only, tmp_path, "the cassette folder") == (
        f"cannot write to the cassette folder {tmp_path}: [Errno {errno.EROFS}] Read-only file system"
    )


def test_sqlite_full_is_no_room_and_other_sqlite_errors_are_passed_on(tmp_path: Path) -> None:
    assert full_because(sqlite_error("database or disk is full", 13), tmp_path) == "no space left on its disk"
    locked = sqlite_error("database is locked", 5)
    assert write_failure(locked, tmp_path) == f"cannot write to the data folder {tmp_path}: database is locked"
