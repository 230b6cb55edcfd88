"""The cache of vendor reads, on aiocache: memory by default, Redis for several instances.

Keys are `cg:<backend>:<credential hash>:<generation>:<hash of the call>`: a backend name, a hash
naming whose data it is (never a secret), a generation that every write bumps (so a write on one
instance makes every instance's entries unreachable before the mutation returns), and a hash of
the method, path and parameters (no filter values in clear). Entries outlive their TTL by
`stale_s`, so a failing vendor can be answered from the last good copy (stale-if-error, reported
per request). Identical reads in flight at once go out once (single-flight). A cache that is down
is bypassed, logged once and retried every few seconds: never an error for the client.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiocache import SimpleMemoryCache
from aiocache.serializers import BaseSerializer, NullSerializer

from gateway import errors
from gateway.resilience import remaining

log = logging.getLogger("gateway.cache")

PREFIX = "cg"
RETRY_AFTER_OUTAGE_S = 3.0
OPERATION_TIMEOUT_S = 0.5
# Cross-instance single-flight over Redis: the first instance to miss takes a short lock and
# loads; the others poll for its entry. The lock expires by itself if its holder dies.
LOAD_LOCK_S = 10.0
LOAD_POLL_S = 0.02
# Failures of the vendor itself: a stale copy is better than nothing. An auth failure is not one
# of them: data the gateway may no longer see must not keep flowing from the cache.
STALE_ON = (errors.BackendUnavailable, errors.BackendTimeout, errors.BackendBadResponse)


@dataclass(frozen=True, slots=True)
class StaleRead:
    backend: str
    age_s: float


@dataclass
class RequestCacheLog:
    """What the cache did for one request (read by the response: `extensions.stale`)."""

    stale: list[StaleRead] = field(default_factory=list)
    hits: int = 0
    misses: int = 0


CURRENT: ContextVar[RequestCacheLog | None] = ContextVar("contact_gateway_cache_log", default=None)


class OrjsonSerializer(BaseSerializer):  # type: ignore[misc]
    DEFAULT_ENCODING = None

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(self, value: bytes | None) -> Any:
        return None if value is None else orjson.loads(value)


def call_key(method: str, path: str, params: Mapping[str, Any] | None) -> str:
    """A hash of one vendor call: parameters (emails, names) never appear in clear."""
    canonical = orjson.dumps([method, path, sorted((str(k), str(v)) for k, v in (params or {}).items())])
    return hashlib.sha256(canonical).hexdigest()[:32]


class ReadCache:
    def __init__(self, url: str = "memory://", on_event: Callable[[str, str], None] | None = None) -> None:
        self.url = url
        self.on_event = on_event or (lambda backend, event: None)
        self.shared = url.startswith("redis://")
        self.store: Any = self._open(url)
        self.healthy = True
        self.last_error: str | None = None
        self._retry_at = 0.0
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self._generations: dict[str, int] = {}  # memory mode: generations live here

    @staticmethod
    def _open(url: str) -> Any:
        if url.startswith("redis://"):
            from aiocache import RedisCache

            return RedisCache(
                **_redis_options(url),
                serializer=OrjsonSerializer(),
                timeout=None,  # `_guarded` bounds every operation already
                connection_pool_kwargs={"socket_timeout": OPERATION_TIMEOUT_S},
            )
        # No per-operation timeout: nothing in memory can hang, and aiocache's costs a task each.
        return SimpleMemoryCache(serializer=NullSerializer(), timeout=None)

    # ------------------------------------------------------------------ resilience

    async def _guarded(self, operation: Callable[[], Awaitable[Any]]) -> tuple[bool, Any]:
        """Run a store operation; (False, None) when the store is down (then bypassed a while)."""
        if not self.shared:
            return True, await operation()
        if not self.healthy and time.monotonic() < self._retry_at:
            return False, None
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT_S):
                value = await operation()
        except Exception as exc:  # any client error: the cache is an optimisation, never a failure
            if self.healthy:
                log.warning("cache %s unreachable (%s): serving without cache", _safe_url(self.url), type(exc).__name__)
            self.healthy = False
            self.last_error = type(exc).__name__
            self._retry_at = time.monotonic() + RETRY_AFTER_OUTAGE_S
            return False, None
        if not self.healthy:
            log.warning("cache %s reachable again", _safe_url(self.url))
            self.healthy = True
            self.last_error = None
        return True, value

    async def ping(self) -> bool:
        if not self.shared:
            return True
        ok, _ = await self._guarded(lambda: self.store.client.ping())
        return ok

    # ------------------------------------------------------------------ generations

    async def generation(self, namespace: str) -> int | None:
        """The namespace's current generation; None when the shared store is unreachable."""
        if not self.shared:
            return self._generations.get(namespace, 0)
        ok, value = await self._guarded(lambda: self.store.get(f"{PREFIX}:{namespace}:gen"))
        if not ok:
            return None
        return int(value or 0)

    async def generations(self, namespaces: list[str]) -> list[int] | None:
        """The generations of several namespaces at once (one round trip); None when unreachable."""
        if not self.shared:
            return [self._generations.get(n, 0) for n in namespaces]
        if not namespaces:
            return []
        ok, values = await self._guarded(lambda: self.store.multi_get([f"{PREFIX}:{n}:gen" for n in namespaces]))
        if not ok:
            return None
        return [int(v or 0) for v in values]

    async def get_value(self, key: str) -> Any:
        """A plain value stored with `set_value`, or None (also when the store is unreachable)."""
        _, value = await self._guarded(lambda: self.store.get(key))
        return value

    async def set_value(self, key: str, value: Any, ttl_s: float) -> None:
        await self._guarded(lambda: self.store.set(key, value, ttl=max(1, int(ttl_s + 0.999))))

    async def bump(self, namespace: str) -> None:
        """Make every entry of `namespace` unreachable, on every instance sharing the store."""
        self._generations[namespace] = self._generations.get(namespace, 0) + 1
        if self.shared:
            await self._guarded(lambda: self.store.increment(f"{PREFIX}:{namespace}:gen"))

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
    ) -> Any:
        """The payload of a vendor read: fresh from the cache, or loaded once for all waiters."""
        log_ = CURRENT.get()
        generation = await self.generation(namespace) if ttl_s > 0 else None
        key = f"{PREFIX}:{namespace}:{generation}:{call}"
        entry = None
        if generation is not None:
            _, entry = await self._guarded(lambda: self.store.get(key))
        now = time.time()
        if entry is not None and now - entry["t"] < ttl_s:
            if log_ is not None:
                log_.hits += 1
            self.on_event(backend, "hit")
            return _unwrap(entry, backend)
        if log_ is not None:
            log_.misses += 1
        task = self._inflight.get(key)
        self.on_event(backend, "miss" if task is None else "coalesced")
        if task is None:
            task = asyncio.ensure_future(self._load(key, generation, ttl_s, stale_s, load))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        try:
            return await asyncio.shield(task)
        except STALE_ON:
            if entry is None or now - entry["t"] >= ttl_s + stale_s:
                raise
            age = round(now - entry["t"], 3)
            log.info("backend %s failing: answering from a copy %.1f s old", backend, age)
            if log_ is not None:
                log_.stale.append(StaleRead(backend, age))
            self.on_event(backend, "stale")
            return _unwrap(entry, backend)

    async def _load(
        self, key: str, generation: int | None, ttl_s: float, stale_s: float, load: Callable[[], Awaitable[Any]]
    ) -> Any:
        lock = await self._lock(key) if self.shared and generation is not None else None
        if lock is False:
            entry = await self._wait_for_other_instance(key, ttl_s)
            if entry is not None:
                return entry
        try:
            payload = await load()
        except errors.NotFound:
            await self._store(key, generation, {"t": time.time(), "missing": True}, ttl_s)
            raise
        finally:
            if lock is True:
                await self._guarded(lambda: self.store.client.delete(f"{key}:lock"))
        await self._store(key, generation, {"t": time.time(), "p": payload}, ttl_s + stale_s)
        return payload

    async def _lock(self, key: str) -> bool | None:
        """True: this instance loads. False: another one is loading. None: the store is down."""
        ok, taken = await self._guarded(
            lambda: self.store.client.set(f"{key}:lock", b"1", nx=True, px=int(LOAD_LOCK_S * 1000))
        )
        return bool(taken) if ok else None

    async def _wait_for_other_instance(self, key: str, ttl_s: float) -> Any:
        """The payload another instance is loading, once stored; None when it gave up (or we must)."""
        budget = remaining()
        give_up = time.monotonic() + min(LOAD_LOCK_S, budget if budget is not None else LOAD_LOCK_S)
        while time.monotonic() < give_up:
            await asyncio.sleep(LOAD_POLL_S)
            ok, entry = await self._guarded(lambda: self.store.get(key))
            if not ok:
                return None
            if entry is not None and time.time() - entry["t"] < ttl_s:
                return _unwrap(entry, key.split(":", 2)[1])
            ok, held = await self._guarded(lambda: self.store.client.exists(f"{key}:lock"))
            if not ok or not held:
                ok, entry = await self._guarded(lambda: self.store.get(key))
                fresh = ok and entry is not None and time.time() - entry["t"] < ttl_s
                return _unwrap(entry, key.split(":", 2)[1]) if fresh else None
        return None

    async def _store(self, key: str, generation: int | None, entry: dict[str, Any], keep_s: float) -> None:
        if generation is None or keep_s <= 0:
            return
        await self._guarded(lambda: self.store.set(key, entry, ttl=max(1, int(keep_s + 0.999))))

    def inflight_by_backend(self) -> dict[str, int]:
        """Distinct vendor reads in flight, by backend (keys are `cg:<backend>:...`)."""
        counts: dict[str, int] = {}
        for key in list(self._inflight):
            backend = key.split(":", 2)[1]
            counts[backend] = counts.get(backend, 0) + 1
        return counts

    async def clear(self) -> None:
        await self._guarded(lambda: self.store.clear())

    async def aclose(self) -> None:
        if self.shared:
            # aiocache's close() calls redis-py's deprecated close(); aclose() is the current one.
            await self._guarded(lambda: self.store.client.aclose())
        else:
            await self._guarded(lambda: self.store.close())


def _unwrap(entry: Mapping[str, Any], backend: str) -> Any:
    if entry.get("missing"):
        raise errors.NotFound(f"backend '{backend}' has no such record", backend=backend)
    return entry["p"]


def _redis_options(url: str) -> dict[str, Any]:
    import urllib.parse

    parsed = urllib.parse.urlparse(url)
    options: dict[str, Any] = {"endpoint": parsed.hostname or "127.0.0.1", "port": parsed.port or 6379}
    db = parsed.path.lstrip("/")
    if db:
        options["db"] = int(db)
    if parsed.password:
        options["password"] = urllib.parse.unquote(parsed.password)
    return options


def _safe_url(url: str) -> str:
    """The URL without a password, for logs."""
    import urllib.parse

    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname or ""
    return f"{parsed.scheme}://{host}{':' + str(parsed.port) if parsed.port else ''}{parsed.path}"
