"""The mock's state, shared by every transport and API: settings, plugins, fixture rules, journal, storage."""

from __future__ import annotations

from dataclasses import dataclass, field

from dify_mock.answers.chain import AnswerChain
from dify_mock.answers.rules import RuleBook
from dify_mock.config.settings import Settings
from dify_mock.plugins.registry import Registry
from dify_mock.store.files import FileStore
from dify_mock.store.hooks import HookStore, add_config_hooks
from dify_mock.store.journal import Journal
from dify_mock.store.journal_sqlite import JournalStore
from dify_mock.store.plugin_storage import PluginStorage
from dify_mock.store.redaction import remember_secret


@dataclass(eq=False)
class Host:
    settings: Settings
    rules: RuleBook
    storage: PluginStorage
    files: FileStore
    hooks: HookStore
    registry: Registry = field(default_factory=Registry)
    journal: Journal = field(default_factory=Journal)
    chain: AnswerChain = field(init=False)  # who answers model calls: fixtures, replay, live backends, builtin

    def __post_init__(self) -> None:
        self.chain = AnswerChain.from_settings(self.settings)

    def close(self) -> None:
        self.storage.close()
        self.hooks.close()
        self.journal.close()


def build_host(settings: Settings, rules: RuleBook) -> Host:
    """Everything the mock keeps, with its files under the data folder."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for key in (settings.server_key, settings.inner_api_key, *settings.keys):
        remember_secret(key)
    return Host(
        settings=settings,
        rules=rules,
        storage=PluginStorage(settings.data_dir / "storage.sqlite3"),
        files=FileStore(settings.data_dir / "files", settings.files_base_url, settings.max_upload_bytes),
        hooks=add_config_hooks(HookStore(settings.data_dir / "endpoints.sqlite3"), settings.answers.endpoints),
        journal=Journal(JournalStore(settings.data_dir / "journal.sqlite3", settings.journal_max_entries)),
    )
