"""A plugin's Python environment, made as Dify's daemon makes it, and cached by what it was made from.

The daemon looks for `pyproject.toml` first and runs `uv sync --no-dev` (`--frozen` when there is a `uv.lock`);
without one it installs `requirements.txt`. Here the same files pick the same installer: uv for a pyproject, pip for
requirements.txt (pip honours its usual variables: PIP_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX...). Environments
live under one folder, keyed by a hash of the dependency files and the Python version, so a plugin whose
dependencies did not change reuses its environment at once, and plugins with the same dependencies share one. The
plugin's folder is never written to.
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
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from dify_mock.config.settings import DEFAULT_CACHE_DIR

__all__ = ["DEFAULT_CACHE_DIR"]  # `dify-mock check` caches venvs/ and packages/ under it
READY = ".dify-mock-ready"
QUIET_LINES = ("Processing ", "Requirement already satisfied", "Using cached", "Looking in ", "Obtaining ")
DAEMON_PYTHON = "3.12"  # the daemon runs `uv venv --python 3.12` whatever the manifest's meta.runner.version says
INSTALL_TIMEOUT = 600.0  # the daemon's own limit: 10 minutes
Say = Callable[[str], None]


class PluginEnvironmentError(ValueError):
    """The environment cannot be made; the text says why, with the installer's last output when it failed."""


def dependency_files(folder: Path) -> list[Path]:
    """The files the daemon installs from, in the order it looks for them: [] when there are none."""
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        lock = folder / "uv.lock"
        return [pyproject, lock] if lock.is_file() else [pyproject]
    requirements = folder / "requirements.txt"
    return [requirements] if requirements.is_file() else []


def environment_key(files: list[Path], version: str) -> str:
    digest = hashlib.sha256(version.encode())
    for path in files:
        digest.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def prepare_environment(folder: Path, venvs: Path, python: str | None, say: Say, *, name: str | None = None) -> str:
    """The Python of an environment with the folder's dependencies installed, made once per set of files."""
    name = name or folder.name
    version = DAEMON_PYTHON
    base = find_python(version, python)
    files = dependency_files(folder)
    venv = (venvs / environment_key(files, version)).absolute()
    with _locked(venv.with_suffix(".lock")):
        if (venv / READY).is_file():
            say(f"using the cached environment {venv} (same {', '.join(path.name for path in files) or 'no'} files)")
        else:
            build_environment(venv, base, files, name, say)
    return str(venv / "bin" / "python")


def find_python(version: str, preferred: str | None) -> str:
    """An interpreter of the wanted version: the one given, this one, or a `pythonX.Y` found in the usual places."""
    if preferred:
        if _version_of(preferred) != version:
            raise PluginEnvironmentError(
                f"--python {preferred} is not Python {version}, which Dify's daemon runs plugins with"
            )
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
    raise PluginEnvironmentError(
        f"no Python {version} found to install the plugin's dependencies with: pass --python PATH"
    )


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


def build_environment(venv: Path, base: str, files: list[Path], name: str, say: Say) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    started = time.monotonic()
    try:
        if files and files[0].name == "pyproject.toml":
            _uv_sync(venv, base, files, name, say)
        else:
            _pip_install(venv, base, files[0] if files else None, name, say)
        info = {"python": base, "files": [str(path) for path in files], "seconds": round(time.monotonic() - started, 1)}
        (venv / READY).write_text(json.dumps(info))
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    say(f"the environment for {name} is ready ({time.monotonic() - started:.0f} s)")


def _uv_sync(venv: Path, base: str, files: list[Path], name: str, say: Say) -> None:
    """`uv sync --no-dev --frozen` against the lock; without one, `uv pip install -r pyproject.toml`, which resolves
    the same dependencies without writing a new uv.lock into the plugin's folder. Both compile the bytecode, as pip
    does by default: a plugin's start then skips compiling its libraries (dify_plugin alone takes 1.6 s)."""
    from uv import find_uv_bin

    uv = find_uv_bin()
    say(f"creating a Python environment for {name} in {venv}")
    _run([uv, "venv", "--quiet", "--python", base, str(venv)], "creating the virtual environment", name, say)
    if len(files) > 1:
        say(f"installing the dependencies of {name} with uv sync --no-dev --frozen; this can take a minute")
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "VIRTUAL_ENV": str(venv)}
        command = [
            uv,
            "sync",
            "--no-dev",
            "--frozen",
            "--no-install-project",
            "--compile-bytecode",
            "--project",
            str(files[0].parent.resolve()),
        ]
        _run(command, "installing the dependencies", name, say, env=env, cwd=venv)
    else:
        say(f"installing the dependencies of {name} from pyproject.toml with uv; this can take a minute")
        python = str(venv / "bin" / "python")
        command = [uv, "pip", "install", "--compile-bytecode", "--python", python, "-r", str(files[0].resolve())]
        _run(command, "installing the dependencies", name, say, cwd=venv)


def _pip_install(venv: Path, base: str, requirements: Path | None, name: str, say: Say) -> None:
    python = str(venv / "bin" / "python")
    # A recent pip can install into another environment, which spares seeding each new one with its own pip.
    outer_pip = _pip_installs_elsewhere(base)
    say(f"creating a Python environment for {name} in {venv}")
    seed = ["--without-pip"] if outer_pip else []
    _run([base, "-m", "venv", *seed, str(venv)], "creating the virtual environment", name, say)
    if requirements is None:
        return
    wanted = ", ".join(line.strip() for line in requirements.read_text(encoding="utf-8").splitlines() if line.strip())
    say(f"installing the requirements of {name} with pip ({wanted or 'none'}); this can take a minute")
    pip = [base, "-m", "pip", "--python", python] if outer_pip else [python, "-m", "pip"]
    _run(
        [*pip, "install", "--disable-pip-version-check", "-r", str(requirements)],
        "installing the requirements",
        name,
        say,
    )


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


def _run(
    command: list[str], what: str, name: str, say: Say, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    last: deque[str] = deque(maxlen=25)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", env=env, cwd=cwd
    )
    assert process.stdout is not None
    deadline = time.monotonic() + INSTALL_TIMEOUT
    for line in process.stdout:
        line = line.rstrip()
        if line:
            last.append(line)
            if not line.lstrip().startswith(QUIET_LINES):
                say(f"  {line}")
        if time.monotonic() > deadline:
            process.kill()
            break
    code = process.wait()
    if code != 0:
        tool = Path(command[0]).name if command[1] != "-m" else command[2]
        output = "\n".join(f"    {line}" for line in last) or "    (nothing)"
        raise PluginEnvironmentError(f"{what} of {name} failed ({tool} exited with {code}); its last output:\n{output}")


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
