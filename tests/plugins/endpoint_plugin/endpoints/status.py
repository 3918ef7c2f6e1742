from collections.abc import Mapping

from werkzeug import Request, Response

from dify_plugin import Endpoint


class Status(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        return Response(f"status {values['code']}", status=values["code"], headers={"X-Probe": "yes", "Set-Cookie": "a=1"})
