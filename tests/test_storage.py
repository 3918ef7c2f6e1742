"""session.storage through the real SDK: kept per plugin in SQLite, within the manifest's quota, across restarts."""

from __future__ import annotations

import signal

import pytest
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer, PluginError

PROVIDER = "platform_caller"


def storage(mock: MockServer, plugin_id: str, **parameters: str) -> dict:
    messages = mock.invoke_tool(plugin_id, PROVIDER, "storage", parameters)
    return messages[0]["message"]["json_object"]


def test_set_get_exist_delete(mock_server, platform_caller):
    pid = platform_caller.plugin_id
    assert storage(mock_server, pid, op="set", key="greeting", value="héllo")["stored"] == 6
    assert storage(mock_server, pid, op="get", key="greeting")["value"] == "héllo"
    assert storage(mock_server, pid, op="exist", key="greeting")["exists"] is True
    storage(mock_server, pid, op="delete", key="greeting")
    assert storage(mock_server, pid, op="exist", key="greeting")["exists"] is False
    with pytest.raises(PluginError) as missing:
        storage(mock_server, pid, op="get", key="greeting")
    assert "load data failed, please check if the key is correct or you have not set it" in missing.value.message


def test_a_value_over_the_quota_is_refused_and_nothing_is_stored(mock_server, platform_caller):
    pid = platform_caller.plugin_id
    storage(mock_server, pid, op="set", key="half", value="size:600000")
    with pytest.raises(PluginError) as refused:
        storage(mock_server, pid, op="set", key="more", value="size:600000")
    # the daemon's words first, then ours
    assert "save data failed: allocated size is greater than max storage size; storage quota exceeded" in (
        refused.value.message
    )
    assert "1048576" in refused.value.message
    assert storage(mock_server, pid, op="exist", key="more")["exists"] is False
    # replacing a key counts its new size, not both
    assert storage(mock_server, pid, op="set", key="half", value="size:1000000")["stored"] == 1000000


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_values_survive_a_restart_and_a_kill(tmp_path, sdk_python, stop):
    mock = MockServer(tmp_path / "data")
    with mock:
        plugin = mock.start_plugin(TEST_PLUGINS / "platform_caller", python=sdk_python)
        storage(mock, plugin.plugin_id, op="set", key="kept", value="across restarts")
        plugin.stop()
        assert mock.process is not None
        if stop == "sigkill":
            mock.process.send_signal(signal.SIGKILL)
            mock.process.wait(10)
            mock.process = None
        mock.stop()
        mock.start()
        plugin = mock.start_plugin(TEST_PLUGINS / "platform_caller", python=sdk_python)
        assert storage(mock, plugin.plugin_id, op="get", key="kept")["value"] == "across restarts"
