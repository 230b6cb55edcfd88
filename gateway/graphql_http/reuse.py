"""Answering a clean read again without running it: the response cache and the ETag.

A stored answer is reused while every backend it read is at the same generation (see
`gateway.response_cache`). Over GET a reusable answer carries its ETag; a client sending it back
in If-None-Match gets 304 Not Modified with no body.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from gateway.execution import Outcome
from gateway.graphql_http.asgi import Answer, HttpRequest, encoded_headers
from gateway.graphql_http.media import json_response
from gateway.response_cache import Slot, etag_of
from gateway.runtime import Gateway


class ResponseReuse:
    """The response cache as the endpoint uses it: find a stored answer, store a clean one."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def look_up(self, params: dict[str, Any], scope: frozenset[str] | None, cacheable: bool) -> Slot | None:
        """This read's place in the response cache (with the answer stored there, if current), or
        None when it may not be reused."""
        responses = self.gateway.responses
        if not responses.enabled or not cacheable:
            return None
        started = time.perf_counter()
        slot = await responses.look_up(scope, params["query"], params.get("operationName"), params.get("variables"))
        if slot is None:
            return None
        self.gateway.metrics.response_cache_event("hit" if slot.found is not None else "miss")
        if slot.found is not None:
            self.gateway.metrics.observe_request(params.get("operationName"), "ok", time.perf_counter() - started)
        return slot

    async def store(
        self, slot: Slot | None, cacheable: bool, outcome: Outcome, request: HttpRequest, media: str, request_id: str
    ) -> Answer | None:
        """The answer to a clean read (stored in `slot` when given), or None when it is not one."""
        if not (cacheable and outcome.clean):
            return None
        body = orjson.dumps(outcome.body)
        etag = etag_of(body)
        if slot is not None:
            await self.gateway.responses.put(slot, body, etag)
            self.gateway.metrics.response_cache_event("store")
        return with_etag(body, etag, request, media, request_id)


def with_etag(body: bytes, etag: str, request: HttpRequest, media: str, request_id: str) -> Answer:
    """A clean read's answer; over GET with its ETag, and 304 when the client holds it already."""
    if request.method != "GET":
        return json_response(body, 200, media, request_id)
    headers = {"etag": etag, "cache-control": "private, no-cache"}
    held = request.headers.get("if-none-match", "")
    if any(tag.strip().removeprefix("W/") in (etag, "*") for tag in held.split(",")):
        return Answer(304, [(b"x-request-id", request_id.encode("latin-1")), *encoded_headers(headers)])
    return json_response(body, 200, media, request_id, headers)
