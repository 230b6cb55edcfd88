"""Answers in parts (`@defer`, `@stream`) over `multipart/mixed`, as Apollo Client and urql read
them; one merged JSON answer for a client that does not accept multipart."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.responses import StreamingResponse
from strawberry.http.streaming import MultipartTransport

from gateway.execution import Outcome
from gateway.graphql_http.asgi import Answer
from gateway.graphql_http.media import json_response
from gateway.incremental import merge_parts

MULTIPART = "multipart/mixed"


def accepts_multipart(accept: str | None) -> bool:
    """Whether the Accept header takes `multipart/mixed` (any deferSpec; not at q=0)."""
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() != MULTIPART:
            continue
        quality = next((p.partition("=")[2] for p in params if p.replace(" ", "").startswith("q=")), "1")
        try:
            if float(quality) > 0:
                return True
        except ValueError:
            continue
    return False


async def answer_in_parts(
    outcome: Outcome, accept: str | None, media: str, request_id: str
) -> Answer | StreamingResponse:
    """The first part at once and each later part as it is ready, or all of them merged."""
    assert outcome.later_parts is not None
    later_parts = outcome.later_parts
    if not accepts_multipart(accept):
        merged = merge_parts(outcome.body, [part async for part in later_parts])
        return json_response(merged, 200, media, request_id)

    async def parts() -> AsyncGenerator[Any, None]:
        yield outcome.body
        async for part in later_parts:
            yield part

    transport = MultipartTransport()
    return StreamingResponse(
        transport.stream(parts, lambda value: orjson.dumps(value).decode())(),
        headers={**transport.headers, "x-request-id": request_id, "cache-control": "no-cache"},
    )
