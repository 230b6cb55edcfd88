"""The base that owns all of a backend's I/O, and the hooks a vendor module fills in.

What a vendor module provides: constants (paths, parameter names), a settings model, pure mapping
functions (`to_contact(record, backend) -> Contact` and, for writes, what a change sends), a pure
`pushdown(flt)`, and one subclass of `HttpBackend` that names them (`vendor`, `settings_model`,
`mapper`, capabilities) and fills in the hooks: `auth_headers`, `get`, and how the list is read.
A vendor that answers its whole list in one call subclasses `WholeListBackend` and gives
`fetch_records`; a vendor that pages gives `scan` and `sync_pages` itself. Writes it supports
override `create`, `update`, `delete`, `upsert_from_crm` (the others answer NOT_SUPPORTED).

What the base owns: HTTP (one pooled transport per backend, `httpx.Request`s through `gateway.http`),
auth headers merged with the operator's, timeouts, retries, the circuit breaker, caching, status
mapping and decoding, id checks, and the unified filter applied to what the vendor returns. It
keeps `gateway.backends.protocol.Backend`, the only face the layers above see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from typing import Any, ClassVar, overload

import httpx

from gateway import errors
from gateway.backends.fields import text
from gateway.backends.index_reads import SYNC_CHUNK, Pace, SyncPage, read_for_sync
from gateway.backends.protocol import Capability, ScanResult
from gateway.backends.whole_list import ListShape, StreamLimits, streamed_records
from gateway.cache import ReadCache
from gateway.config import BackendSettings
from gateway.filtering import matches
from gateway.http import VendorClient
from gateway.metrics import Metrics
from gateway.model import Contact, ContactChanges, ContactFilter, ContactKind

log = logging.getLogger("gateway.backends")
DOT_SEGMENTS = frozenset({".", ".."})
# A position inside a cursor: ASCII digits only (int() would also take "+1", " 7", "1_0" or "٣").
_DIGITS = re.compile(r"[0-9]{1,15}", re.ASCII)


def parse_offset(position: str | None, backend: str) -> int:
    if position is None:
        return 0
    if not _DIGITS.fullmatch(position):
        raise errors.BadUserInput(f"cursor position for backend '{backend}' is not valid", backend=backend)
    return int(position)


class MappedWhenRead(Sequence[Contact]):
    """Records of one backend as contacts, each mapped the first time it is read. A page across
    backends is filled in backend order, so the records a later backend answered are mostly never
    shown: mapping them anyway was a quarter to a third of the CPU such an answer cost (21 records
    of a page of 20), all of it spent while the page waited. A record the vendor's mapper fails
    on raises BACKEND_BAD_RESPONSE for its backend when read (`HttpBackend.read_record`)."""

    __slots__ = ("_backend", "_mapped", "_records")

    def __init__(self, backend: HttpBackend, records: Sequence[Mapping[str, Any]]) -> None:
        self._backend = backend
        self._records = records
        self._mapped: list[Contact | None] = [None] * len(records)

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> Contact: ...

    @overload
    def __getitem__(self, index: slice) -> list[Contact]: ...

    def __getitem__(self, index: int | slice) -> Contact | list[Contact]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self._records)))]
        contact = self._mapped[index]
        if contact is None:
            contact = self._mapped[index] = self._backend.read_record(self._records[index])
        return contact

    def __iter__(self) -> Iterator[Contact]:
        return (self[k] for k in range(len(self._records)))


def basic_auth(username: str, password: str) -> dict[str, str]:
    """The `Authorization` header `httpx.BasicAuth` sends for this pair. Built once, as a header,
    so that an operator's own `Authorization` in `headers:` still replaces it."""
    request = next(httpx.BasicAuth(username, password).sync_auth_flow(httpx.Request("GET", "/")))
    return {"Authorization": request.headers["Authorization"]}


def bearer_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class HttpBackend(ABC):
    """Shared base: HTTP, auth, errors and gateway-side filtering for one configured backend."""

    # The vendor key (`vendor:` in the config), its settings model, and its pure mapper
    # (`staticmethod(to_contact)`: one raw record and the backend's name -> the unified contact).
    vendor: ClassVar[str]
    settings_model: ClassVar[type[BackendSettings]]
    mapper: ClassVar[staticmethod[[Mapping[str, Any], str], Contact]]
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ})
    # Human words on write restrictions, shown in `backends { capabilities }` and NOT_SUPPORTED.
    write_notes: ClassVar[tuple[str, ...]] = ()
    # What a native id of this vendor looks like; anything else is a malformed id.
    native_id_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")
    # The kinds this vendor's records can have: a filter on other kinds needs no call at all.
    kinds: ClassVar[frozenset[ContactKind]] = frozenset(ContactKind)
    # Whether its records say if a contact is disabled: without it, `disabled: true` matches nothing.
    has_disabled_flag: ClassVar[bool] = False
    # The kinds it can create or change (when it can write at all).
    writable_kinds: ClassVar[frozenset[ContactKind]] = frozenset({ContactKind.PERSON})
    # Whether its list comes in pages (a sync pass reads them one by one) or whole, in one answer
    # (`WholeListBackend`).
    syncs_in_pages: ClassVar[bool] = True
    # The ContactFilter fields the vendor applies exactly itself (see `narrows`): those its
    # `pushdown` sends (a test holds each vendor to that).
    pushed_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        name: str,
        settings: BackendSettings,
        *,
        region: str = "US",
        transport: httpx.AsyncBaseTransport | None = None,
        cache: ReadCache | None = None,
        ttl_s: float = 0.0,
        stale_s: float = 0.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.region = region
        # Header names compare without case: an operator's `Authorization` replaces the backend's own.
        headers = httpx.Headers(self.auth_headers())
        headers.update(settings.headers)
        self.http = VendorClient(
            name,
            settings,
            headers=headers,
            params=self.base_params(),
            transport=transport,
            cache=cache,
            ttl_s=ttl_s,
            stale_s=stale_s,
            metrics=metrics,
            check=self.check_payload,
        )

    @property
    def healthy(self) -> bool:
        return self.http.healthy

    @property
    def last_error(self) -> str | None:
        return self.http.last_error

    @property
    def breaker_state(self) -> str:
        return self.http.breaker.state

    @property
    def cache_namespace(self) -> str:
        return self.http.cache_namespace

    # ------------------------------------------------------------------ vendor hooks

    @abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """Headers carrying this backend's credentials."""

    def base_params(self) -> dict[str, str]:
        """Query parameters every call carries (a tenant or site id)."""
        return {}

    def check_payload(self, payload: Any) -> None:
        """Raise the right GatewayError when a 2xx answer still reports a failure (envelopes).
        Most vendors say failure with the HTTP status alone: nothing to check."""
        return None

    @abstractmethod
    async def get(self, native_id: str) -> Contact | None:
        """The record with this native id, or None when the vendor does not know it."""

    @abstractmethod
    async def scan(
        self, flt: ContactFilter, position: str | None, limit: int, include_merged: bool = False
    ) -> ScanResult:
        """Up to `limit` contacts matching `flt` from `position` (None: the start), in the
        vendor's order; merged-away records as `listed` says."""

    @abstractmethod
    def sync_pages(self, start: str | None, pace: Pace) -> AsyncGenerator[SyncPage, None]:
        """Every record, a page at a time, read fresh, for the index (see `Backend.sync_pages`)."""

    def narrows(self, flt: ContactFilter) -> bool:
        """Whether the vendor applies every field of `flt` itself, so a live list walks no more
        than it shows; otherwise the index answers (when it has this backend)."""
        asked = {name for name in ContactFilter.__dataclass_fields__ if getattr(flt, name) is not None}
        return asked <= self.pushed_fields

    def to_contact(self, record: Mapping[str, Any]) -> Contact:
        """Map one raw record with the vendor's mapper."""
        return self.mapper(record, self.name)

    def read_record(self, record: Mapping[str, Any]) -> Contact:
        """`to_contact`, where a mapper that fails is the vendor's record being unreadable: logged
        (it is a gap in the mapper) and BACKEND_BAD_RESPONSE for this backend."""
        try:
            return self.to_contact(record)
        except Exception:
            log.exception("backend %s: a record could not be mapped", self.name)
            raise errors.bad_response(self.name, "a record could not be read") from None

    def addressable(self, record: Mapping[str, Any]) -> bool:
        """Whether a record has an id; one without is logged and skipped: nobody can address it."""
        if text(record.get("id")) is None:
            log.warning("backend %s: skipped a record without an id", self.name)
            return False
        return True

    async def create(self, changes: ContactChanges) -> Contact:
        raise self.not_supported("create")

    async def update(self, native_id: str, changes: ContactChanges) -> Contact:
        raise self.not_supported("update")

    async def delete(self, native_id: str) -> None:
        raise self.not_supported("delete")

    async def upsert_from_crm(self, source: str, crm_id: str, changes: ContactChanges) -> Contact:
        raise self.not_supported("upsert contacts from a CRM")

    # ------------------------------------------------------------------ shared behaviour

    def listed(self, contact: Contact, flt: ContactFilter, include_merged: bool) -> bool:
        """Whether a list shows this record. Merged-away records are left out of unfiltered
        lists; with a filter they stay, so the resolver can put their survivor in their place."""
        if flt.is_empty():
            return include_merged or contact.merged_into_native_id is None
        if not matches(contact, flt, self.region):
            return False
        return include_merged or contact.merged_into_native_id is None or not flt.is_empty()

    def check_native_id(self, native_id: str) -> None:
        """Refuse an id this vendor could never have issued, before any call goes out. `.` and
        `..` are refused whatever the pattern: in a path they would name another resource."""
        if native_id in DOT_SEGMENTS or not self.native_id_pattern.match(native_id):
            raise errors.BadUserInput(
                f"'{native_id}' is not a valid {self.vendor} id for backend '{self.name}'",
                backend=self.name,
                fields={"id": "malformed"},
            )

    def record_path(self, template: str, native_id: str) -> str:
        """`template` with the (checked) native id as one percent-encoded path segment."""
        self.check_native_id(native_id)
        return template.format(id=urllib.parse.quote(native_id, safe=""))

    def could_match(self, flt: ContactFilter) -> bool:
        if flt.disabled and not self.has_disabled_flag:
            return False
        return flt.kinds is None or not flt.kinds.isdisjoint(self.kinds)

    def map_record(self, payload: Any) -> Contact:
        """The one record a vendor answered for an id: an object with an id, else BACKEND_BAD_RESPONSE
        (only a documented not-found is "no such contact")."""
        contact = self.map_one(self.expect_record(payload))
        if contact is None:
            raise errors.bad_response(self.name, "the record has no id")
        return contact

    def map_one(self, record: Mapping[str, Any]) -> Contact | None:
        """Map a record, or None (logged) when it has no id."""
        return self.mapper(record, self.name) if self.addressable(record) else None

    def parse_page_position(self, position: str | None, first_page: int) -> tuple[int, int]:
        """A paged vendor's position "pageIndex:skip"."""
        if position is None:
            return first_page, 0
        page, sep, skip = position.partition(":")
        if sep and _DIGITS.fullmatch(page) and _DIGITS.fullmatch(skip) and int(page) >= first_page:
            return int(page), int(skip)
        raise errors.BadUserInput(f"cursor position for backend '{self.name}' is not valid", backend=self.name)

    def no_such_contact(self, native_id: str) -> errors.NotFound:
        """NOT_FOUND for a write to a record the vendor does not have."""
        return errors.NotFound(f"backend '{self.name}' has no contact {native_id}", backend=self.name)

    def not_supported(self, operation: str) -> errors.NotSupported:
        can = sorted(c.value for c in self.capabilities)
        notes = "; ".join(self.write_notes)
        return errors.NotSupported(
            f"backend '{self.name}' ({self.vendor}) cannot {operation} contacts;"
            f" it supports {', '.join(can)}" + (f" ({notes})" if notes else ""),
            backend=self.name,
            details={"capabilities": can},
        )

    async def read(self, path: str, params: Mapping[str, Any] | None = None, *, fresh: bool = False) -> Any:
        """GET a JSON document from the vendor (cached unless `fresh`, coalesced, retried)."""
        return await self.http.read(path, params, fresh=fresh)

    async def read_or_none(self, path: str, params: Mapping[str, Any] | None = None, *, fresh: bool = False) -> Any:
        """Like `read`, but a 404 means "no such record" and gives None."""
        try:
            return await self.read(path, params, fresh=fresh)
        except errors.NotFound:
            return None

    async def write(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """Send a write; never retried, since a vendor may have applied it already."""
        return await self.http.write(method, path, body, params)

    async def forget_cached_reads(self) -> None:
        await self.http.forget_cached_reads()

    def expect_list(self, payload: Any, key: str | None = None) -> list[Mapping[str, Any]]:
        """The list of records in `payload` (or under `key`), or BACKEND_BAD_RESPONSE."""
        if key is not None and not isinstance(payload, Mapping):
            raise errors.bad_response(self.name, f"expected a JSON object holding {key!r}")
        items = payload.get(key) if key is not None else payload
        if not isinstance(items, list):
            raise errors.bad_response(self.name, f"expected a list{f' under {key!r}' if key else ''}")
        return [item for item in items if isinstance(item, Mapping)]

    def expect_record(self, payload: Any) -> Mapping[str, Any]:
        if not isinstance(payload, Mapping):
            raise errors.bad_response(self.name, "expected a JSON object")
        return payload

    async def aclose(self) -> None:
        await self.http.aclose()


class WholeListBackend(HttpBackend):
    """A vendor that answers its whole list in one call (no paging): it gives `fetch_records`;
    lists are filtered and paged by the gateway, and a sync pass reads the list once."""

    syncs_in_pages = False
    # The unfiltered list (what a sync pass reads) and where its answer holds the records.
    list_path: ClassVar[str]
    list_shape: ClassVar[ListShape] = ListShape()

    @abstractmethod
    async def fetch_records(self, flt: ContactFilter, *, fresh: bool = False) -> list[Mapping[str, Any]]:
        """Every raw record the vendor returns for `flt` (with what its `pushdown` sends); `fresh`
        skips the cache."""

    async def fetch_all(self, flt: ContactFilter) -> list[Contact]:
        """Every record the vendor returns for `flt`, mapped (records without an id skipped)."""
        return [self.to_contact(r) for r in await self.fetch_records(flt) if self.addressable(r)]

    async def scan(
        self, flt: ContactFilter, position: str | None, limit: int, include_merged: bool = False
    ) -> ScanResult:
        """The whole list once, filtered, sliced by offset."""
        if not self.could_match(flt):
            return ScanResult([], [], 0)
        offset = parse_offset(position, self.name)
        window: Sequence[Contact]
        if flt.is_empty():
            # Nothing to filter on (and no merges in a whole-list vendor): the window's records are
            # mapped only as they are read (`MappedWhenRead`).
            records = [r for r in await self.fetch_records(flt) if self.addressable(r)]
            window = MappedWhenRead(self, records[offset : offset + limit])
            total = len(records)
        else:
            everything = [c for c in await self.fetch_all(flt) if self.listed(c, flt, include_merged)]
            window, total = everything[offset : offset + limit], len(everything)
        after = [str(offset + k + 1) for k in range(len(window))]
        return ScanResult(window, after, total)

    async def sync_pages(self, start: str | None, pace: Pace) -> AsyncGenerator[SyncPage, None]:
        """The whole list in one answer, parsed as it arrives (`whole_list`): one call, mapped and
        handed over a chunk at a time, so memory does not grow with the list. A cut, invalid or
        refused answer raises (the pass fails, the previous index stays)."""
        s = self.settings
        limits = StreamLimits(s.max_response_bytes, s.timeout_s, s.index_max_records)
        async with contextlib.AsyncExitStack() as stack:
            chunks = await read_for_sync(lambda: stack.enter_async_context(self.http.stream(self.list_path)), pace)
            batches = streamed_records(chunks, self.list_shape, limits, self.name, self.check_payload, SYNC_CHUNK)
            async with contextlib.aclosing(batches):
                async for records in batches:
                    yield SyncPage([self.to_contact(r) for r in records if self.addressable(r)], None)
                    await asyncio.sleep(0)  # let requests in between chunks
