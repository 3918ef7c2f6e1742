"""Which files of a plugin folder `dify plugin package` puts in the package: every file under the folder, except what
`.difyignore` excludes, or `.gitignore` when there is no `.difyignore` (gitignore patterns, as the CLI reads them).
With neither file, everything goes in, `.venv` and `.git` included.
"""

from __future__ import annotations

import os
from pathlib import Path

import pathspec

IGNORE_FILES = (".difyignore", ".gitignore")


def ignore_spec(root: Path) -> pathspec.GitIgnoreSpec | None:
    for name in IGNORE_FILES:
        path = root / name
        if path.is_file():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            return pathspec.GitIgnoreSpec.from_lines(line.strip() for line in lines if line.strip())
    return None


def packaged_files(root: Path) -> dict[str, int]:
    """path inside the plugin (posix) -> size in bytes, for every file the CLI would package, in its walk order."""
    spec = ignore_spec(root)
    found: dict[str, int] = {}
    for folder, dirs, files in os.walk(root):
        relative = Path(folder).relative_to(root).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        dirs[:] = sorted(d for d in dirs if spec is None or not spec.match_file(f"{prefix}{d}/"))
        for name in sorted(files):
            path = f"{prefix}{name}"
            if spec is not None and spec.match_file(path):
                continue
            try:
                found[path] = os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # a dangling symlink: the CLI fails on it when it reads the file
    return found
