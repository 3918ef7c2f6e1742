"""Files replaced atomically and durably: a temporary file `.<name>.<pid>.tmp` beside the file, fsync, rename, fsync
of the folder. `remove_leftovers` removes the temporary files of writers that were killed (their pid is gone)."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")  # .<file name>.<pid>.tmp, while a writer writes


def sync_folder(folder: Path) -> None:
    """Makes a rename in `folder` durable; some file systems cannot sync a folder, and need not."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # an earlier process that had our pid: this one has written nothing yet
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(folder: Path) -> list[Path]:
    """Removes the temporary files of killed recorders (`.<cassette>.<pid>.tmp`, that pid gone); returns them."""
    removed = []
    for path in folder.glob(".*.tmp") if folder.is_dir() else []:
        found = TEMPORARY.match(path.name)
        if found and not _alive(int(found.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
