"""Every entry point a plugin declares, called through the mock's dispatch API with the request Dify's API builds.

Entry points run in order and share their provider's state: a credential validation's returned credentials are
merged in, as Dify stores them, before the provider's tools or models run; a trigger's webhook dispatch decides
which events run. Each outcome is judged by `verdicts.py`. Models and triggers have modules of their own
(`models.py`, `triggers.py`); tools, agent strategies, endpoints and datasources are here.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from dify_mock.check.credentials import fields, oauth_credentials, oauth_only, tool_credentials
from dify_mock.check.findings import DEFECT, Finding, Reason, Status
from dify_mock.check.inputs import Inputs
from dify_mock.check.network import RefusingProxy
from dify_mock.check.parameters import SAMPLE_TEXT, parameters_for, value_for
from dify_mock.check.verdicts import Context, entry, hung, judge_answer, judge_error, not_reached
from dify_mock.testing import MockServer, PluginError

Chunks = list[dict[str, Any]]
Call = Callable[[], Chunks]


SELECTORS = ("app-selector", "model-selector", "tools-selector", "array[tools]")


class NotReached(Exception):
    """Dify would not make this call, given what the entry points before it answered."""


@dataclass
class Provider:
    """One provider's credentials, as Dify stores them after its form (or OAuth) and its validation."""

    key: str  # "tool google", "model openai"...
    credentials: dict[str, Any] = field(default_factory=dict)
    credential_type: str = "api-key"
    oauth_only: bool = False
    unvalidated: Reason | None = None  # why its validation was not exercised, if it was not
    # A model provider's validation returns credentials that Dify stores with the form's: without them, calls get
    # credentials Dify never has. A tool's returns none: what it stores is the form as entered.
    validation_returns_credentials: bool = False

    @property
    def refused(self) -> bool:
        """Its validation refused the made-up credentials."""
        return self.unvalidated is Reason.CREDENTIALS


@dataclass(frozen=True)
class EntryPoint:
    name: str  # "tool google/search", "model openai llm gpt-4o", ...
    call: Call
    provider: Provider | None = None
    validates_credentials: bool = False
    answered: Callable[[Chunks], None] | None = None  # what a normal answer sets up for the entry points after it


@dataclass(frozen=True)
class Session:
    """What the builders share: the mock, the plugin, the user's --inputs and a maker of files."""

    mock: MockServer
    plugin_id: str
    inputs: Inputs

    def dispatch(self, route: str, data: dict[str, Any]) -> Chunks:
        return self.mock.dispatch(route, self.plugin_id, data)

    def file(self, name: str) -> dict[str, Any]:
        """A small file stored on the mock, as Dify's form uploads one for a `file` parameter."""
        content = f"A file for the {name} parameter: {SAMPLE_TEXT}\n".encode()
        response = self.mock.http.post("/mock/files", files={"file": (f"{name}.txt", content, "text/plain")})
        response.raise_for_status()
        file: dict[str, Any] = response.json()["file"]
        return file

    def parameters(self, entry_name: str, declared: list[Mapping[str, Any]]) -> dict[str, Any]:
        return parameters_for(declared, self.file, self.inputs.parameters(entry_name))


class Tracebacks:
    """The file the plugin's `plugin_site/sitecustomize.py` appends tracebacks to, for SDKs that send none."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def environment(self) -> dict[str, str]:
        site = str(Path(__file__).with_name("plugin_site"))
        return {"PYTHONPATH": site, "DIFYMOCK_CHECK_TRACEBACKS": str(self.path)}

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.is_file() else 0

    def since(self, mark: int) -> str | None:
        """The last traceback written after `mark`."""
        if not self.path.is_file():
            return None
        with self.path.open("rb") as file:
            file.seek(mark)
            lines = file.read().decode("utf-8", "replace").splitlines()
        for line in reversed(lines):
            with contextlib.suppress(ValueError, TypeError, KeyError):
                return str(json.loads(line)["traceback"])
        return None


def invoke(point: EntryPoint, proxy: RefusingProxy, root: Path, tracebacks: Tracebacks | None = None) -> Finding:
    started = time.monotonic()
    mark = tracebacks.mark() if tracebacks is not None else 0

    def context() -> Context:
        provider = point.provider
        return Context(
            name=point.name,
            root=root,
            seconds=time.monotonic() - started,
            hosts=proxy.hosts_since(started),
            validates_credentials=point.validates_credentials,
            oauth_only=provider is not None and provider.oauth_only,
            credentials_refused=provider is not None and provider.refused,
            credentials_unvalidated=(
                provider.unvalidated if provider is not None and provider.validation_returns_credentials else None
            ),
        )

    try:
        chunks = point.call()
    except NotReached as why:
        return not_reached(point.name, str(why))
    except PluginError as error:
        written = tracebacks.since(mark) if tracebacks is not None and not error.traceback else None
        finding = judge_error(context(), error.error_type, error.message, error.traceback or written)
    except httpx.TimeoutException:
        finding = hung(context())
    except httpx.HTTPStatusError as error:
        message = f"{DEFECT}: the mock answered HTTP {error.response.status_code}: {error.response.text[:300]}"
        finding = entry(context(), Status.FAIL, message)
    except httpx.HTTPError as error:
        finding = entry(context(), Status.FAIL, f"{DEFECT}: the mock could not be reached: {error}")
    except Exception as error:  # the check's own request building broke: ours to fix, not the plugin's
        finding = entry(context(), Status.FAIL, f"{DEFECT}: the check broke: {type(error).__name__}: {error}")
    else:
        finding = judge_answer(context(), chunks)
        if finding.status is Status.PASS and point.answered is not None:
            point.answered(chunks)
    if point.validates_credentials and point.provider is not None and finding.status is Status.SKIP:
        point.provider.unvalidated = finding.reason
    return finding


def merge_credentials(provider: Provider) -> Callable[[Chunks], None]:
    """`PluginModelClient.validate_provider_credentials` (api/core/plugin/impl/model.py): the credentials a
    validation returns update the ones Dify stores."""

    def merge(chunks: Chunks) -> None:
        for chunk in chunks:
            returned = chunk.get("credentials") if isinstance(chunk, dict) else None
            if isinstance(returned, dict) and returned:
                provider.credentials.update(returned)

    return merge


# -- tools and agent strategies


def tool_provider(session: Session, declaration: Mapping[str, Any], key: str) -> Provider:
    """Stored credentials of a tool-like provider: `BuiltinToolManageService.add_builtin_tool_provider`'s form
    (`credentials_schema:`, which the daemon prefers, or `credentials_for_provider:`) or, with OAuth only,
    what `BuiltinToolManageService.oauth_callback`-style storage keeps with credential type `oauth2`."""
    given = session.inputs.credentials(key)
    if oauth_only(declaration):
        tokens = oauth_credentials(declaration.get("oauth_schema"), given)
        return Provider(key, tokens, credential_type="oauth2", oauth_only=True)
    form = declaration.get("credentials_schema") or declaration.get("credentials_for_provider")
    return Provider(key, tool_credentials(form, given))


def validation(session: Session, route: str, name: str, provider: Provider) -> EntryPoint:
    """`PluginToolManager.validate_provider_credentials` and its datasource and trigger twins: the form's
    credentials, sent when the user saves them."""

    def call() -> Chunks:
        return session.dispatch(route, {"provider": name, "credentials": dict(provider.credentials)})

    return EntryPoint(f"{provider.key} credentials", call, provider, True, merge_credentials(provider))


def tools(session: Session, declaration: Mapping[str, Any]) -> Iterator[EntryPoint]:
    """`ToolManager.get_workflow_tool_runtime` then `PluginToolManager.invoke` (api/core/plugin/impl/tool.py):
    each parameter through `init_frontend_parameter`, the provider's stored credentials and credential type."""
    name = str(declaration["identity"]["name"])
    provider = tool_provider(session, declaration, f"tool {name}")
    if not provider.oauth_only and (
        declaration.get("credentials_schema") or declaration.get("credentials_for_provider")
    ):
        yield validation(session, "tool/validate_credentials", name, provider)
    for tool in declaration.get("tools") or []:
        tool_name = str(tool["identity"]["name"])
        entry_name = f"tool {name}/{tool_name}"

        def call(tool: Mapping[str, Any] = tool, entry_name: str = entry_name, tool_name: str = tool_name) -> Chunks:
            parameters = session.parameters(entry_name, tool.get("parameters") or [])
            return session.mock.invoke_tool(
                session.plugin_id, name, tool_name, parameters, provider.credentials,
                credential_type=provider.credential_type,
            )  # fmt: skip

        yield EntryPoint(entry_name, call, provider)


def agent_strategies(session: Session, declaration: Mapping[str, Any]) -> Iterator[EntryPoint]:
    """`AgentNode._generate_agent_parameters` then `PluginAgentClient.invoke` (api/core/plugin/impl/agent.py)."""
    name = str(declaration["identity"]["name"])
    for strategy in declaration.get("strategies") or []:
        strategy_name = str(strategy["identity"]["name"])
        entry_name = f"agent strategy {name}/{strategy_name}"

        def call(
            strategy: Mapping[str, Any] = strategy, entry_name: str = entry_name, chosen: str = strategy_name
        ) -> Chunks:
            parameters = session.parameters(entry_name, strategy.get("parameters") or [])
            return session.mock.invoke_agent_strategy(session.plugin_id, name, chosen, parameters)

        yield EntryPoint(entry_name, call)


# -- endpoints and datasources


def endpoints(session: Session, declaration: Mapping[str, Any]) -> Iterator[EntryPoint]:
    """`EndpointService.create_endpoint` with the settings form filled in, then a request to each path, as a
    caller of the endpoint's URL makes it."""
    mock = session.mock
    form = declaration.get("settings")
    settings: dict[str, Any] = tool_credentials(form, session.inputs.credentials("endpoint"))
    for setting in fields(form):  # selectors are objects, as the endpoint form's pickers send them
        name = str(setting.get("name"))
        if str(setting.get("type")) in SELECTORS and name in settings:
            settings[name] = value_for(setting, session.file)
    hook: dict[str, str] = {}

    def hook_id() -> str:
        if not hook:
            body = {"plugin_unique_identifier": session.plugin_id, "name": "dify-mock-check", "settings": settings}
            answer = mock.http.post(f"/plugin/{mock.tenant}/endpoint/setup", json=body).raise_for_status().json()
            if answer.get("code", 0) != 0:
                raise NotReached(
                    f"the endpoint was not set up with its settings form filled in: {answer.get('message')}"
                )
            listed = mock.http.get(
                f"/plugin/{mock.tenant}/endpoint/list/plugin", params={"plugin_id": session.plugin_id}
            )
            entries = listed.raise_for_status().json().get("data") or []
            if not entries:
                raise NotReached("the endpoint was set up but is not listed")
            hook["id"] = str(entries[-1]["hook_id"])
        return hook["id"]

    for endpoint in declaration.get("endpoints") or []:
        method, path = str(endpoint.get("method", "GET")).upper(), str(endpoint.get("path", "/"))
        entry_name = f"endpoint {method} {path}"

        def call(method: str = method, path: str = path, entry_name: str = entry_name) -> Chunks:
            concrete = re.sub(r"<int:[^>]+>", "200", path)
            concrete = re.sub(r"\{[^}]+\}|<[^>]+>", "dify-mock", concrete)
            given = session.inputs.parameters(entry_name)
            body = given if given is not None else {"query": SAMPLE_TEXT}
            json_body = body if method in ("POST", "PUT", "PATCH") else None
            response = mock.http.request(method, f"/e/{hook_id()}{concrete}", json=json_body)
            text = response.text[:300] if response.status_code >= 400 else ""
            return [{"type": "http", "status": response.status_code, "bytes": len(response.content), "text": text}]

        yield EntryPoint(entry_name, call)


DATASOURCE_ROUTES = {  # provider_type -> the first call Dify makes when a user browses it
    "website_crawl": "datasource/get_website_crawl",
    "online_document": "datasource/get_online_document_pages",
    "online_drive": "datasource/online_drive_browse_files",
}


def datasources(session: Session, declaration: Mapping[str, Any]) -> Iterator[EntryPoint]:
    """`DatasourceProviderService.add_datasource_api_key_provider` (validation of the form), then
    `PluginDatasourceManager.get_website_crawl` / `get_online_document_pages` / `online_drive_browse_files`
    (api/core/plugin/impl/datasource.py) with the stored credentials."""
    name = str(declaration["identity"]["name"])
    provider = tool_provider(session, declaration, f"datasource {name}")
    if not provider.oauth_only and declaration.get("credentials_schema"):
        yield validation(session, "datasource/validate_credentials", name, provider)
    route = DATASOURCE_ROUTES.get(str(declaration.get("provider_type")))
    if route is None:
        return  # local_file: Dify reads the upload itself
    for datasource in declaration.get("datasources") or []:
        datasource_name = str(datasource["identity"]["name"])
        entry_name = f"datasource {name}/{datasource_name}"

        def call(datasource: Mapping[str, Any] = datasource, entry_name: str = entry_name) -> Chunks:
            chosen = str(datasource["identity"]["name"])
            data: dict[str, Any] = {"provider": name, "datasource": chosen, "credentials": dict(provider.credentials)}
            data["credential_type"] = provider.credential_type
            if route == "datasource/online_drive_browse_files":
                data["request"] = {"prefix": None, "bucket": None, "max_keys": 20, "next_page_parameters": None}
            else:
                data["datasource_parameters"] = session.parameters(entry_name, datasource.get("parameters") or [])
            return session.dispatch(route, data)

        yield EntryPoint(entry_name, call, provider)
