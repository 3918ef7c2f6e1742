"""Starts and stops what the settings ask to run beside the listeners: the plugin processes of `dify-mock run` and
the serverless plugins of `--serverless`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from dify_mock.config.settings import Settings
from dify_mock.host import Host
from dify_mock.plugins.registry import PluginRuntime

if TYPE_CHECKING:
    import httpx

    from dify_mock.runtimes.supervisor import PluginSupervisor

log = logging.getLogger("dify_mock.runtimes")


class StartedPlugins:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.supervisors: list[PluginSupervisor] = []
        self.serverless: list[PluginRuntime] = []
        self.client: httpx.AsyncClient | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        settings = self.host.settings
        if not settings.launches and not settings.serverless_plugins:
            return
        # Imported here: most runs start no plugin, and these modules weigh on the time to ready.
        import httpx

        from dify_mock.plugins.folder import DeclarationError, load_plugin_folder
        from dify_mock.runtimes.serverless import ServerlessError, check_health, serverless_runtime
        from dify_mock.runtimes.supervisor import PluginSupervisor

        for launch in settings.launches:
            try:
                folder = load_plugin_folder(launch.folder)
            except DeclarationError as error:
                log.error("cannot run %s: %s", launch.source or launch.folder, error)
                continue
            supervisor = PluginSupervisor(self.host, launch, folder)
            supervisor.start()
            self.supervisors.append(supervisor)
        if settings.serverless_plugins:
            self.client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0))
            for plugin in settings.serverless_plugins:
                try:
                    runtime = serverless_runtime(self.host, plugin, self.client)
                except (DeclarationError, ServerlessError) as error:
                    log.error("cannot register serverless plugin %s: %s", plugin.plugin_id, error)
                    continue
                self.host.registry.register(runtime)
                self.serverless.append(runtime)
                log.info(
                    "serverless plugin %s registered for tenant %s at %s%s",
                    plugin.plugin_id,
                    runtime.tenant_id,
                    plugin.url,
                    f", declarations from {plugin.folder}" if plugin.folder else " (no folder: declares nothing)",
                )
                self.tasks.append(asyncio.create_task(check_health(plugin, self.client)))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*(supervisor.stop() for supervisor in self.supervisors))
        for runtime in self.serverless:
            self.host.registry.unregister(runtime, "dify-mock is stopping")
            runtime.connection.close("dify-mock is stopping")
        if self.client is not None:
            await self.client.aclose()


def describe_started(settings: Settings) -> list[str]:
    """Banner lines: the plugins started beside the mock, and where a daemon or a serverless plugin finds it."""
    address = f"http://{settings.connect_host}:{settings.port}"
    lines = []
    for launch in settings.launches:
        how = "a child process over stdin/stdout" if launch.runtime == "local" else "remote debugging over TCP"
        lines.append(f"Running {launch.source or launch.folder} with the {launch.runtime} runtime ({how}).")
    for plugin in settings.serverless_plugins:
        lines.append(
            f"Serverless plugin {plugin.plugin_id} at {plugin.url}: start it with DIFY_PLUGIN_DAEMON_URL={address}."
        )
    if settings.inner_api_key or settings.host in ("127.0.0.1", "localhost", "::1"):
        key = "the --inner-api-key" if settings.inner_api_key else "any key"
        lines.append(f"Inner API for a dify-plugin-daemon: DIFY_INNER_API_URL={address}, DIFY_INNER_API_KEY={key}.")
    else:
        lines.append(f"Inner API: shut on {settings.host} until --inner-api-key is set.")
    return lines
