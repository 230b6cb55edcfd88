"""The seam between the gateway and its vendors: `Backend`, everything the layers above (resolvers,
the runtime, the contact index) may ask of one configured backend, and the values it answers with.

Every vendor's backend is an `HttpBackend` (gateway/backends/base.py), which keeps this protocol;
nothing above the backends names that class, its HTTP client or its breaker.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway import errors
from gateway.backends.index_reads import Pace, SyncPage
from gateway.config import BackendSettings
from gateway.model import Contact, ContactChanges, ContactFilter, ContactKind


class Capability(enum.Enum):
    READ = "READ"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CRM_UPSERT = "CRM_UPSERT"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Up to `limit` matching contacts from a position.

    `after[k]` is the position that resumes right after `contacts[k]`; `total` is the number of
    matches in the whole backend when known, else None (never a guess). `more` says that matches
    follow the last of `contacts` which the scan did not return (the vendor's own count proves
    them): a list's next page then starts with them, however few `contacts` there are.

    `contacts` may map each record only when it is read (`gateway.backends.base.MappedWhenRead`):
    reading one whose record cannot be mapped raises BACKEND_BAD_RESPONSE for that backend.
    """

    contacts: Sequence[Contact]
    after: list[str]
    total: int | None
    more: bool = False


class Backend(Protocol):
    """One configured backend, as the resolvers, the runtime and the index see it."""

    @property
    def name(self) -> str:
        """Its name in the config (the `<backend>` of a contact id)."""

    @property
    def vendor(self) -> str:
        """The vendor key (`vendor:` in the config)."""

    @property
    def settings(self) -> BackendSettings:
        """Its validated settings (URL, timeouts, pacing; secrets stay secret)."""

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    @property
    def writable_kinds(self) -> frozenset[ContactKind]:
        """The kinds it can create or change (when it can write at all)."""

    @property
    def write_notes(self) -> tuple[str, ...]:
        """Human words on its write restrictions."""

    @property
    def syncs_in_pages(self) -> bool:
        """Whether a sync pass reads its list a page at a time (else whole, in one answer)."""

    @property
    def healthy(self) -> bool:
        """False while its circuit breaker is open."""

    @property
    def breaker_state(self) -> str:
        """Its circuit breaker: "closed", "half-open" or "open"."""

    @property
    def last_error(self) -> str | None:
        """The code of its last failure, if any."""

    @property
    def cache_namespace(self) -> str:
        """Whose data it holds: its name and a hash of its URL, tenant and credentials. Keys its
        cached reads, its write locks and its rows in the index."""

    def could_match(self, flt: ContactFilter) -> bool:
        """False when no record of this vendor can match `flt` (no call needed to know)."""

    def narrows(self, flt: ContactFilter) -> bool:
        """Whether the vendor applies every field of `flt` itself."""

    def check_native_id(self, native_id: str) -> None:
        """Refuse (BAD_USER_INPUT) an id this vendor could never have issued, before any call."""

    def not_supported(self, operation: str) -> errors.NotSupported:
        """The NOT_SUPPORTED error for an operation it cannot do, naming what it can."""

    async def scan(
        self, flt: ContactFilter, position: str | None, limit: int, include_merged: bool = False
    ) -> ScanResult: ...

    async def get(self, native_id: str) -> Contact | None:
        """The record with this native id, or None when the vendor does not know it."""

    async def create(self, changes: ContactChanges) -> Contact: ...

    async def update(self, native_id: str, changes: ContactChanges) -> Contact: ...

    async def delete(self, native_id: str) -> None: ...

    async def upsert_from_crm(self, source: str, crm_id: str, changes: ContactChanges) -> Contact: ...

    def sync_pages(self, start: str | None, pace: Pace) -> AsyncGenerator[SyncPage, None]:
        """Every record, a page at a time, read fresh, for the index, from `start` (a page's
        `resume_from`); each vendor read waits for `pace` first."""

    async def forget_cached_reads(self) -> None:
        """After a write: drop every cached read of this backend, on every instance."""

    async def aclose(self) -> None: ...
