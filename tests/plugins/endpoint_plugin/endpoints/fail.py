from collections.abc import Mapping

from werkzeug import Request, Response

from dify_plugin import Endpoint


class Fail(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        raise RuntimeError("asked to fail")
