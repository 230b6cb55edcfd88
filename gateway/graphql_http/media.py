"""Which media type answers a request (its Accept header), and the status a GraphQL answer gets.

`application/graphql-response+json` when the client names it: then a request that failed before
execution (parse, validation, variables) is 400. `application/json` otherwise: then every
well-formed request is 200. No Accept, `*/*` and `application/*` get `application/json`, as the
GraphQL-over-HTTP spec says (Apollo Client 3 sends `*/*`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from gateway.execution import Outcome
from gateway.graphql_http.asgi import Answer, HttpRequest, encoded_headers

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


# Clients send the same few Accept headers again and again; longer ones are worked out each time
# (the memo must not hold whatever a client chooses to send).
MEMO_ACCEPT_CHARS = 256


def choose_media_type(accept: str | None) -> str | None:
    """The response media type for this Accept header, or None when we can offer none of it."""
    if not accept or not accept.strip():
        return JSON
    if len(accept) <= MEMO_ACCEPT_CHARS:
        return _remembered_choice(accept)
    return _choose(accept)


def _choose(accept: str) -> str | None:
    offers: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if quality <= 0:
            continue
        if media in (GRAPHQL_RESPONSE, JSON):
            offers.append((quality, -index, media))
        elif media in ("*/*", "application/*"):
            # Below a type named at the same quality: a client naming ours means it.
            offers.append((quality - 0.0001, -index, JSON))
    return max(offers)[2] if offers else None


_remembered_choice = lru_cache(maxsize=64)(_choose)


def wants_graphiql(request: HttpRequest) -> bool:
    """A browser opening the endpoint (HTML accepted, no query given)."""
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept and "query" not in request.query_params


def content_type(media: str) -> str:
    return f"{media}; charset=utf-8" if media == GRAPHQL_RESPONSE else media


# The content-type header of each media type, encoded once.
CONTENT_TYPE_HEADERS = {media: (b"content-type", content_type(media).encode()) for media in (GRAPHQL_RESPONSE, JSON)}


def json_response(
    body: dict[str, Any] | list[Any] | bytes,
    status: int,
    media: str,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> Answer:
    encoded = [CONTENT_TYPE_HEADERS[media], (b"x-request-id", request_id.encode("latin-1"))]
    if headers:
        encoded += encoded_headers(headers)
    return Answer(status, encoded, body if isinstance(body, bytes) else orjson.dumps(body))


def outcome_response(outcome: Outcome, media: str, request_id: str) -> Answer:
    """An executed (or refused) operation's answer with the status its media type calls for."""
    if outcome.operation_not_allowed:
        return json_response(outcome.body, 405, media, request_id, {"allow": "POST"})
    status = 200 if outcome.has_data or media == JSON else 400
    return json_response(outcome.body, status, media, request_id)
