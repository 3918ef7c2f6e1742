import json
from collections.abc import Mapping

from dify_plugin import Endpoint
from werkzeug import Request, Response


class EchoEndpoint(Endpoint):
    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        body = r.get_data(as_text=True)
        self.session.storage.set("endpoint-last-body", body.encode())
        stored = self.session.storage.get("endpoint-last-body").decode()
        answer = {"name": values.get("name"), "method": r.method, "query": dict(r.args), "body": body, "stored": stored}
        return Response(json.dumps(answer), status=200, content_type="application/json")
