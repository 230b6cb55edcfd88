"""An adversarial vendor: it answers any path of any vendor's API, badly, on purpose.

The gateway must survive each mode with a coded error for that backend's part only, within the
request's deadline, with the event loop free for other requests, and with no secret of its own
in what it says back:

- `loop`: a Comm100-shaped list whose `nextPage` points at the very same page, claiming more;
- `redirect`: HTTP 302 to another host (following it could take the credentials there);
- `huge`: a `size_bytes` JSON body (the gateway's `max_response_bytes` cuts it off);
- `drip`: a 200 whose body comes one byte every `drip_s` seconds, forever;
- `array`, `null`, `empty`, `not-json`: a top-level array, JSON null, an empty 200, HTML;
- `wrong-types`: records whose fields have the wrong JSON types (ids as objects, lists as text);
- `echo`: HTTP 400 whose message repeats every request header, credentials included.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

MODES = ("loop", "redirect", "huge", "drip", "array", "null", "empty", "not-json", "wrong-types", "echo")
# Values of every type a vendor field should not hold.
WRONG = [{"id": {"nested": True}}, {"id": ["a"], "name": 5}, {"id": True, "email": {"x": 1}}]


class EvilVendor:
    """An ASGI app misbehaving in one `mode`; `calls` counts what it was asked."""

    def __init__(self, mode: str, *, size_bytes: int = 8 * 1024 * 1024, drip_s: float = 0.2) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
        self.mode = mode
        self.size_bytes = size_bytes
        self.drip_s = drip_s
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.calls += 1
        if self.mode == "drip":
            await self._drip(receive, send)
            return
        handler = getattr(self, "_" + self.mode.replace("-", "_"))
        await handler(scope, send)

    @staticmethod
    async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *(headers or [])],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _loop(self, scope: Scope, send: Send) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        same_page = f"http://{_host(scope)}{scope['path']}" + (f"?{query}" if query else "")
        record = {"id": "6f1d4c1e-8a51-4a8e-9a36-0c0ffee10001", "name": "Forever", "contactIdentities": []}
        await self._send(send, 200, orjson.dumps({"contacts": [record], "nextPage": same_page, "total": 10**6}))

    async def _redirect(self, scope: Scope, send: Send) -> None:
        await self._send(send, 302, b"", [(b"location", b"http://elsewhere.invalid/steal")])

    async def _huge(self, scope: Scope, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        chunk = b'"' + b"x" * (64 * 1024 - 3) + b'",'
        await send({"type": "http.response.body", "body": b"[", "more_body": True})
        sent = 0
        while sent < self.size_bytes:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += len(chunk)
        await send({"type": "http.response.body", "body": b"0]"})

    async def _drip(self, receive: Receive, send: Send) -> None:
        """A byte at a time, until the client hangs up."""
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})

        async def hung_up() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        watcher = asyncio.ensure_future(hung_up())
        try:
            while not watcher.done():
                await send({"type": "http.response.body", "body": b" ", "more_body": True})
                await asyncio.wait([watcher], timeout=self.drip_s)
        finally:
            watcher.cancel()

    async def _array(self, scope: Scope, send: Send) -> None:
        await self._send(send, 200, orjson.dumps([{"id": "1"}]))

    async def _null(self, scope: Scope, send: Send) -> None:
        await self._send(send, 200, b"null")

    async def _empty(self, scope: Scope, send: Send) -> None:
        await self._send(send, 200, b"")

    async def _not_json(self, scope: Scope, send: Send) -> None:
        await self._send(send, 200, b"<html><body>502 Bad Gateway</body></html>")

    async def _wrong_types(self, scope: Scope, send: Send) -> None:
        body: dict[str, Any] = {"contacts": WRONG, "statusCode": "zero", "total": "many", "nextPage": 7}
        await self._send(send, 200, orjson.dumps(body if "contacts" in scope["path"] else WRONG[0]))

    async def _echo(self, scope: Scope, send: Send) -> None:
        said = "; ".join(f"{k.decode('latin-1')}: {v.decode('latin-1')}" for k, v in scope["headers"])
        query = scope.get("query_string", b"").decode("latin-1")
        await self._send(send, 400, orjson.dumps({"message": f"bad request {query} with headers {said}"}))


def _host(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"host":
            return str(value.decode("latin-1"))
    server = scope.get("server") or ("127.0.0.1", 80)
    return f"{server[0]}:{server[1]}"
