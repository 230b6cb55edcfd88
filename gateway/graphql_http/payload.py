"""Reading a request's GraphQL parameters: a GET's query string or a POST's JSON body (one
operation, or a batch array), checked before anything runs. A request that cannot be read is
refused with the status the GraphQL-over-HTTP spec gives it (400, 413, 415)."""

from __future__ import annotations

from typing import Any

import orjson

from gateway import errors
from gateway.graphql_http.asgi import BodyTooLarge, HttpRequest
from gateway.graphql_http.media import JSON


class RequestRefused(Exception):
    """The request is answered with `error` and `status` before any operation runs."""

    def __init__(self, error: errors.GatewayError, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status
        self.headers = headers or {}


async def read_payload(request: HttpRequest, max_bytes: int) -> Any:
    """The request's parameters, decoded but not yet checked (an object, or a batch array)."""
    if request.method == "GET":
        if len(request.scope.get("query_string", b"")) > max_bytes:
            raise RequestRefused(_too_large(max_bytes), 413)
        raw: dict[str, Any] = dict(request.query_params)
        for key in ("variables", "extensions"):
            if key in raw:
                raw[key] = _decode(raw[key].encode(), key)
        return raw
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise RequestRefused(errors.BadUserInput(f"POST bodies must be {JSON}"), 415)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise RequestRefused(_too_large(max_bytes), 413)
    try:
        body = await request.body(max_bytes)
    except BodyTooLarge:
        raise RequestRefused(_too_large(max_bytes), 413) from None
    return _decode(body, "body")


def operation_params(raw: Any) -> dict[str, Any]:
    """One operation's parameters (`query`, `variables`, `operationName`, `extensions`), checked."""
    if not isinstance(raw, dict):
        raise RequestRefused(errors.BadUserInput("the request must be a JSON object with a 'query'"))
    for key in ("variables", "extensions"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise RequestRefused(errors.BadUserInput(f"'{key}' must be a JSON object", fields={key: "not an object"}))
    query = raw.get("query")
    persisted = query is None and "persistedQuery" in (raw.get("extensions") or {})
    if not persisted and (not isinstance(query, str) or not query.strip()):
        raise RequestRefused(errors.BadUserInput("the request has no 'query' string", fields={"query": "required"}))
    name = raw.get("operationName")
    if name is not None and not isinstance(name, str):
        raise RequestRefused(
            errors.BadUserInput("'operationName' must be a string", fields={"operationName": "not a string"})
        )
    return raw


def _too_large(max_bytes: int) -> errors.BadUserInput:
    return errors.BadUserInput(f"the request is larger than {max_bytes} bytes (server.max_query_bytes)")


def _decode(data: bytes, what: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise RequestRefused(errors.BadUserInput(f"the {what} is not valid JSON")) from None
