"""Loaded by the plugin's own Python under `dify-mock check` (this folder is on its PYTHONPATH), never by dify-mock.

SDKs before 0.10.2 send an error without its traceback. This hook wraps `_execute_request` of the SDK's `IOServer`
subclasses as they are made, and appends the traceback of whatever escapes it to the file `DIFYMOCK_CHECK_TRACEBACKS` names,
one JSON line each, before the SDK turns it into an error; the check reads it to name the plugin's file and line.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

TARGET = "dify_plugin.core.server.io_server"


def _record(path: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps({"traceback": traceback.format_exc()}) + "\n")
    except OSError:
        pass


def _recording(method: Callable[..., Any], path: str) -> Callable[..., Any]:
    def execute(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception:
            _record(path)
            raise

    return execute


def _wrap(module: ModuleType, path: str) -> None:
    """`_execute_request` is abstract on IOServer: wrap it on each subclass (the SDK's Plugin) as it is made."""
    server = getattr(module, "IOServer", None)
    if server is None:
        return

    def init_subclass(cls: type, /, **kwargs: Any) -> None:
        method = cls.__dict__.get("_execute_request")
        if callable(method):
            cls._execute_request = _recording(method, path)  # type: ignore[attr-defined]

    server.__init_subclass__ = classmethod(init_subclass)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, path: str) -> None:
        self.path = path

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            with contextlib.suppress(Exception):
                _wrap(module, self.path)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get("DIFYMOCK_CHECK_TRACEBACKS"):
    sys.meta_path.insert(0, _Finder(os.environ["DIFYMOCK_CHECK_TRACEBACKS"]))
