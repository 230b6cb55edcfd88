"""GraphQL over HTTP, per the GraphQL-over-HTTP specification.

POST with `application/json` bodies, GET with query parameters (queries only: a mutation over
GET is 405). Responses are `application/graphql-response+json` when the client names it (then a request
that failed before execution is 400) or `application/json` (then 200 for any well-formed request;
also the answer to no Accept, `*/*` and `application/*`, as the spec says). A browser asking for
HTML gets GraphiQL. Clients authenticate with `Authorization: Bearer <key>` when API keys are
configured.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import time
from typing import Any

import orjson
import strawberry
from graphql import DocumentNode
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.types.graphql import OperationType

from gateway import errors, graphiql
from gateway.config import ApiKeySettings
from gateway.documents import DocumentError, chosen_operation
from gateway.execution import Outcome, execute, prepare, request_error
from gateway.response_cache import etag_of, is_cacheable
from gateway.runtime import Gateway

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BadRequest(Exception):
    def __init__(self, error: errors.GatewayError, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status
        self.headers = headers or {}


def negotiate(accept: str | None) -> str | None:
    """The response media type for this Accept header, or None when we can offer none of it."""
    if not accept or not accept.strip():
        return JSON
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
        if media == GRAPHQL_RESPONSE:
            offers.append((quality, -index, GRAPHQL_RESPONSE))
        elif media == JSON:
            offers.append((quality, -index, JSON))
        elif media in ("*/*", "application/*"):
            # The spec: a wildcard (like no Accept at all) gets application/json, the type every
            # client written before graphql-response+json understands (Apollo Client 3 sends */*).
            offers.append((quality - 0.0001, -index, JSON))
    return max(offers)[2] if offers else None


def wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept and "query" not in request.query_params


def request_id_of(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else os.urandom(16).hex()


def render(
    body: dict[str, Any] | list[Any],
    status: int,
    media: str,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=f"{media}; charset=utf-8" if media == GRAPHQL_RESPONSE else media,
        headers={"x-request-id": request_id, **(headers or {})},
    )


class GraphQLEndpoint:
    """The `/graphql` route: authentication, parsing, execution and the response's status."""

    def __init__(self, schema: strawberry.Schema, gateway: Gateway) -> None:
        self.schema = schema
        self.gateway = gateway
        self.server = gateway.settings.server
        self.api_keys = gateway.settings.auth.api_keys

    async def __call__(self, request: Request) -> Response:
        request_id = request_id_of(request)
        if wants_html(request) and self.server.graphiql:
            return HTMLResponse(graphiql.page(), headers={"x-request-id": request_id})
        media = negotiate(request.headers.get("accept"))
        if media is None:
            error = errors.BadUserInput(f"cannot answer in any of the accepted types; use {GRAPHQL_RESPONSE} or {JSON}")
            return render(request_error(error), 406, JSON, request_id)
        get = request.method == "GET"
        try:
            scope = self.authenticate(request)
            raw = await self.read_raw(request)
            if isinstance(raw, list) and not get:
                return await self.run_batch(raw, scope, media, request_id)
            params = await self.resolve(self._check_params(raw))
        except BadRequest as exc:
            return render(request_error(exc.error), exc.status, media, request_id, exc.headers)
        return await self.answer(request, params, scope, media, request_id)

    async def answer(
        self, request: Request, params: dict[str, Any], scope: frozenset[str] | None, media: str, request_id: str
    ) -> Response:
        """Run one operation, or reuse the stored answer to the same read at the same generations."""
        get = request.method == "GET"
        responses = self.gateway.responses
        query, name, variables = params["query"], params.get("operationName"), params.get("variables")
        try:
            document = prepare(self.gateway, query, name)
        except DocumentError as exc:
            return self.respond(Outcome(request_error(exc), has_data=False), media, request_id)
        cacheable = is_cacheable(chosen_operation(document, name))
        key = await responses.key(scope, query, name, variables) if cacheable and responses.enabled else None
        if key is not None:
            started = time.perf_counter()
            hit = await responses.get(key)
            self.gateway.metrics.response_cache_event("hit" if hit else "miss")
            if hit is not None:
                self.gateway.metrics.observe_request(name, "ok", time.perf_counter() - started)
                return self.reusable(hit.body, hit.etag, request, media, request_id)
        outcome = await self.run(params, scope, request_id, get=get, document=document)
        if not (cacheable and outcome.clean):
            return self.respond(outcome, media, request_id)
        body = orjson.dumps(outcome.body)
        etag = etag_of(body)
        if key is not None:
            await responses.put(key, body, etag)
            self.gateway.metrics.response_cache_event("store")
        return self.reusable(body, etag, request, media, request_id)

    @staticmethod
    def reusable(body: bytes, etag: str, request: Request, media: str, request_id: str) -> Response:
        """A clean read's answer; over GET with its ETag, and 304 when the client holds it already."""
        headers = {"x-request-id": request_id}
        if request.method == "GET":
            headers |= {"etag": etag, "cache-control": "private, no-cache"}
            held = request.headers.get("if-none-match", "")
            if any(tag.strip().removeprefix("W/") in (etag, "*") for tag in held.split(",")):
                return Response(status_code=304, headers=headers)
        return Response(
            body, 200, media_type=f"{media}; charset=utf-8" if media == GRAPHQL_RESPONSE else media, headers=headers
        )

    async def resolve(self, params: dict[str, Any]) -> dict[str, Any]:
        """Params with the document of an automatic persisted query filled in."""
        try:
            return await self.gateway.persisted.resolve(params)
        except errors.GatewayError as exc:
            raise BadRequest(exc) from None

    async def run_batch(self, items: list[Any], scope: frozenset[str] | None, media: str, request_id: str) -> Response:
        """A JSON array of operations: an array of results, each with its own errors."""
        limit = self.server.max_batch_size
        if not items:
            raise BadRequest(errors.BadUserInput(f"a batch holds 1 to {limit} operations (server.max_batch_size)"))
        if len(items) > limit:
            # One coded error per operation, so a batching client (BatchHttpLink) can match answers
            # to operations by position and show the reason instead of a length mismatch.
            refused = errors.BadUserInput(
                f"the batch holds {len(items)} operations, more than the {limit} allowed (server.max_batch_size)"
            )
            return render([request_error(refused)] * len(items), 200, media, request_id)

        async def one(index: int, item: Any) -> dict[str, Any]:
            try:
                params = await self.resolve(self._check_params(item))
            except BadRequest as exc:
                return request_error(exc.error)
            return (await self.run(params, scope, f"{request_id}.{index}", get=False)).body

        bodies = await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        return render(list(bodies), 200, media, request_id)

    def authenticate(self, request: Request) -> frozenset[str] | None:
        """The caller's backend scope; None means every backend. Keys compare in constant time."""
        if not self.api_keys:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        matched: ApiKeySettings | None = None
        if scheme.lower() == "bearer" and token:
            for key in self.api_keys:
                if hmac.compare_digest(key.key.get_secret_value().encode(), token.strip().encode()):
                    matched = key
        if matched is None:
            raise BadRequest(
                errors.Unauthenticated("a valid API key is required: send Authorization: Bearer <key>"),
                401,
                {"www-authenticate": 'Bearer realm="contact-gateway"'},
            )
        return frozenset(matched.backends) if matched.backends is not None else None

    async def read_raw(self, request: Request) -> Any:
        """The request's parameters, decoded but not yet checked (an object, or a batch array)."""
        if request.method == "GET":
            if len(request.scope.get("query_string", b"")) > self.server.max_query_bytes:
                raise BadRequest(self._too_large(), 413)
            raw: dict[str, Any] = dict(request.query_params)
            for key in ("variables", "extensions"):
                if key in raw:
                    raw[key] = self._decode(raw[key].encode(), key)
        else:
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != JSON:
                raise BadRequest(errors.BadUserInput(f"POST bodies must be {JSON}"), 415)
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.server.max_query_bytes:
                raise BadRequest(self._too_large(), 413)
            body = await request.body()
            if len(body) > self.server.max_query_bytes:
                raise BadRequest(self._too_large(), 413)
            raw = self._decode(body, "body")
        return raw

    def _too_large(self) -> errors.BadUserInput:
        return errors.BadUserInput(
            f"the request is larger than {self.server.max_query_bytes} bytes (server.max_query_bytes)"
        )

    @staticmethod
    def _decode(data: bytes, what: str) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise BadRequest(errors.BadUserInput(f"the {what} is not valid JSON")) from None

    @staticmethod
    def _check_params(raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise BadRequest(errors.BadUserInput("the request must be a JSON object with a 'query'"))
        for key in ("variables", "extensions"):
            if raw.get(key) is not None and not isinstance(raw[key], dict):
                raise BadRequest(errors.BadUserInput(f"'{key}' must be a JSON object", fields={key: "not an object"}))
        query = raw.get("query")
        persisted = raw.get("query") is None and "persistedQuery" in (raw.get("extensions") or {})
        if not persisted and (not isinstance(query, str) or not query.strip()):
            raise BadRequest(errors.BadUserInput("the request has no 'query' string", fields={"query": "required"}))
        name = raw.get("operationName")
        if name is not None and not isinstance(name, str):
            raise BadRequest(
                errors.BadUserInput("'operationName' must be a string", fields={"operationName": "not a string"})
            )
        return raw

    async def run(
        self,
        params: dict[str, Any],
        scope: frozenset[str] | None,
        request_id: str,
        *,
        get: bool,
        document: DocumentNode | None = None,
    ) -> Outcome:
        return await execute(
            self.schema,
            self.gateway,
            params["query"],
            params.get("variables"),
            params.get("operationName"),
            scope=scope,
            request_id=request_id,
            allowed=(OperationType.QUERY,) if get else None,
            document=document,
        )

    @staticmethod
    def respond(outcome: Outcome, media: str, request_id: str) -> Response:
        if outcome.operation_not_allowed:
            return render(outcome.body, 405, media, request_id, {"allow": "POST"})
        # application/json: 200 for every well-formed request; graphql-response+json: a request
        # that failed before execution (parse, validation, variables) is 400.
        status = 200 if outcome.has_data or media == JSON else 400
        return render(outcome.body, status, media, request_id)
