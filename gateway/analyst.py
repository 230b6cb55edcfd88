"""`contact-gateway query`: run a GraphQL file against the backends without a server, and write
the answer as JSON, CSV or a text table (laid out by `gateway.tabular`). With `--all-pages` it
follows `pageInfo.endCursor` through the `$after` variable, reporting progress on stderr.

The exit status tells a script whether it may trust the file: 0 for a complete answer, 3 for a
partial one (some backend failed; the errors are named on stderr), 2 for bad input.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import httpx
import orjson

from gateway.config import GatewaySettings
from gateway.execution import execute
from gateway.incremental import merge_parts
from gateway.runtime import Gateway
from schema import build_schema

MAX_PAGES = 10_000
EXIT_COMPLETE = 0
EXIT_BAD_INPUT = 2
EXIT_PARTIAL = 3
# Errors that say the question was wrong, not that a backend failed to answer it.
BAD_INPUT_CODES = frozenset({"BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"})


@dataclass
class QueryResult:
    body: dict[str, Any]  # every page merged into the first page's shape
    pages: list[dict[str, Any]]  # each page's answer as it came

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors", []))


def exit_status(result: QueryResult, *, allow_partial: bool = False) -> int:
    """0 complete, 2 bad input, 3 partial (0 with `allow_partial` when some data came back)."""
    codes = {e.get("extensions", {}).get("code") for e in result.errors}
    if codes & BAD_INPUT_CODES:
        return EXIT_BAD_INPUT
    if not codes:
        return EXIT_COMPLETE
    has_data = any(p.get("data") for p in result.pages)
    return EXIT_COMPLETE if allow_partial and has_data else EXIT_PARTIAL


def describe_error(error: Mapping[str, Any], source: str = "") -> str:
    """One stderr line: where (file:line:column, or the result path), the code, the backend, why."""
    extensions = error.get("extensions") or {}
    where = ""
    locations = error.get("locations") or []
    if locations and not error.get("path"):
        where = f"{source}:{locations[0]['line']}:{locations[0]['column']}: " if source else ""
        where = where or f"line {locations[0]['line']}, column {locations[0]['column']}: "
    elif error.get("path"):
        where = ".".join(str(p) for p in error["path"]) + ": "
    backend = f" (backend {extensions['backend']})" if extensions.get("backend") else ""
    return f"{where}{extensions.get('code', 'ERROR')}{backend}: {error.get('message')}"


def find_connection(data: Any) -> dict[str, Any] | None:
    """The first object holding `edges` (a Relay connection), depth first (not a copy)."""
    if isinstance(data, dict):
        if isinstance(data.get("edges"), list):
            return data
        for value in data.values():
            found = find_connection(value)
            if found is not None:
                return found
    return None


def edges_of(body: Mapping[str, Any]) -> list[Any]:
    found = find_connection(body.get("data"))
    return found["edges"] if found is not None else []


class Progress:
    """One status line on a terminal, redrawn in place. A log line written meanwhile (a retry, a
    cache warning) first clears it and then redraws it, so neither breaks the other."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.line = ""

    def show(self, text: str) -> None:
        self._write("\r" + text.ljust(len(self.line)))
        self.line = text

    def clear(self) -> None:
        if self.line:
            self._write("\r" + " " * len(self.line) + "\r")

    def redraw(self) -> None:
        if self.line:
            self._write(self.line)

    def finish(self, text: str) -> None:
        self.clear()
        self.line = ""
        self._write(text + "\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    @contextmanager
    def around_logging(self) -> Iterator[None]:
        """Route every root log handler through this line while it is shown."""
        root = logging.getLogger()
        original = root.handlers[:]
        root.handlers[:] = [_ClearingHandler(handler, self) for handler in original]
        try:
            yield
        finally:
            root.handlers[:] = original


class _ClearingHandler(logging.Handler):
    def __init__(self, inner: logging.Handler, progress: Progress) -> None:
        super().__init__(inner.level)
        self.inner = inner
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.clear()
        self.inner.handle(record)
        self.progress.redraw()


async def run_query(
    settings: GatewaySettings,
    query: str,
    variables: dict[str, Any] | None,
    *,
    operation_name: str | None = None,
    all_pages: bool = False,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    progress: TextIO | None = None,
) -> QueryResult:
    gateway = Gateway.from_settings(settings, transports=transports)
    schema = build_schema(settings.server)
    line = Progress(progress) if progress is not None else None
    try:
        # What `contact-gateway sync` (or a server) put in the index answers here too; without
        # a reachable index every backend is answered live, and the answer says so.
        await gateway.open_index_or_log()
        pages = _pages(gateway, schema, query, dict(variables or {}), operation_name, all_pages, line)
        if line is None:
            bodies = [body async for body in pages]
        else:
            with line.around_logging():
                bodies = [body async for body in pages]
    finally:
        await gateway.aclose()
    return QueryResult(_merge([orjson.loads(orjson.dumps(b)) for b in bodies]), bodies)


async def _pages(
    gateway: Gateway,
    schema: Any,
    query: str,
    variables: dict[str, Any],
    operation_name: str | None,
    all_pages: bool,
    progress: Progress | None,
) -> AsyncIterator[dict[str, Any]]:
    rows = 0
    for page in range(1, MAX_PAGES + 1):
        outcome = await execute(schema, gateway, query, variables, operation_name, request_id=f"cli-{page}")
        body = outcome.body
        if outcome.later_parts is not None:  # @defer in a file: one answer, as a client would merge it
            body = merge_parts(body, [part async for part in outcome.later_parts])
        yield body
        found = find_connection(body.get("data"))
        info = (found.get("pageInfo") or {}) if found is not None else {}
        rows += len(edges_of(body))
        if not all_pages or not info.get("hasNextPage") or not info.get("endCursor"):
            break
        if progress is not None:
            progress.show(f"page {page}: {rows} rows so far...")
        variables = {**variables, "after": info["endCursor"]}
    if progress is not None and page > 1:
        progress.finish(f"{page} pages, {rows} rows.")


def _merge(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """One JSON answer for several pages: the first page's shape with every page's edges and errors."""
    first = bodies[0]
    connection = find_connection(first.get("data"))
    if connection is not None and len(bodies) > 1:
        connection["edges"] = [edge for body in bodies for edge in edges_of(body)]
        last = find_connection(bodies[-1].get("data"))
        if last is not None and "pageInfo" in last:
            connection["pageInfo"] = last["pageInfo"]
    errors = [e for b in bodies for e in b.get("errors", [])]
    if errors:
        first["errors"] = errors
    return first
