import os
import time
from collections.abc import Generator, Mapping

from werkzeug import Request, Response

from dify_plugin import Endpoint


class Stream(Endpoint):
    """Streams three events; the last waits until the file named by ?gate= exists (so a test can prove streaming)."""

    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        gate = r.args.get("gate")

        def events() -> Generator[str, None, None]:
            yield "data: one\n\n"
            yield "data: two\n\n"
            deadline = time.monotonic() + 20
            while gate and not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.02)
            yield "data: three\n\n"

        return Response(events(), status=200, content_type="text/event-stream")
