from collections.abc import Mapping
from typing import Any

from werkzeug import Request

from dify_plugin.entities import I18nObject, ParameterOption
from dify_plugin.entities.trigger import Variables
from dify_plugin.errors.trigger import EventIgnoreError
from dify_plugin.interfaces.trigger import Event


class IssueOpened(Event):
    def _on_event(self, request: Request, parameters: Mapping[str, Any], payload: Mapping[str, Any]) -> Variables:
        body = payload or request.get_json(silent=True) or {}
        wanted = parameters.get("label")
        if wanted and wanted not in body.get("labels", []):
            raise EventIgnoreError()
        return Variables(variables={"title": body.get("title", ""), "method": request.method, "path": request.path})

    def _fetch_parameter_options(self, parameter: str) -> list[ParameterOption]:
        return [ParameterOption(value=name, label=I18nObject(en_US=name.title())) for name in ("bug", "feature")]
