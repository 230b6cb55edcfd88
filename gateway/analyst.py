"""`contact-gateway query`: run a GraphQL file against the backends without a server, and write
the answer as JSON, CSV (one row per node of the first connection, lists joined) or a text table.
With `--all-pages` it follows `pageInfo.endCursor` through the `$after` variable, reporting progress
on stderr.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import httpx
import orjson

from gateway.config import GatewaySettings
from gateway.execution import execute
from gateway.runtime import Gateway
from schema import build_schema

LIST_SEPARATOR = "; "
TABLE_CELL_WIDTH = 40
MAX_PAGES = 10_000


@dataclass
class QueryResult:
    body: dict[str, Any]
    rows: list[dict[str, str]]


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


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """One row: nested objects become dotted columns, lists are joined with '; '."""
    row: dict[str, str] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            row.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list):
        if all(isinstance(v, Mapping) for v in value) and value:
            columns: dict[str, list[str]] = {}
            for item in value:
                for key, cell in flatten(item, prefix).items():
                    columns.setdefault(key, []).append(cell)
            row.update({k: LIST_SEPARATOR.join(v) for k, v in columns.items()})
        else:
            row[prefix] = LIST_SEPARATOR.join(_cell(v) for v in value)
    else:
        row[prefix or "value"] = _cell(value)
    return row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return orjson.dumps(value).decode()


def rows_of(data: Any) -> list[dict[str, str]]:
    found = find_connection(data)
    if found is not None:
        return [flatten(edge.get("node")) for edge in found["edges"] if isinstance(edge, Mapping)]
    if isinstance(data, Mapping):
        for value in data.values():
            if isinstance(value, list):
                return [flatten(item) for item in value]
    return [flatten(data)] if data else []


async def run_query(
    settings: GatewaySettings,
    query: str,
    variables: dict[str, Any] | None,
    *,
    all_pages: bool = False,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    progress: TextIO | None = None,
) -> QueryResult:
    gateway = Gateway.from_settings(settings, transports=transports)
    schema = build_schema(settings.server)
    try:
        pages = _pages(gateway, schema, query, dict(variables or {}), all_pages, progress)
        bodies = [body async for body in pages]
    finally:
        await gateway.aclose()
    rows = [row for b in bodies for row in rows_of(b.get("data"))]  # before merging pages into one
    return QueryResult(_merge(bodies), rows)


async def _pages(
    gateway: Gateway, schema: Any, query: str, variables: dict[str, Any], all_pages: bool, progress: TextIO | None
) -> AsyncIterator[dict[str, Any]]:
    rows = 0
    for page in range(1, MAX_PAGES + 1):
        body = (await execute(schema, gateway, query, variables, request_id=f"cli-{page}")).body
        yield body
        found = find_connection(body.get("data"))
        info = (found.get("pageInfo") or {}) if found is not None else {}
        rows += len(edges_of(body))
        if not all_pages or not info.get("hasNextPage") or not info.get("endCursor"):
            break
        if progress is not None:
            print(f"\rpage {page}: {rows} rows so far...", end="", file=progress, flush=True)
        variables = {**variables, "after": info["endCursor"]}
    if progress is not None and page > 1:
        print(f"\r{page} pages, {rows} rows.          ", file=progress, flush=True)


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


def render(result: QueryResult, fmt: str) -> str:
    if fmt == "json":
        return orjson.dumps(result.body, option=orjson.OPT_INDENT_2).decode() + "\n"
    seen = list(dict.fromkeys(key for row in result.rows for key in row))
    # A null object or an empty list flattens to one blank column; where other rows give that
    # object's fields (`address.city`), keep only those.
    columns = [c for c in seen if not any(other.startswith(c + ".") for other in seen)]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.rows)
        return out.getvalue()
    return "\n".join(_table(columns, result.rows)) + "\n"


def _table(columns: list[str], rows: list[dict[str, str]]) -> Iterator[str]:
    def clip(text: str) -> str:
        return text if len(text) <= TABLE_CELL_WIDTH else text[: TABLE_CELL_WIDTH - 1] + "…"

    widths = {c: max([len(clip(c))] + [len(clip(r.get(c, ""))) for r in rows]) for c in columns}
    yield "  ".join(clip(c).ljust(widths[c]) for c in columns)
    yield "  ".join("-" * widths[c] for c in columns)
    for row in rows:
        yield "  ".join(clip(row.get(c, "")).ljust(widths[c]) for c in columns)
