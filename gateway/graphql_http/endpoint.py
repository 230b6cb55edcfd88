"""The `/graphql` route: GET with query parameters (queries only: a mutation over GET is 405),
POST with a JSON body holding one operation or a batch. A browser asking for HTML gets GraphiQL.
Each step is one module of this package; this one only ties them together."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from graphql import DocumentNode
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.types import Receive, Scope, Send
from strawberry.types.graphql import OperationType

from gateway import errors, graphiql
from gateway.documents import PARSED_DOCUMENTS, DocumentError, chosen_operation
from gateway.execution import Outcome, execute, prepare, request_error
from gateway.graphql_http.api_keys import ApiKeys
from gateway.graphql_http.asgi import INTERNAL_ERROR, Answer, ClientGone, HttpRequest
from gateway.graphql_http.media import (
    GRAPHQL_RESPONSE,
    JSON,
    choose_media_type,
    json_response,
    outcome_response,
    wants_graphiql,
)
from gateway.graphql_http.multipart import accepts_multipart, answer_in_parts
from gateway.graphql_http.payload import RequestRefused, operation_params, read_payload
from gateway.graphql_http.reuse import ResponseReuse, with_etag
from gateway.incremental import merge_parts
from gateway.response_cache import is_cacheable
from gateway.runtime import Gateway
from schema.root import GatewaySchema

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# What the endpoint answers with: its own whole answers, or Starlette's for HTML and multipart.
EndpointAnswer = Answer | HTMLResponse | StreamingResponse


def request_id_of(request: HttpRequest) -> str:
    """The caller's X-Request-ID when it is a sane token, else a fresh one."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else os.urandom(16).hex()


class GraphQLEndpoint:
    """Authenticate, read, fill in an APQ document, then answer: from the response cache or by
    executing, with the status and media type the spec gives. An ASGI app: the app hands it
    `/graphql` GETs and POSTs straight from the server (see `gateway.app`)."""

    def __init__(
        self, schema: GatewaySchema, gateway: Gateway, graphiql_tabs: Sequence[graphiql.Example] | None = None
    ) -> None:
        self.schema = schema
        self.gateway = gateway
        self.server = gateway.settings.server
        self.api_keys = ApiKeys(gateway.settings.auth.api_keys)
        self.reuse = ResponseReuse(gateway)
        self.graphiql_page = graphiql.page(tabs=graphiql_tabs)
        # Each text's parsed document and whether its operation may be reused, worked out once
        # (a document that cannot run raises each time: failures are not kept).
        self.prepared = lru_cache(maxsize=PARSED_DOCUMENTS)(self._prepare)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.respond(HttpRequest(scope, receive))
        except ClientGone:
            return  # nobody is left to answer
        except Exception:
            await INTERNAL_ERROR(scope, receive, send)  # then the server logs it, as behind Starlette
            raise
        await response(scope, receive, send)

    async def respond(self, request: HttpRequest) -> EndpointAnswer:
        request_id = request_id_of(request)
        if wants_graphiql(request) and self.server.graphiql:
            return HTMLResponse(self.graphiql_page, headers={"x-request-id": request_id})
        accept = request.headers.get("accept")
        media = choose_media_type(accept)
        if media is None and accepts_multipart(accept):
            media = JSON  # the parts of a multipart answer are JSON; a whole answer is too
        if media is None:
            error = errors.BadUserInput(f"cannot answer in any of the accepted types; use {GRAPHQL_RESPONSE} or {JSON}")
            return json_response(request_error(error), 406, JSON, request_id)
        try:
            scope = self.api_keys.scope_of(request)
            payload = await read_payload(request, self.server.max_query_bytes)
            if isinstance(payload, list) and request.method == "POST":
                return await self.answer_batch(payload, scope, media, request_id)
            params = operation_params(payload)
            if params.get("extensions"):
                params = await self.with_document(params)
        except RequestRefused as refused:
            return json_response(request_error(refused.error), refused.status, media, request_id, refused.headers)
        return await self.answer_operation(request, params, scope, media, request_id)

    async def answer_operation(
        self, request: HttpRequest, params: dict[str, Any], scope: frozenset[str] | None, media: str, request_id: str
    ) -> EndpointAnswer:
        """One operation's answer: a stored one for the same read at the same generations, or a run."""
        name = params.get("operationName")
        try:  # parsed once, before anything is looked up: a malformed document costs nothing more
            document, cacheable = self.prepared(params["query"], name)
        except DocumentError as exc:
            return outcome_response(Outcome(request_error(exc), has_data=False), media, request_id)
        slot = await self.reuse.look_up(params, scope, cacheable)
        if slot is not None and slot.found is not None:
            return with_etag(slot.found.body, slot.found.etag, request, media, request_id)
        outcome = await self.execute(params, scope, request_id, get=request.method == "GET", document=document)
        if outcome.later_parts is not None:
            return await answer_in_parts(outcome, request.headers.get("accept"), media, request_id)
        reusable = await self.reuse.store(slot, cacheable, outcome, request, media, request_id)
        return reusable or outcome_response(outcome, media, request_id)

    def _prepare(self, query: str, name: str | None) -> tuple[DocumentNode, bool]:
        document = prepare(self.gateway, query, name)
        return document, is_cacheable(chosen_operation(document, name))

    async def answer_batch(self, items: list[Any], scope: frozenset[str] | None, media: str, request_id: str) -> Answer:
        """A JSON array of operations: an array of results, each with its own errors."""
        limit = self.server.max_batch_size
        if not items:
            raise RequestRefused(errors.BadUserInput(f"a batch holds 1 to {limit} operations (server.max_batch_size)"))
        if len(items) > limit:
            # One coded error per operation, so a batching client (BatchHttpLink) can match answers
            # to operations by position and show the reason instead of a length mismatch.
            refused = errors.BadUserInput(
                f"the batch holds {len(items)} operations, more than the {limit} allowed (server.max_batch_size)"
            )
            return json_response([request_error(refused)] * len(items), 200, media, request_id)

        async def one(index: int, item: Any) -> dict[str, Any]:
            try:
                params = await self.with_document(operation_params(item))
            except RequestRefused as exc:
                return request_error(exc.error)
            outcome = await self.execute(params, scope, f"{request_id}.{index}", get=False)
            if outcome.later_parts is None:
                return outcome.body
            return merge_parts(outcome.body, [part async for part in outcome.later_parts])

        bodies = await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        return json_response(list(bodies), 200, media, request_id)

    async def with_document(self, params: dict[str, Any]) -> dict[str, Any]:
        """Params with the document of an automatic persisted query filled in."""
        try:
            return await self.gateway.persisted.with_document(params)
        except errors.GatewayError as exc:
            raise RequestRefused(exc) from None

    async def execute(
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
