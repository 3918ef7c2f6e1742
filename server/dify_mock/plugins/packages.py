"""`.difypkg` packages for `dify-mock run` and `dify-mock check`, prepared as Dify's daemon installs one: the zip
unpacked under the data folder, then its environment made by `plugins/environments.py` under `<data dir>/venvs/`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dify_mock.plugins.environments import READY, PluginEnvironmentError, Say, prepare_environment

MAX_UNPACKED_BYTES = 1024 * 1024 * 1024


class PackageError(PluginEnvironmentError):
    """The package cannot be run; the text says what is wrong, with pip's last output when pip failed."""


@dataclass(frozen=True)
class PreparedPackage:
    folder: Path
    python: str


def prepare_package(package: Path, data_dir: Path, python: str | None, say: Say) -> PreparedPackage:
    folder = unpack(package, data_dir / "packages", say)
    return PreparedPackage(folder, prepare_environment(folder, data_dir / "venvs", python, say, name=package.name))


def unpack(package: Path, into: Path, say: Say) -> Path:
    if not package.is_file():
        raise PackageError(f"{package} does not exist")
    if not zipfile.is_zipfile(package):
        raise PackageError(
            f"{package} is not a .difypkg package: it is not a zip file (`dify plugin package FOLDER` makes one)"
        )
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    folder = into / f"{package.stem}-{digest[:12]}"
    if (folder / READY).is_file():
        return folder
    into.mkdir(parents=True, exist_ok=True)
    partial = into / f".{folder.name}.{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with zipfile.ZipFile(package) as archive:
            members = archive.infolist()
            _check_members(package, members)
            say(f"unpacking {package} into {folder}")
            archive.extractall(partial)
        if not (partial / "manifest.yaml").is_file():
            raise PackageError(f"{package} has no manifest.yaml at its root: it is not a plugin package")
        (partial / READY).write_text(digest)
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    except zipfile.BadZipFile as error:
        raise PackageError(f"{package} is a damaged zip file: {error}") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _check_members(package: Path, members: list[zipfile.ZipInfo]) -> None:
    total = 0
    for member in members:
        path = PurePosixPath(member.filename)
        if path.is_absolute() or ".." in path.parts:
            raise PackageError(f"{package}: refusing the entry {member.filename!r}, which points outside the package")
        total += member.file_size
    if total > MAX_UNPACKED_BYTES:
        raise PackageError(f"{package} unpacks to {total} bytes, over the limit of {MAX_UNPACKED_BYTES}")
