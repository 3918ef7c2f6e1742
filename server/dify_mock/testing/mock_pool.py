"""The mocks and plugin processes that a pytest session shares between its tests.

Starting a mock costs about half a second and a plugin about a second, so the `dify_mock` fixture does it once per
distinct configuration (fixture files, strict mode, extra flags) and once per plugin, then hands each test a
view of its own (see `DifyMock`): the rules it added and the journal entries after its start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dify_mock.testing.processes import PluginProcess
from dify_mock.testing.server import MockServer


@dataclass(frozen=True)
class MockConfig:
    """What a mock is started with; tests that ask for the same one share a mock."""

    fixtures: tuple[Path, ...] = ()
    strict: bool = False
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginKey:
    """What a plugin process is started with; tests that ask for the same one share a process."""

    path: Path
    python: str | None
    env: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, path: Path, python: str | None, env: Mapping[str, str] | None) -> PluginKey:
        return cls(Path(path).resolve(), python, tuple(sorted((env or {}).items())))


@dataclass
class SharedMock:
    """One mock server and the plugin processes started against it, kept for the rest of the session."""

    server: MockServer
    plugins: dict[PluginKey, PluginProcess] = field(default_factory=dict)

    def plugin(self, path: Path, python: str | None, env: Mapping[str, str] | None, timeout: float) -> PluginProcess:
        """The running process for this plugin, started (again, if it has exited) when there is none."""
        key = PluginKey.of(path, python, env)
        process = self.plugins.get(key)
        if process is not None and process.alive():
            return process
        if process is not None:
            process.stop()
            self.server.wait_for_plugin(process.plugin_id, present=False, timeout=timeout)
        process = self.server.start_plugin(key.path, python=python, env=env, timeout=timeout)
        self.plugins[key] = process
        return process

    def stop(self) -> None:
        self.server.stop()
        self.plugins.clear()


class MockPool:
    """Mocks by configuration, each started on first use under `data_root` and stopped by `close()`."""

    def __init__(self, data_root: Path) -> None:
        self.data_root = data_root
        self.mocks: dict[MockConfig, SharedMock] = {}

    def get(self, config: MockConfig) -> SharedMock:
        shared = self.mocks.get(config)
        if shared is not None and shared.server.running:
            return shared
        if shared is not None:
            shared.stop()
        shared = SharedMock(start_mock(self.data_root / f"mock-{len(self.mocks) + 1}", config))
        self.mocks[config] = shared
        return shared

    def close(self) -> None:
        for shared in self.mocks.values():
            shared.stop()
        self.mocks.clear()


def start_mock(data_dir: Path, config: MockConfig) -> MockServer:
    server = MockServer(data_dir, fixtures=config.fixtures, strict=config.strict, extra_args=config.args)
    return server.start()


def mock_config(fixtures: Sequence[Path], strict: bool, args: Sequence[str]) -> MockConfig:
    return MockConfig(tuple(Path(f).resolve() for f in fixtures), strict, tuple(args))
