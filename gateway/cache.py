"""The cache of vendor reads, on aiocache: memory by default, Redis for several instances.

Keys are `cg:<backend>:<credential hash>:<generation>:<hash of the call>`: a backend name, a hash
naming whose data it is (never a secret), a generation that every write bumps (so a write on one
instance makes every instance's entries unreachable before the mutation returns), and a hash of
the method, path and parameters (no filter values in clear). Entries outlive their TTL by
`stale_s`, so a failing vendor can be answered from the last good copy (stale-if-error, reported
per request). Identical reads in flight at once go out once (single-flight, across instances
through a short Redis lock). A cache that is down is bypassed for reads, logged once and retried
every few seconds: never an error for a reader.

Writes are stricter than reads. A generation bump is retried until the request's deadline; when it
still cannot be recorded, this instance reads that backend uncached until it can, and the request
is told (`RequestCacheLog.pending_invalidations`). An instance that saw the store fail bumps every
namespace it knows once the store answers again: it cannot know what other instances wrote
meanwhile. `exclusive()` serialises work on one name (a record being rewritten) across instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiocache.base import BaseCache

from gateway import errors
from gateway.cache_entries import Entry
from gateway.cache_store import (
    CONNECT_TIMEOUT_S,
    DEFAULT_MAX_CONNECTIONS,
    POOL_WAIT_S,
    LocalLocks,
    StoreLock,
    attempt,
    open_store,
    safe_url,
)
from gateway.resilience import remaining

log = logging.getLogger("gateway.cache")

PREFIX = "cg"
RETRY_AFTER_OUTAGE_S = 3.0
# Cross-instance single-flight over Redis: the first instance to miss takes a lock and loads; the
# others poll for its entry.
LOAD_POLL_S = 0.02
# A generation bump that failed is tried again this often, in the background, until it lands.
BUMP_RETRY_S = 0.1
# Failures of the vendor itself: a stale copy is better than nothing. An auth failure is not one
# of them: data the gateway may no longer see must not keep flowing from the cache.
STALE_ON = (errors.BackendUnavailable, errors.BackendTimeout, errors.BackendBadResponse)


@dataclass(frozen=True, slots=True)
class StaleRead:
    backend: str
    age_s: float


@dataclass
class RequestCacheLog:
    """What the cache did for one request, for its response's `extensions`."""

    stale: list[StaleRead] = field(default_factory=list)
    # Backends whose write could not be recorded in the shared cache before the deadline.
    pending_invalidations: list[str] = field(default_factory=list)


CURRENT: ContextVar[RequestCacheLog | None] = ContextVar("contact_gateway_cache_log", default=None)


class ReadCache:
    def __init__(
        self,
        url: str = "memory://",
        on_event: Callable[[str, str], None] | None = None,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.url = url
        self.on_event = on_event or (lambda backend, event: None)
        self.shared = url.startswith("redis://")
        self.store: BaseCache = open_store(url, max_connections)
        self.healthy = True
        self.last_error: str | None = None
        self._retry_at = 0.0
        self._inflight: dict[str, tuple[str, asyncio.Task[Any]]] = {}
        self._generations: dict[str, int] = {}  # memory mode: generations live here
        self._known: set[str] = set()  # namespaces this instance has used (bumped after an outage)
        self._unproven: dict[str, asyncio.Task[None]] = {}  # namespaces with a bump not yet recorded
        self._local_locks = LocalLocks()
        # Shared-store reads asked for in this turn of the event loop, sent as one MGET (`_read_together`).
        self._reads: list[tuple[list[str], asyncio.Future[list[Any]]]] = []
        self._reading: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ resilience

    async def _guarded(self, operation: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
        """Run a store operation; (False, None) when the store is down (then bypassed a while)."""
        if not self.shared:
            return True, await operation()
        if not self.healthy and time.monotonic() < self._retry_at:
            return False, None
        try:
            value = await attempt(operation)
        except Exception as exc:  # any client error: for reads the cache is an optimisation
            self._went_down(exc)
            return False, None
        self._came_back()
        return True, value

    def _went_down(self, exc: BaseException) -> None:
        if self.healthy:
            log.warning("cache %s unreachable (%s): serving without cache", safe_url(self.url), type(exc).__name__)
        self.healthy = False
        self.last_error = type(exc).__name__
        self._retry_at = time.monotonic() + RETRY_AFTER_OUTAGE_S

    def _came_back(self) -> None:
        if self.healthy:
            return
        log.warning("cache %s reachable again", safe_url(self.url))
        self.healthy = True
        self.last_error = None
        # Another instance may have written while neither of us could record it: nothing cached
        # before the outage can be proven current any more.
        for namespace in self._known:
            self._retry_bump_later(namespace)

    async def ping(self) -> bool:
        if not self.shared:
            return True
        ok, _ = await self._guarded(lambda: self.store.client.ping())
        return ok

    # ------------------------------------------------------------------ generations

    async def generation(self, namespace: str) -> int | None:
        """The namespace's current generation; None when it cannot be proven (store down, or a
        bump of ours not yet recorded): then nothing of it is read from the cache."""
        found = await self._generations_with([namespace], [])
        return None if found is None else found[0][0]

    async def generations_and_value(self, namespaces: list[str], key: str) -> tuple[list[int], Any] | None:
        """The generations of `namespaces` and the value `set_value` stored at `key`, in one round
        trip to a shared store; None when a generation is unproven (or the store is down)."""
        found = await self._generations_with(namespaces, [key])
        return None if found is None else (found[0], found[1][0])

    async def _generations_with(self, namespaces: list[str], keys: list[str]) -> tuple[list[int], list[Any]] | None:
        """The generations of `namespaces` and the plain values stored at `keys`, read together."""
        self._known.update(namespaces)
        if self._unproven and any(n in self._unproven for n in namespaces):
            return None
        if not self.shared:
            return [self._generations.get(n, 0) for n in namespaces], [await self._read_memory(k) for k in keys]
        asked = [*(_generation_key(n) for n in namespaces), *keys]
        if not asked:
            return [], []
        ok, values = await self._guarded(lambda: self._read_together(asked))
        if not ok:
            return None
        count = len(namespaces)
        return [int(v or 0) for v in values[:count]], list(values[count:])

    def _read_together(self, keys: list[str]) -> asyncio.Future[list[Any]]:
        """The values at `keys` in the shared store. Every read asked for in the same turn of the
        event loop goes in one MGET: under load several requests reach their cache check in one
        turn, and each round trip costs the gateway a send and a receive and Redis a command."""
        loop = asyncio.get_running_loop()
        if not self._reads:
            loop.call_soon(self._send_reads)
        answer: asyncio.Future[list[Any]] = loop.create_future()
        self._reads.append((keys, answer))
        return answer

    def _send_reads(self) -> None:
        reads, self._reads = self._reads, []
        task = asyncio.ensure_future(self._read_all(reads))
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)

    async def _read_all(self, reads: list[tuple[list[str], asyncio.Future[list[Any]]]]) -> None:
        """One MGET for `reads`; each waiter gets its own slice, or the failure (a waiter that
        gave up meanwhile is skipped)."""
        try:
            values = await attempt(lambda: self.store.multi_get([key for keys, _ in reads for key in keys]))
        except Exception as exc:
            for _, answer in reads:
                if not answer.done():
                    answer.set_exception(exc)
            return
        start = 0
        for keys, answer in reads:
            if not answer.done():
                answer.set_result(list(values[start : start + len(keys)]))
            start += len(keys)

    async def bump(self, namespace: str, *, backend: str) -> bool:
        """Make every entry of `namespace` unreachable, on every instance sharing the store.

        Retried until the request's deadline. False when it could not be recorded: this instance
        then bypasses the namespace (and keeps trying in the background) and the request says so."""
        self._known.add(namespace)
        self._generations[namespace] = self._generations.get(namespace, 0) + 1
        if not self.shared:
            return True
        if await self._increment_until_deadline(namespace):
            return True
        log_ = CURRENT.get()
        if log_ is not None:
            log_.pending_invalidations.append(backend)
        self._retry_bump_later(namespace)
        return False

    async def _increment_until_deadline(self, namespace: str) -> bool:
        left = remaining()
        give_up = time.monotonic() + (left if left is not None else POOL_WAIT_S + CONNECT_TIMEOUT_S)
        pause = BUMP_RETRY_S
        while True:
            try:
                await attempt(lambda: self.store.increment(_generation_key(namespace)))
            except Exception as exc:
                self._went_down(exc)
                if time.monotonic() + pause >= give_up:
                    return False
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            self._came_back()
            return True

    def _retry_bump_later(self, namespace: str) -> None:
        if namespace in self._unproven:
            return

        async def until_recorded() -> None:
            while True:
                try:
                    await attempt(lambda: self.store.increment(_generation_key(namespace)))
                except Exception:  # still down: try again shortly
                    await asyncio.sleep(BUMP_RETRY_S)
                    continue
                self._unproven.pop(namespace, None)
                self._came_back()
                return

        self._unproven[namespace] = asyncio.get_running_loop().create_task(until_recorded())

    # ------------------------------------------------------------------ plain values

    async def get_value(self, key: str) -> Any:
        """A plain value stored with `set_value`, or None (also when the store is unreachable)."""
        if not self.shared:
            return await self._read_memory(key)
        ok, values = await self._guarded(lambda: self._read_together([key]))
        return values[0] if ok else None

    async def _read_memory(self, key: str) -> Any:
        """A read of the memory store through its backend's own get: aiocache's public `get` wraps
        every call in an environment lookup (AIOCACHE_DISABLE), a timeout wrapper, plugin hooks with
        two clock reads, key building and a debug log, none of which a dict lookup needs (no
        namespace, no plugins, no timeout and the null serializer: `open_store`)."""
        return await self.store._get(key)

    async def set_value(self, key: str, value: Any, ttl_s: float) -> None:
        await self._guarded(lambda: self.store.set(key, value, ttl=_whole_seconds(ttl_s)))

    # ------------------------------------------------------------------ reads

    async def fetch(
        self,
        namespace: str,
        call: str,
        ttl_s: float,
        stale_s: float,
        load: Callable[[], Awaitable[Any]],
        *,
        backend: str,
        lease_s: float,
    ) -> Any:
        """The payload of a vendor read: fresh from the cache, or loaded once for all waiters.
        `lease_s` bounds how long one load may take (a cross-instance lock lives that long)."""
        log_ = CURRENT.get()
        generation = await self.generation(namespace) if ttl_s > 0 else None
        key = f"{PREFIX}:{namespace}:{generation}:{call}"
        entry = (await self._entry(key))[1] if generation is not None else None
        now = time.time()
        if entry is not None and entry.fresh(ttl_s, now):
            self.on_event(backend, "hit")
            # A hit never waits on I/O in memory: yield, so a loop of hits cannot hold the loop.
            await asyncio.sleep(0)
            return entry.unwrap(backend)
        inflight = self._inflight.get(key)
        self.on_event(backend, "miss" if inflight is None else "coalesced")
        if inflight is None:
            task = asyncio.ensure_future(self._load(key, generation, ttl_s, stale_s, lease_s, load, backend))
            self._inflight[key] = (backend, task)
            task.add_done_callback(lambda done: self._loaded(key, done))
        else:
            task = inflight[1]
        try:
            return await asyncio.shield(task)
        except STALE_ON:
            if entry is None or entry.age(now) >= ttl_s + stale_s:
                raise
            age = round(entry.age(now), 3)
            log.info("backend %s failing: answering from a copy %.1f s old", backend, age)
            if log_ is not None:
                log_.stale.append(StaleRead(backend, age))
            self.on_event(backend, "stale")
            return entry.unwrap(backend)

    def _loaded(self, key: str, task: asyncio.Task[Any]) -> None:
        self._inflight.pop(key, None)
        # Every waiter may have left at the deadline before the load failed: the failure is
        # theirs to report, so mark it seen (else asyncio logs "exception was never retrieved").
        if not task.cancelled():
            task.exception()

    async def _load(
        self,
        key: str,
        generation: int | None,
        ttl_s: float,
        stale_s: float,
        lease_s: float,
        load: Callable[[], Awaitable[Any]],
        backend: str,
    ) -> Any:
        lock: StoreLock | None = None
        if self.shared and generation is not None:
            lock = taken_lock = self._redis_lock(f"{key}:lock", lease_s)
            ok, taken = await self._guarded(taken_lock.acquire)
            if not ok:
                lock = None  # the store is down: load without it
            elif not taken:
                lock = None
                entry = await self._wait_for_other_instance(key, ttl_s, lease_s)
                if entry is not None:
                    return entry.unwrap(backend)
            else:
                # Another instance may have stored the entry between our miss and our lock.
                _, entry = await self._entry(key)
                if entry is not None and entry.fresh(ttl_s):
                    await self._release(lock)
                    return entry.unwrap(backend)
        try:
            try:
                payload = await load()
            except errors.NotFound:
                await self._store(key, generation, Entry(time.time(), missing=True), ttl_s)
                raise
            await self._store(key, generation, Entry(time.time(), payload), ttl_s + stale_s)
            return payload
        finally:
            if lock is not None:  # only after the entry is stored: a waiter must find it
                await self._release(lock)

    def _redis_lock(self, name: str, lease_s: float) -> StoreLock:
        return StoreLock(self.store.client, name, lease_s)

    async def _release(self, lock: StoreLock) -> None:
        with contextlib.suppress(Exception):  # the store is down: the lease lapses by itself
            await attempt(lock.release)

    async def _wait_for_other_instance(self, key: str, ttl_s: float, lease_s: float) -> Entry | None:
        """The entry another instance is loading, once stored; None when it gave up (or we must)."""
        budget = remaining()
        give_up = time.monotonic() + min(lease_s, budget if budget is not None else lease_s)
        while time.monotonic() < give_up:
            await asyncio.sleep(LOAD_POLL_S)
            ok, entry = await self._entry(key)
            if not ok or (entry is not None and entry.fresh(ttl_s)):
                return entry
            ok, held = await self._guarded(lambda: self.store.exists(f"{key}:lock"))
            if not ok or not held:
                ok, entry = await self._entry(key)
                return entry if entry is not None and entry.fresh(ttl_s) else None
        return None

    async def _entry(self, key: str) -> tuple[bool, Entry | None]:
        """(reachable, the entry stored under `key` if any)."""
        if not self.shared:
            return True, Entry.from_stored(await self._read_memory(key))
        ok, stored = await self._guarded(lambda: self._read_together([key]))
        return ok, Entry.from_stored(stored[0]) if ok else None

    async def _store(self, key: str, generation: int | None, entry: Entry, keep_s: float) -> None:
        if generation is None or keep_s <= 0:
            return
        await self._guarded(lambda: self.store.set(key, entry, ttl=_whole_seconds(keep_s)))

    # ------------------------------------------------------------------ serialising writes

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str, lease_s: float, wait_s: float) -> AsyncIterator[None]:
        """Hold `name` against every instance sharing the store (in this process for memory).

        Waits up to `wait_s` for another holder (errors.Conflict after that). A shared store that
        cannot be reached within `wait_s` gives errors.CacheUnavailable: nothing can be serialised, so
        nothing may proceed."""
        if not self.shared:
            async with self._local_locks.hold(name):
                yield
            return
        lock = self._redis_lock(f"{PREFIX}:lock:{name}", lease_s)
        give_up = time.monotonic() + wait_s
        unreachable = False
        while True:
            try:
                taken = await attempt(lock.acquire)
                unreachable = False
            except Exception as exc:  # stalled or down: keep trying until the wait is over
                self._went_down(exc)
                taken, unreachable = False, True
            if taken:
                break
            if time.monotonic() + LOAD_POLL_S >= give_up:
                if unreachable:
                    raise errors.CacheUnavailable(
                        "the shared cache cannot be reached, so this write cannot be serialised with"
                        " other instances' writes to the same record; nothing was written, try again shortly"
                    )
                raise errors.Conflict(
                    "another write to the same record is still in progress; nothing was written, try again",
                    details={"reason": "WRITE_IN_PROGRESS"},
                )
            await asyncio.sleep(LOAD_POLL_S)
        self._came_back()
        try:
            yield
        finally:
            await self._release(lock)

    # ------------------------------------------------------------------ state

    def inflight_by_backend(self) -> dict[str, int]:
        """Distinct vendor reads in flight, by backend."""
        counts: dict[str, int] = {}
        for backend, _ in list(self._inflight.values()):
            counts[backend] = counts.get(backend, 0) + 1
        return counts

    async def clear(self) -> None:
        await self._guarded(lambda: self.store.clear())

    async def aclose(self) -> None:
        for task in self._unproven.values():
            task.cancel()
        self._unproven.clear()
        if self.shared:
            # aiocache's close() calls redis-py's deprecated close(); aclose() is the current one.
            await self._guarded(lambda: self.store.client.aclose())
            await self._guarded(lambda: self.store.client.connection_pool.disconnect())
        else:
            await self._guarded(lambda: self.store.close())


def _generation_key(namespace: str) -> str:
    return f"{PREFIX}:{namespace}:gen"


def _whole_seconds(ttl_s: float) -> int:
    return max(1, int(ttl_s + 0.999))


def lock_name(namespace: str, record: str) -> str:
    """The `exclusive` name for writes to one record of a namespace (the id hashed, never in clear)."""
    return f"{namespace}:write:{hashlib.sha256(record.encode()).hexdigest()[:24]}"
