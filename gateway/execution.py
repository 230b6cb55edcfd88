"""Run one GraphQL operation against the schema and shape the response the contract promises.

Every error leaves here as `{message, locations?, path?, extensions: {code, backend?...}}`.
Gateway errors keep their code and message; parse and validation errors get the usual GraphQL
codes; anything unexpected is logged with the request id and masked as INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSyntaxError
from graphql.execution import ExperimentalIncrementalExecutionResults, experimental_execute_incrementally
from strawberry.types.graphql import OperationType

from gateway import cache, errors, incremental, tracing
from gateway.cache import RequestCacheLog
from gateway.documents import DocumentError, chosen_operation, parse_document, validation_errors
from gateway.http import REQUEST_ID
from gateway.resilience import DEADLINE
from gateway.runtime import Gateway
from resolvers.context import RequestContext
from resolvers.cursor import SIGNING_KEY
from schema.root import GatewaySchema

log = logging.getLogger("gateway.execution")

INTERNAL = "INTERNAL_SERVER_ERROR"
# graphql-core's "Did you mean 'x'?" would reveal the schema when introspection is off.
_SUGGESTION = re.compile(r" Did you mean [^?]*\?")
INVALIDATION_PENDING = "CACHE_INVALIDATION_PENDING"
DEADLINE_GRACE_S = 1.0


@dataclass(slots=True)
class Outcome:
    """A response body, and whether execution started (`data` present) at all."""

    body: dict[str, Any]
    has_data: bool
    operation_not_allowed: bool = False
    # With @defer or @stream: the parts after `body` (the first), in the 2022-08-24 draft's shape.
    later_parts: AsyncIterator[dict[str, Any]] | None = None

    @property
    def clean(self) -> bool:
        """Executed with no error and nothing special to say (no stale parts): fit to reuse."""
        return (
            self.has_data
            and self.later_parts is None
            and not self.body.get("errors")
            and not self.body.get("extensions")
        )

    def label(self) -> str:
        """ok, partial (data and errors), error (no data) or rejected (refused before execution)."""
        if not self.has_data:
            return "rejected"
        if not self.body.get("errors"):
            return "ok"
        return "partial" if self.body.get("data") else "error"


def error_entry(error: GraphQLError, request_id: str) -> dict[str, Any]:
    original = error.original_error
    message = error.message
    if isinstance(original, errors.GatewayError):
        extensions = original.extensions()
        message = original.message
    elif isinstance(error, GraphQLSyntaxError):
        extensions = {"code": "GRAPHQL_PARSE_FAILED"}
    elif not error.path and (original is None or isinstance(original, GraphQLError)):
        code = "BAD_USER_INPUT" if message.startswith("Variable '$") else "GRAPHQL_VALIDATION_FAILED"
        extensions = {"code": code}
    else:
        if original is not None:
            log.error(
                "request %s: unexpected error",
                request_id,
                exc_info=(type(original), original, original.__traceback__),
            )
        else:
            log.error("request %s: %s at %s", request_id, message, error.path)
        message = "Internal server error"
        extensions = {"code": INTERNAL, "requestId": request_id}
    entry: dict[str, Any] = {"message": message}
    if error.locations:
        entry["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        entry["path"] = list(error.path)
    entry["extensions"] = extensions
    return entry


def request_error(error: errors.GatewayError) -> dict[str, Any]:
    """A whole-request failure (no execution happened), shaped like any GraphQL error."""
    entry: dict[str, Any] = {"message": error.message}
    if isinstance(error, errors.GraphQLParseFailed) and error.locations:
        entry["locations"] = error.locations
    entry["extensions"] = error.extensions()
    return {"errors": [entry]}


def prepare(gateway: Gateway, query: str | None, operation_name: str | None) -> DocumentNode:
    """The parsed document (within server.max_tokens) with a runnable operation; one of
    `DocumentError` when there is none. Nothing is validated yet."""
    if not query:
        raise errors.BadUserInput("the request has no 'query' string", fields={"query": "required"})
    document = parse_document(query, gateway.settings.server.max_tokens)
    chosen_operation(document, operation_name)
    return document


async def execute(
    schema: GatewaySchema,
    gateway: Gateway,
    query: str | None,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
    *,
    scope: frozenset[str] | None = None,
    request_id: str = "-",
    allowed: Iterable[OperationType] | None = None,
    document: DocumentNode | None = None,
) -> Outcome:
    """Execute under the gateway's whole-request deadline; never raises. `document` is the
    parsed `query` when the caller has it already (see `prepare`)."""
    if document is None or query is None:
        try:
            document = prepare(gateway, query, operation_name)
        except DocumentError as exc:
            return Outcome(request_error(exc), has_data=False)
    context = RequestContext(gateway=gateway, scope=scope, request_id=request_id, document=document)
    deadline = gateway.settings.server.deadline_s
    cache_log = RequestCacheLog()
    started = time.perf_counter()
    tokens = (
        cache.CURRENT.set(cache_log),
        DEADLINE.set(time.monotonic() + deadline),
        REQUEST_ID.set(request_id),
        SIGNING_KEY.set(gateway.cursor_key),
    )
    attributes = {"graphql.operation.name": operation_name or "anonymous", "contact_gateway.request_id": request_id}
    try:
        with tracing.span("graphql.operation", attributes) as current:
            outcome = _shape(
                await _run(schema, query or "", variables, operation_name, context, deadline, allowed),
                cache_log,
                context,
            )
            tracing.outcome(current, outcome.label(), error=outcome.label() in ("error", "rejected"))
    finally:
        SIGNING_KEY.reset(tokens[3])
        REQUEST_ID.reset(tokens[2])
        DEADLINE.reset(tokens[1])
        cache.CURRENT.reset(tokens[0])
    gateway.metrics.observe_request(operation_name, outcome.label(), time.perf_counter() - started)
    return outcome


async def _run(
    schema: GatewaySchema,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: RequestContext,
    deadline: float,
    allowed: Iterable[OperationType] | None,
) -> Outcome:
    """Validate (once per document text), then execute with graphql-core over the schema strawberry
    built. Strawberry's own `Schema.execute` would parse, choose the operation and validate again,
    around a dozen extension hooks made anew for every request; the gateway has done the first
    two already and caches the third, so the document goes straight to the executor."""
    operation = chosen_operation(context.document, operation_name)
    if allowed is not None and operation.operation.value not in {kind.value for kind in allowed}:
        return Outcome(
            request_error(errors.BadUserInput("this operation type is not allowed with GET; use POST")),
            has_data=False,
            operation_not_allowed=True,
        )
    invalid = validation_errors(query, context.gateway.settings.server.max_tokens, schema.validation)
    if invalid:
        return Outcome({"errors": [client_error(e, context) for e in invalid]}, has_data=False)
    try:
        # Vendor calls stop at the deadline themselves (their part becomes BACKEND_TIMEOUT); this
        # is the backstop for anything else, with a little grace to shape the partial answer.
        async with asyncio.timeout(deadline + DEADLINE_GRACE_S):
            result = experimental_execute_incrementally(
                schema._schema,
                context.document,
                context_value=context,
                variable_values=variables,
                operation_name=operation_name,
                executor_class=schema.executor,
            )
            if isawaitable(result):
                result = await result
    except TimeoutError:
        error = errors.BackendTimeout(
            f"the request did not finish within the {deadline:g} s deadline (server.deadline_s)"
        )
        return Outcome({"data": None, **request_error(error)}, has_data=True)
    if isinstance(result, ExperimentalIncrementalExecutionResults):
        return _incremental_outcome(result, context)
    found = [*(result.errors or []), *_partial_graphql_errors(context, 0)]
    body: dict[str, Any] = {}
    if found:
        body["errors"] = [client_error(e, context) for e in found]
    executed = result.data is not None or not _is_request_error(result.errors)
    if executed:  # the spec: no `data` entry when the request failed before execution
        body["data"] = result.data
    return Outcome(body, has_data=executed)


def client_error(error: GraphQLError, context: RequestContext) -> dict[str, Any]:
    """An error as the client sees it: shaped, and as a last guard no configured secret (nor,
    with introspection off, a schema hint) in its message."""
    entry = error_entry(error, context.request_id)
    message = entry["message"]
    if not context.gateway.settings.server.introspection:
        message = _SUGGESTION.sub("", message)
    entry["message"] = context.gateway.redact(message)
    return entry


def _incremental_outcome(results: ExperimentalIncrementalExecutionResults, context: RequestContext) -> Outcome:
    """The first part now; the later parts run on under this request's deadline and context."""
    first = results.initial_result
    reported = len(context.partial_errors)
    found = [*(first.errors or []), *_partial_graphql_errors(context, 0)]
    body: dict[str, Any] = {}
    if found:
        body["errors"] = [client_error(e, context) for e in found]
    body["data"] = first.data
    body["hasNext"] = first.has_next
    body["pending"] = [p.formatted for p in first.pending]

    def new_partial_errors() -> list[GraphQLError]:
        nonlocal reported
        late = _partial_graphql_errors(context, reported)
        reported = len(context.partial_errors)
        return late

    # The later parts run in this request's context (deadline, cache log, request id, cursor key).
    request_context = contextvars.copy_context()
    deadline_at = DEADLINE.get() or time.monotonic() + context.gateway.settings.server.deadline_s
    later = incremental.later_parts(
        results,
        lambda e: client_error(e, context),
        new_partial_errors,
        request_context,
        deadline_at + DEADLINE_GRACE_S,
    )
    return Outcome(body, has_data=True, later_parts=later)


def _partial_graphql_errors(context: RequestContext, start: int) -> list[GraphQLError]:
    return [GraphQLError(p.error.message, path=p.path, original_error=p.error) for p in context.partial_errors[start:]]


def _shape(outcome: Outcome, cache_log: RequestCacheLog, context: RequestContext) -> Outcome:
    """Say so when part of the answer came from an expired copy because a backend failed, when
    a write could not be recorded in the shared cache (other instances may still answer from
    their copies for up to the backend's TTL), and when backends whose index has no completed
    pass yet were answered live (people, counts and unpushable filters walk the vendor then)."""
    if context.not_indexed:
        extensions = outcome.body.setdefault("extensions", {})
        names = [name for name in context.gateway.backends if name in context.not_indexed]
        extensions["index"] = {
            "notIndexed": names,
            "message": "answered live for these backends: their index has no completed sync pass yet",
        }
    if cache_log.stale:
        extensions = outcome.body.setdefault("extensions", {})
        extensions["stale"] = [{"backend": s.backend, "ageS": s.age_s} for s in cache_log.stale]
    if cache_log.pending_invalidations:
        extensions = outcome.body.setdefault("extensions", {})
        extensions["warnings"] = [
            {
                "code": INVALIDATION_PENDING,
                "backend": backend,
                "message": (
                    f"the write to backend '{backend}' succeeded, but the shared cache could not be told"
                    " before the deadline: other gateway instances may answer from older copies until it"
                    " can (this one reads that backend fresh meanwhile)"
                ),
            }
            for backend in dict.fromkeys(cache_log.pending_invalidations)
        ]
    return outcome


def _is_request_error(found: list[GraphQLError] | None) -> bool:
    """Errors before execution (parse, validation, variables) carry no path."""
    return bool(found) and all(
        not e.path and (e.original_error is None or isinstance(e.original_error, GraphQLError)) for e in found or []
    )
