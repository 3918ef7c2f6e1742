"""`.difypkg` packages for `dify-mock run`, prepared as Dify's daemon installs one: the zip unpacked under the data
folder, its requirements installed with pip into a virtual environment. Environments are cached under
`<data dir>/venvs/`, keyed by a hash of requirements.txt and the Python version, so a package whose requirements
did not change starts at once. pip honours its usual variables (PIP_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX...).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
READY = ".dify-mock-ready"
QUIET_PIP_LINES = ("Processing ", "Requirement already satisfied", "Using cached", "Looking in ", "Obtaining ")
Say = Callable[[str], None]


class PackageError(ValueError):
    """The package cannot be run; the text says what is wrong, with pip's last output when pip failed."""


@dataclass(frozen=True)
class PreparedPackage:
    folder: Path
    python: str


def prepare_package(package: Path, data_dir: Path, python: str | None, say: Say) -> PreparedPackage:
    folder = unpack(package, data_dir / "packages", say)
    version = runner_version(folder)
    base = find_python(version, python)
    requirements = folder / "requirements.txt"
    wanted = requirements.read_bytes() if requirements.is_file() else b""
    venv = (data_dir / "venvs" / environment_key(wanted, version)).absolute()
    with _locked(venv.with_suffix(".lock")):
        if (venv / READY).is_file():
            say(f"using the cached environment {venv} (same requirements.txt)")
        else:
            build_environment(venv, base, requirements if requirements.is_file() else None, package.name, say)
    return PreparedPackage(folder, str(venv / "bin" / "python"))


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


def runner_version(folder: Path) -> str:
    """The Python version the manifest asks for (`meta.runner.version`), 3.12 when it says nothing usable."""
    try:
        manifest = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
        version = str(manifest["meta"]["runner"]["version"])
    except (yaml.YAMLError, OSError, KeyError, TypeError):
        return "3.12"
    parts = version.split(".")
    return version if len(parts) == 2 and all(part.isdigit() for part in parts) else "3.12"


def environment_key(requirements: bytes, version: str) -> str:
    return hashlib.sha256(version.encode() + b"\0" + requirements).hexdigest()[:16]


def find_python(version: str, preferred: str | None) -> str:
    """An interpreter of the wanted version: the one given, this one, or a `pythonX.Y` found in the usual places."""
    if preferred:
        if _version_of(preferred) != version:
            raise PackageError(f"--python {preferred} is not Python {version}, which the package's manifest asks for")
        return preferred
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return sys.executable
    name = f"python{version}"
    candidates = [
        shutil.which(name),
        *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/{name}"))),
        f"/usr/local/bin/{name}",
        f"/usr/bin/{name}",
    ]
    for candidate in candidates:
        if candidate and _version_of(candidate) == version:
            return candidate
    raise PackageError(f"no Python {version} found to install the package's requirements with: pass --python PATH")


def _version_of(python: str) -> str | None:
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def build_environment(venv: Path, base: str, requirements: Path | None, name: str, say: Say) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    started = time.monotonic()
    python = str(venv / "bin" / "python")
    # A recent pip can install into another environment, which spares seeding each new one with its own pip.
    outer_pip = _pip_installs_elsewhere(base)
    try:
        say(f"creating a Python environment for {name} in {venv}")
        seed = ["--without-pip"] if outer_pip else []
        _run([base, "-m", "venv", *seed, str(venv)], "creating the virtual environment", name, say)
        if requirements is not None:
            wanted = ", ".join(
                line.strip() for line in requirements.read_text(encoding="utf-8").splitlines() if line.strip()
            )
            say(f"installing the requirements of {name} with pip ({wanted or 'none'}); this can take a minute")
            pip = [base, "-m", "pip", "--python", python] if outer_pip else [python, "-m", "pip"]
            command = [*pip, "install", "--disable-pip-version-check", "-r", str(requirements)]
            _run(command, "installing the requirements", name, say)
        info = {"python": base, "requirements": str(requirements), "seconds": round(time.monotonic() - started, 1)}
        (venv / READY).write_text(json.dumps(info))
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    say(f"the environment for {name} is ready ({time.monotonic() - started:.0f} s)")


def _pip_installs_elsewhere(python: str) -> bool:
    """Whether `python -m pip` exists and knows `--python` (pip 22.3 and later)."""
    try:
        result = subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    parts = result.stdout.split()
    if result.returncode != 0 or len(parts) < 2:
        return False
    try:
        version = tuple(int(part) for part in parts[1].split(".")[:2])
    except ValueError:
        return False
    return version >= (22, 3)


def _run(command: list[str], what: str, name: str, say: Say) -> None:
    last: deque[str] = deque(maxlen=25)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip()
        if line:
            last.append(line)
            if not line.lstrip().startswith(QUIET_PIP_LINES):
                say(f"  {line}")
    code = process.wait()
    if code != 0:
        output = "\n".join(f"    {line}" for line in last) or "    (nothing)"
        raise PackageError(f"{what} of {name} failed ({command[2]} exited with {code}); its last output:\n{output}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process builds an environment at a time; the others wait, then find it ready."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
