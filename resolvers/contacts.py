"""`contacts` and `contact`: fan-out over the selected backends, one list in configured order.

A backend whose index has a completed pass answers from it when the vendor cannot apply the
filter itself, and always gives the exact count; otherwise the vendor is asked live.

Every selected backend is asked concurrently (its first page from where the cursor stands, or
just its count when the cursor is already past it and the count is shown); the page is then
filled in backend order, and once it is full the backends after are not waited for. `totalCount`
waits for them as a field of its own (`Count`), so the page is built meanwhile, and under @defer
answered before it. A backend that fails costs only its own part: its error is reported beside
the others' data, once something waits for that backend.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from strawberry.types.nodes import SelectedField

from gateway import errors
from gateway.backends.protocol import Backend, ScanResult
from gateway.model import Contact, ContactFilter
from gateway.resilience import remaining
from resolvers import indexed, merges
from resolvers.context import RequestContext
from resolvers.cursor import Cursor, decode_cursor, encode_cursor, query_fingerprint
from resolvers.indexed import indexed_names, is_index_position
from resolvers.indexed import scan as indexed_scan

log = logging.getLogger("gateway.resolvers")


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Edge(Generic[T]):
    """A node and where it stands; its cursor is sealed only when someone asks for it (a page of
    1,000 contacts selected without cursors seals none)."""

    position: Cursor
    fingerprint: str
    node: T

    @property
    def cursor(self) -> str:
        return encode_cursor(self.position, self.fingerprint)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One Relay page of anything: contacts, people."""

    edges: list[Edge[T]]
    has_next_page: bool
    has_previous_page: bool
    total_count: int | None
    # The count, when it waits for backends the page did not: made once asked for.
    counting: Count | None = None

    async def total(self) -> int | None:
        """The count, once every backend has answered."""
        return self.total_count if self.counting is None else await self.counting.made()

    @property
    def start_cursor(self) -> str | None:
        return self.edges[0].cursor if self.edges else None

    @property
    def end_cursor(self) -> str | None:
        return self.edges[-1].cursor if self.edges else None


ContactPage = Page[Contact]


@dataclass(slots=True)
class Count:
    """A count made when it is first asked for (by every totalCount selection alike), not before:
    the failures it reports then go with it, under @defer with its part, whenever they happened."""

    make: Callable[[], Coroutine[Any, Any, int | None]]
    started: asyncio.Future[int | None] | None = None

    def made(self) -> asyncio.Future[int | None]:
        if self.started is None:
            self.started = asyncio.ensure_future(self.make())
        return self.started


def check_page_size(first: int, ctx: RequestContext) -> None:
    limit = ctx.gateway.settings.server.max_page_size
    if first < 0 or first > limit:
        raise errors.BadUserInput(
            f"'first' must be between 0 and {limit} (server.max_page_size)",
            fields={"first": f"must be between 0 and {limit}"},
        )


async def guarded(
    ctx: RequestContext, info: Any, backend: Backend, call: Any, failures: list[errors.GatewayError] | None = None
) -> Any:
    """Await one backend call; a failure is reported for that backend (or kept in `failures`, for
    the caller to report if it uses the call) and gives None."""
    failure: errors.GatewayError
    try:
        async with asyncio.timeout(remaining()):
            return await call
    except TimeoutError:
        failure = errors.BackendTimeout(
            f"backend '{backend.name}' did not answer within the request deadline", backend=backend.name
        )
    except errors.GatewayError as exc:
        if exc.backend is None:
            exc.backend = backend.name
        failure = exc
    except Exception:
        log.exception("backend %s: unexpected failure (request %s)", backend.name, ctx.request_id)
        failure = errors.GatewayError(f"backend '{backend.name}' failed unexpectedly", backend=backend.name)
    if failures is None:
        ctx.report(failure, info)
    else:
        failures.append(failure)
    return None


def read_contacts(
    ctx: RequestContext, info: Any, contacts: Sequence[Contact], limit: int | None = None
) -> list[Contact] | None:
    """The first `limit` (else all) of a scan's `contacts`, read (a whole-list vendor's are
    mapped only now): a record that cannot be read costs its backend's part, reported like a
    failed call."""
    try:
        return list(contacts[:limit])
    except errors.GatewayError as exc:
        ctx.report(exc, info)
        return None


async def list_contacts(
    ctx: RequestContext,
    info: Any,
    flt: ContactFilter,
    backend_names: Sequence[str] | None,
    first: int,
    after: str | None,
    include_merged: bool,
) -> ContactPage:
    check_page_size(first, ctx)
    selected = ctx.visible_backends(list(backend_names) if backend_names is not None else None)
    fingerprint = query_fingerprint(flt, [b.name for b in selected], include_merged)
    start, position = 0, None
    if after is not None:
        cursor = decode_cursor(after, fingerprint)
        names = [b.name for b in selected]
        if cursor.backend not in names:
            raise errors.BadUserInput(
                "the cursor 'after' names a backend outside this query", fields={"after": "invalid"}
            )
        start, position = names.index(cursor.backend), cursor.position

    in_index = await indexed_names(ctx, selected)

    def from_index(backend: Backend, at: str | None) -> bool:
        """The index answers a backend it has, when the cursor came from it, or when a live list
        would read far more than it shows: the vendor cannot apply the filter itself, or it has
        no paging and answers its whole list for any page (60,000 contacts are ~17 MB a call)."""
        if at is not None:
            return backend.name in in_index and is_index_position(at)
        return backend.name in in_index and (not backend.narrows(flt) or not backend.syncs_in_pages)

    def ask(i: int, backend: Backend) -> Any:
        if i < start:  # already walked: only its count is needed
            if backend.name in in_index:
                return count_only(ctx, backend, flt, include_merged)
            return backend.scan(flt, None, 0, include_merged)
        at = position if i == start else None
        if from_index(backend, at):
            return indexed_scan(ctx, backend, flt, at, first + 1, include_merged)
        return backend.scan(flt, at, first + 1, include_merged)

    counted = shows_total(info)
    # Every backend the page may need is asked at once; those before the cursor only for their
    # count, so only when the count is shown.
    asked = range(0 if counted else start, len(selected))
    # A failure is reported only for a backend the answer waited for: whether one that was not
    # waited for had failed by then would otherwise decide, by timing, what the errors say.
    failures: dict[int, list[errors.GatewayError]] = {i: [] for i in asked}
    calls = {
        i: asyncio.ensure_future(guarded(ctx, info, selected[i], ask(i, selected[i]), failures[i]))
        for i in asked
        if i != start
    }
    # The backend the page starts at is awaited by this task itself, once the others have started:
    # its answer reaches the page without waiting a turn of the loop for a task of its own.
    first_call = guarded(ctx, info, selected[start], ask(start, selected[start]), failures[start]) if selected else None
    results: list[ScanResult | None] = [None] * len(selected)
    edges: list[Edge[Contact]] = []
    more = False  # a backend has matches after its last edge that it did not return
    try:
        for i in range(start, len(selected)):
            # The page is filled in backend order: a backend is waited for only when the ones
            # before it did not fill it.
            results[i] = await (first_call if i == start and first_call is not None else calls.pop(i))
            for failure in failures[i]:
                ctx.report(failure, info)
            result = results[i]
            if result is None:
                continue
            # Only what the page and its hasNextPage can show is read: the rest is never mapped.
            wanted = first + 1 - len(edges)
            shown = read_contacts(ctx, info, result.contacts, wanted)
            if shown is None:
                results[i] = None
                continue
            for contact, resume in zip(shown, result.after[:wanted], strict=True):
                edges.append(Edge(Cursor(selected[i].name, resume), fingerprint, contact))
            if len(edges) > first or result.more:
                more = result.more
                break
        has_next = len(edges) > first or more
        edges = edges[:first]
        merges.remember(ctx, [e.node for e in edges])  # hops to listed records cost no call
        if not include_merged:
            survivors = await merges.collapse_merged(ctx, info, [e.node for e in edges], flt)
            edges = [Edge(e.position, e.fingerprint, c) for e, c in zip(edges, survivors, strict=True) if c is not None]
    finally:
        # The calls the page did not wait for end on their own (their answers are cached when
        # caching is on; cancelling would break pooled connections); the count waits for them.
        ctx.gateway.let_finish(calls.values())
    counting = None
    if counted:
        counting = Count(
            partial(count_all, ctx, info, selected, results, calls, failures, in_index, flt, include_merged)
        )
    else:
        waited = [selected[i] for i in range(len(selected)) if i in failures and i not in calls]
        report_live_walks(ctx, waited, flt, in_index)
    return Page(
        edges=edges,
        has_next_page=has_next,
        has_previous_page=after is not None,
        total_count=None,
        counting=counting,
    )


async def count_all(
    ctx: RequestContext,
    info: Any,
    selected: list[Backend],
    results: list[ScanResult | None],
    calls: Mapping[int, Awaitable[ScanResult | None]],
    failures: dict[int, list[errors.GatewayError]],
    indexed_backends: set[str],
    flt: ContactFilter,
    merged: bool,
) -> int | None:
    """The sum of every backend's count, once the backends the page did not wait for have
    answered (their failures are reported then, in backend order); null when one cannot say."""
    for i, call in sorted(calls.items()):
        results[i] = await call
        for failure in failures[i]:
            ctx.report(failure, info)
    totals = [
        r.total if r is not None else None
        for r in await exact_totals(ctx, info, selected, results, indexed_backends, flt, merged)
    ]
    return None if any(t is None for t in totals) else sum(t for t in totals if t)


async def count_only(ctx: RequestContext, backend: Backend, flt: ContactFilter, merged: bool) -> ScanResult:
    return ScanResult([], [], await indexed.count(ctx, backend, flt, merged))


async def exact_totals(
    ctx: RequestContext,
    info: Any,
    selected: list[Backend],
    results: list[ScanResult | None],
    indexed_backends: set[str],
    flt: ContactFilter,
    merged: bool,
) -> list[ScanResult | None]:
    """Where a vendor could not say how many match, the index can (for backends it has); the
    others are answered live and `extensions.index` says so."""
    exact: list[ScanResult | None] = []
    for backend, result in zip(selected, results, strict=True):
        if result is not None and result.total is None:
            if backend.name in indexed_backends:
                total = await guarded(ctx, info, backend, indexed.count(ctx, backend, flt, merged))
                result = ScanResult(result.contacts, result.after, total)
            else:
                ctx.answered_live([backend.name])
        exact.append(result)
    report_live_walks(ctx, selected, flt, indexed_backends)
    return exact


def report_live_walks(ctx: RequestContext, selected: list[Backend], flt: ContactFilter, indexed: set[str]) -> None:
    """Backends that cannot apply `flt` themselves and have no index were walked live: say so."""
    if not flt.is_empty():
        walked = [b for b in selected if b.could_match(flt) and not b.narrows(flt)]
        ctx.answered_live([b.name for b in walked if b.name not in indexed])


def shows_total(info: Any) -> bool:
    """Whether the connection's `totalCount` is selected (through fragments too; under @skip or
    @include it counts as selected). Without a selection to read, it is."""
    fields = getattr(info, "selected_fields", None)
    return fields is None or any(_selects(field.selections, "totalCount") for field in fields)


def _selects(selections: Sequence[Any], name: str) -> bool:
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name == name:
                return True
        elif _selects(selection.selections, name):  # a fragment: its fields are the connection's
            return True
    return False


async def get_contact(ctx: RequestContext, global_id: str) -> Contact | None:
    backend, native_id = ctx.locate(global_id)
    return await backend.get(native_id)
