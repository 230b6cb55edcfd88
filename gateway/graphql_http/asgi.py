"""The request and the answer of `/graphql` as plain ASGI, without Starlette's Request and Response:
the headers are decoded once, the body is read with its size cap, and an answer goes out as its two
messages with its headers already encoded. GraphiQL's page and multipart answers stay Starlette
responses; every answer here is an ASGI app, so the endpoint sends both the same way.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send


class ClientGone(Exception):
    """The client disconnected before its request's body arrived: there is no one to answer."""


class BodyTooLarge(Exception):
    """The body is longer than allowed; reading stopped there."""


class HttpRequest:
    """What the endpoint reads of a request: method, headers (names lower-case, the first of a
    repeated header wins, as Starlette's `Headers.get`), query parameters (the last of a repeated
    one wins, as `dict(request.query_params)`) and the body."""

    __slots__ = ("_query", "headers", "method", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        # ASGI servers give header names in lower case; reversed, so the first occurrence wins.
        self.headers: dict[str, str] = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])
        }
        self._query: dict[str, str] | None = None

    @property
    def query_params(self) -> dict[str, str]:
        if self._query is None:
            query_string = self.scope.get("query_string", b"").decode("latin-1")
            self._query = dict(parse_qsl(query_string, keep_blank_values=True))
        return self._query

    async def body(self, max_bytes: int) -> bytes:
        """The whole body; BodyTooLarge as soon as it passes `max_bytes` (the rest is not read),
        ClientGone when the client left first."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                raise BodyTooLarge
            if not message.get("more_body", False):
                if not chunks:
                    return chunk  # the usual case: the whole body in one message
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)


class Answer:
    """A whole answer: status, encoded headers (content-length is added here, to the list given)
    and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self.status = status
        self.body = body
        # Starlette's rule: no content-length on a 1xx, 204 or 304 answer.
        if status >= 200 and status not in (204, 304):
            headers.append((b"content-length", b"%d" % len(body)))
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def encoded_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


# What Starlette's ServerErrorMiddleware answers when nothing was sent yet: never a traceback.
INTERNAL_ERROR = Answer(500, [(b"content-type", b"text/plain; charset=utf-8")], b"Internal Server Error")
