"""`.difypkg` packages for `dify-mock run` and `dify-mock check`, prepared as Dify's daemon installs one: the zip
unpacked under the data folder, then its environment made by `plugins/environments.py` under `<data dir>/venvs/`.

A package may come from anyone. It is measured from its central directory before a byte is unpacked: its size
against the daemon's MAX_PLUGIN_PACKAGE_SIZE, its entry names (inside the package, one entry per path, no file that
is also a folder), and each entry is unpacked counting bytes, so a lying header cannot write more. A refusal is one
line (`PackageError`) and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dify_mock.plugins.environments import READY, PluginEnvironmentError, Say, prepare_environment

MAX_PACKAGE_BYTES = 52_428_800  # the daemon's MAX_PLUGIN_PACKAGE_SIZE default, and the CLI's --max-size 50 (MiB)
MAX_ENTRIES = 100_000
DAEMON_TOO_LARGE = (
    "plugin package size is too large, please ensure the uncompressed size is less than {limit} bytes"  # its words
)
CHUNK = 1024 * 1024


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
    """The package unpacked into a folder of `into` named by its hash, reused when it is already there."""
    members = measure(package)
    digest = _sha256(package)
    folder = into / f"{package.stem}-{digest[:12]}"
    if (folder / READY).is_file():
        return folder
    into.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=into))
    try:
        say(f"unpacking {package} into {folder}")
        _extract(package, members, partial)
        (partial / READY).write_text(digest)
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


@contextmanager
def unpacked(package: Path, into: Path) -> Iterator[Path]:
    """The package unpacked into a fresh folder of `into`, removed afterwards whatever happens (for `check`)."""
    members = measure(package)
    into.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{package.stem}.", dir=into))
    try:
        _extract(package, members, folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(package: Path) -> list[zipfile.ZipInfo]:
    """The entries to unpack, after every check that needs no unpacking; PackageError when one fails."""
    if not package.is_file():
        raise PackageError(f"{package} does not exist")
    size = package.stat().st_size
    if size > MAX_PACKAGE_BYTES:
        raise PackageError(f"{package}: the file is {size} bytes; {DAEMON_TOO_LARGE.format(limit=MAX_PACKAGE_BYTES)}")
    if not zipfile.is_zipfile(package):
        raise PackageError(
            f"{package} is not a .difypkg package: it is not a zip file (`dify plugin package FOLDER` makes one)"
        )
    try:
        with zipfile.ZipFile(package) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise PackageError(f"{package} is a damaged zip file: {error}") from None
    if len(members) > MAX_ENTRIES:
        raise PackageError(f"{package} has {len(members)} entries, over the {MAX_ENTRIES} a plugin package may have")
    _check_names(package, members)
    total = sum(member.file_size for member in members)
    if total > MAX_PACKAGE_BYTES:
        limit = DAEMON_TOO_LARGE.format(limit=MAX_PACKAGE_BYTES)
        raise PackageError(f"{package} unpacks to {total} bytes; the daemon refuses it: {limit}")
    if not any(member.filename == "manifest.yaml" for member in members):
        raise PackageError(f"{package} has no manifest.yaml at its root: it is not a plugin package")
    return members


def _check_names(package: Path, members: list[zipfile.ZipInfo]) -> None:
    files: set[str] = set()
    folders: set[str] = set()
    for member in members:
        name = member.filename
        path = PurePosixPath(name)
        if not name or "\\" in name or "\0" in name or path.is_absolute() or ".." in path.parts:
            raise PackageError(f"{package}: refusing the entry {name!r}, which points outside the package")
        clean = "/".join(path.parts)
        parents = {"/".join(path.parts[:end]) for end in range(1, len(path.parts))}
        if member.is_dir():
            if clean in files:
                raise PackageError(f"{package}: the entry {name!r} is a folder and a file of the same name; refused")
            folders.add(clean)
        elif clean in files or clean in folders:
            kind = "twice" if clean in files else "as a file and as a folder"
            raise PackageError(f"{package}: the path {clean!r} is in the package {kind}; refused")
        else:
            files.add(clean)
        if clash := parents & files:
            raise PackageError(f"{package}: {sorted(clash)[0]!r} is a file, and {name!r} puts an entry inside it")
        folders |= parents
    if clash := folders & files:
        raise PackageError(f"{package}: the path {sorted(clash)[0]!r} is in the package as a file and a folder")


def _extract(package: Path, members: list[zipfile.ZipInfo], target: Path) -> None:
    budget = MAX_PACKAGE_BYTES
    try:
        with zipfile.ZipFile(package) as archive:
            for member in members:
                path = target.joinpath(*PurePosixPath(member.filename).parts)
                if member.is_dir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(path, "wb") as out:
                    while chunk := source.read(CHUNK):
                        budget -= len(chunk)
                        if budget < 0:
                            limit = DAEMON_TOO_LARGE.format(limit=MAX_PACKAGE_BYTES)
                            raise PackageError(f"{package} unpacks to more than its headers say; {limit}")
                        out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as error:
        raise PackageError(f"{package} is a damaged zip file: {error}") from None
    except OSError as error:
        raise PackageError(f"{package} cannot be unpacked: {error.strerror or error}") from None


def _sha256(package: Path) -> str:
    digest = hashlib.sha256()
    with open(package, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
