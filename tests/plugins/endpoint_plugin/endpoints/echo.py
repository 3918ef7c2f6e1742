import json
from collections.abc import Mapping

from werkzeug import Request, Response

from dify_plugin import Endpoint


class Echo(Endpoint):
    """Answers with everything it was given: the request as the plugin sees it, the path values, the settings."""

    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        seen = {
            "method": r.method,
            "path": r.path,
            "query": {key: r.args.getlist(key) for key in r.args},
            "headers": dict(r.headers.items()),
            "body": r.get_data(as_text=True),
            "values": dict(values),
            "settings": dict(settings),
            "endpoint_id": self.session.endpoint_id,
        }
        return Response(json.dumps(seen), status=200, content_type="application/json", headers={"X-Echo": "yes"})
