"""Filling the index: one full pass per backend, streaming (a page is written, then dropped),
paced by the backend's `index_calls_per_minute`, honouring the vendor's 429 / Retry-After.

A pass that completes removes what it did not see; a pass that fails keeps the previous index,
records `lastError`, and the next pass resumes where it stopped. One instance syncs a backend at
a time (`ContactIndex.exclusive`), and a backend another instance synced within `refresh_s` is
left alone unless the pass is forced (`contact-gateway sync`). Each round marks the deployment's
rows in use; after it, rows no gateway has used for `index.expire_s` are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiolimiter import AsyncLimiter

from gateway import errors
from gateway.backends.index_reads import SyncPage
from gateway.backends.protocol import Backend
from gateway.index.expiry import Expired
from gateway.index.store import INDEX_UNAVAILABLE, ContactIndex, Deployment, describe_failure

log = logging.getLogger("gateway.index")
# After a round with a failed backend, the next round comes this soon (or at refresh_s).
RETRY_FAILED_S = 60.0
# A backend synced less than this share of refresh_s ago is fresh enough for a background round.
FRESH_SHARE = 0.9
# A paged vendor's pages read ahead of the writes (bounded: a pass streams), and the records
# written in one transaction at most.
READ_AHEAD_PAGES = 10
WRITE_BATCH = 1000

Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    backend: str
    synced: bool
    records: int = 0
    error: str | None = None
    skipped: str | None = None  # why no pass ran (another instance holds it, or it is fresh)
    seconds: float = 0.0


class IndexSync:
    """Runs passes for a gateway's backends into its index."""

    def __init__(
        self,
        index: ContactIndex,
        backends: Mapping[str, Backend],
        deployment: Deployment,
        region: str,
        refresh_s: float,
        on_pass: Callable[[str, str, int | None], None] | None = None,
        expire_s: float = 0.0,
    ) -> None:
        # Told of every pass (backend, synced/failed/skipped, records when synced): the metrics.
        self.on_pass = on_pass
        self.index = index
        self.backends = dict(backends)
        self.deployment = deployment
        self.region = region
        self.refresh_s = refresh_s
        # Rows no gateway has run a round for this long expire after each round (0: never).
        self.expire_s = expire_s
        self._whole_list = asyncio.Semaphore(1)
        # One call per 60/n seconds, no burst: a pass never exceeds the rate even briefly.
        self._limiters = {
            name: AsyncLimiter(1, 60.0 / b.settings.index_calls_per_minute) for name, b in self.backends.items()
        }

    async def sync_all(
        self, names: Sequence[str] | None = None, *, force: bool = False, progress: Progress | None = None
    ) -> list[SyncOutcome]:
        """One pass per backend, concurrently; then the people are rebuilt once and every
        completed backend is published SYNCED with them, in one transaction. Each backend's lock
        is held until then, so no other instance starts a pass between the two."""
        chosen = [self.backends[n] for n in (names if names is not None else list(self.backends))]
        try:
            await self.index.mark_seen(self.deployment)  # its rows are in use (`expire_unused`)
        except INDEX_UNAVAILABLE as exc:  # each backend's claim below says so too
            log.error("index: this round could not be recorded: %s", describe_failure(exc))
        async with contextlib.AsyncExitStack() as locks:
            claimed = [await self._claim(locks, backend, force) for backend in chosen]
            outcomes = list(
                await asyncio.gather(
                    *(
                        self._run(backend, progress) if claim is None else _already(claim)
                        for backend, claim in zip(chosen, claimed, strict=True)
                    )
                )
            )
            completed = {self.backends[o.backend].cache_namespace: o.records for o in outcomes if o.synced}
            if completed:
                try:
                    await self.index.publish(self.deployment, completed)
                except INDEX_UNAVAILABLE as exc:
                    error = f"INDEX_UNAVAILABLE: {describe_failure(exc)}"
                    log.error("index: the completed passes could not be published: %s", error)
                    outcomes = [SyncOutcome(o.backend, False, error=error) if o.synced else o for o in outcomes]
        for outcome in outcomes:
            self._told(outcome)
        return outcomes

    async def expire_unused(self) -> Expired:
        """After a round: delete the rows of namespaces and deployments no gateway sharing the
        database has run a round for `expire_s` (gateway/index/expiry.py). Logged, never raised:
        expiry is housekeeping."""
        if not self.expire_s:
            return Expired()
        try:
            expired = await self.index.expire(self.deployment, self.expire_s)
        except INDEX_UNAVAILABLE as exc:
            log.error("index: unused rows could not be expired: %s", describe_failure(exc))
            return Expired()
        if expired:
            log.info(
                "index: expired %d backend namespace(s) (%s) and %d deployment(s) unseen for %g s",
                len(expired.namespaces),
                ", ".join(expired.namespaces),
                expired.deployments,
                self.expire_s,
            )
        return expired

    def _told(self, outcome: SyncOutcome) -> None:
        if self.on_pass is not None:
            kind = "synced" if outcome.synced else "skipped" if outcome.skipped else "failed"
            self.on_pass(outcome.backend, kind, outcome.records if outcome.synced else None)

    async def _claim(self, locks: contextlib.AsyncExitStack, backend: Backend, force: bool) -> SyncOutcome | None:
        """Take `backend`'s sync lock for the round (None), or say why no pass runs."""
        namespace = backend.cache_namespace
        try:
            if not await locks.enter_async_context(self.index.exclusive("sync:" + namespace)):
                return SyncOutcome(backend.name, False, skipped="another instance is syncing it")
            if not force and await self._fresh(namespace):
                return SyncOutcome(backend.name, False, skipped="synced recently by another instance")
        except INDEX_UNAVAILABLE as exc:  # the database itself: nothing can be recorded in it
            error = f"INDEX_UNAVAILABLE: {describe_failure(exc)}"
            log.error("index: backend %s was not synced: %s", backend.name, error)
            return SyncOutcome(backend.name, False, error=error)
        return None

    async def _run(self, backend: Backend, progress: Progress | None) -> SyncOutcome:
        """One pass of a claimed backend (published by the caller)."""
        namespace = backend.cache_namespace
        started = time.monotonic()
        try:
            records = await self._pass(backend, namespace, progress)
        except errors.GatewayError as exc:
            return await self._failed(backend, namespace, f"{exc.code}: {exc.message}", started)
        except INDEX_UNAVAILABLE as exc:
            error = f"INDEX_UNAVAILABLE: {describe_failure(exc)}"
            log.error("index: backend %s was not synced: %s", backend.name, error)
            return SyncOutcome(backend.name, False, error=error, seconds=time.monotonic() - started)
        except Exception as exc:  # a bug: the previous index must survive it
            log.exception("index: the sync pass of backend %s failed", backend.name)
            return await self._failed(backend, namespace, f"INTERNAL: {type(exc).__name__}", started)
        log.info("index: backend %s synced, %d records in %.1f s", backend.name, records, time.monotonic() - started)
        return SyncOutcome(backend.name, True, records, seconds=time.monotonic() - started)

    async def _fresh(self, namespace: str) -> bool:
        synced_at = (await self.index.status([namespace]))[namespace].synced_at
        if synced_at is None:
            return False
        return (datetime.now(UTC) - synced_at).total_seconds() < self.refresh_s * FRESH_SHARE

    async def _pass(self, backend: Backend, namespace: str, progress: Progress | None) -> int:
        # Vendors without paging answer with their whole list at once: one such list in memory
        # at a time (paged vendors go on meanwhile).
        async with contextlib.nullcontext() if backend.syncs_in_pages else self._whole_list:
            return await self._walk(backend, namespace, progress)

    async def _walk(self, backend: Backend, namespace: str, progress: Progress | None) -> int:
        start = await self.index.begin_pass(namespace, backend.name)
        position = start.position
        pages = backend.sync_pages(start.resume_from, self._limiters[backend.name].acquire)
        # A paged vendor's next pages are read while earlier ones are written; a whole list is
        # in memory already, so mapping more of it ahead would only hold more copies.
        arrived: asyncio.Queue[SyncPage | Exception | None] = asyncio.Queue(
            READ_AHEAD_PAGES if backend.syncs_in_pages else 1
        )
        reader = asyncio.create_task(_read_ahead(pages, arrived))
        try:
            async with contextlib.aclosing(_batches(arrived)) as batches:
                async for batch in batches:
                    contacts = [contact for page in batch for contact in page.contacts]
                    await self.index.store_page(
                        namespace, start.number, contacts, position, batch[-1].resume_from, self.region
                    )
                    position += len(contacts)
                    if progress is not None:
                        progress(backend.name, position)
        finally:
            reader.cancel()
            await asyncio.wait({reader})
            if not reader.cancelled() and (failure := reader.exception()) is not None:
                log.error("index: closing backend %s's pages failed: %r", backend.name, failure)
        return await self.index.finish_pass(namespace, start.number)

    async def _failed(self, backend: Backend, namespace: str, error: str, started: float) -> SyncOutcome:
        try:
            await self.index.fail_pass(namespace, error, resumable=True)
        except Exception:
            log.exception("index: could not record the failed pass of backend %s", backend.name)
        log.warning("index: the sync pass of backend %s failed: %s", backend.name, error)
        return SyncOutcome(backend.name, False, error=error, seconds=time.monotonic() - started)

    async def run_forever(self) -> None:
        """`serve`'s background sync: a round at start, then every refresh_s (sooner after a failure)."""
        while True:
            try:
                if not self.index.is_open:
                    await self.index.open()
                    log.info("index: open; each of %d backend(s) synced every %g s", len(self.backends), self.refresh_s)
                outcomes = await self.sync_all()
                await self.expire_unused()
            except INDEX_UNAVAILABLE as exc:  # try again later; queries stay live meanwhile
                log.error("index: the database cannot be opened: %s", describe_failure(exc))
                outcomes = [SyncOutcome("*", False, error="INDEX_UNAVAILABLE")]
            failed = any(o.error is not None for o in outcomes)
            await asyncio.sleep(min(self.refresh_s, RETRY_FAILED_S) if failed else self.refresh_s)


async def _already(outcome: SyncOutcome) -> SyncOutcome:
    return outcome


async def _read_ahead(pages: AsyncGenerator[SyncPage, None], into: asyncio.Queue[SyncPage | Exception | None]) -> None:
    """Every page of a pass into `into`, then None; a failure to read goes in as the exception,
    after the pages read before it (they are written: the next pass resumes after them)."""
    try:
        async for page in pages:
            await into.put(page)
    except Exception as exc:
        await into.put(exc)
        return
    finally:
        await pages.aclose()
    await into.put(None)


async def _batches(arrived: asyncio.Queue[SyncPage | Exception | None]) -> AsyncGenerator[list[SyncPage], None]:
    """The pages in arrival order, grouped: all that arrived while the last group was written,
    up to WRITE_BATCH records, so a vendor's small pages cost one transaction a group, not a page."""
    while True:
        batch: list[SyncPage] = []
        item = await arrived.get()
        while isinstance(item, SyncPage):
            batch.append(item)
            if sum(len(page.contacts) for page in batch) >= WRITE_BATCH or arrived.empty():
                break
            item = arrived.get_nowait()
        if batch:
            yield batch
        if item is None:
            return
        if isinstance(item, Exception):
            raise item
