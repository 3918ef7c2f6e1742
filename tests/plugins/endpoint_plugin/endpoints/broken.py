from collections.abc import Generator, Mapping

from werkzeug import Request, Response

from dify_plugin import Endpoint


class Broken(Endpoint):
    """A streamed answer that fails after its first piece."""

    def _invoke(self, r: Request, values: Mapping, settings: Mapping) -> Response:
        def pieces() -> Generator[str, None, None]:
            yield "partial;"
            raise RuntimeError("the stream broke")

        return Response(pieces(), status=200, content_type="text/plain")
