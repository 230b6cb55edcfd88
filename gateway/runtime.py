"""The running gateway: validated settings plus one live backend per configured entry.

Built once at start (`Gateway.from_settings`) and closed with the app's lifespan; resolvers reach
backends only through it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from gateway import errors
from gateway.backends.protocol import Backend
from gateway.backends.registry import VENDORS
from gateway.cache import ReadCache, lock_name
from gateway.config import GatewaySettings
from gateway.index import INDEX_UNAVAILABLE, ContactIndex, Deployment, describe_failure
from gateway.index.sync import IndexSync
from gateway.metrics import Metrics
from gateway.model import Contact, split_global_id
from gateway.persisted_queries import PersistedQueries
from gateway.redaction import Redactor
from gateway.resilience import remaining
from gateway.response_cache import ResponseCache
from resolvers.cursor import cursor_key

log = logging.getLogger("gateway.runtime")
# A write lock outlives its request's deadline by this much (the deadline's grace included), so
# it cannot lapse while the write it guards is still running.
WRITE_LEASE_MARGIN_S = 5.0


class Gateway:
    def __init__(
        self, settings: GatewaySettings, backends: Mapping[str, Backend], cache: ReadCache, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.backends: dict[str, Backend] = dict(backends)
        self.redact = Redactor(settings.secrets())
        secret = settings.server.cursor_secret
        self.cursor_key = cursor_key(
            secret.get_secret_value() if secret else None, [s for b in settings.backends.values() for s in b.secrets()]
        )
        self.cache = cache
        self.metrics = metrics
        namespaces = {name: backend.cache_namespace for name, backend in self.backends.items()}
        digest = hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:16]
        self.responses = ResponseCache(cache, namespaces, settings.response_ttl(), digest)
        self.persisted = PersistedQueries(cache)
        # The contact index (None when `index: false`); opened by `open_index`, so building a
        # gateway (tests, `query`) touches no database until something asks for the index.
        url = settings.index_url()
        self.index = ContactIndex(url, schema=settings.index.schema_name) if url is not None else None
        self.deployment = Deployment.of(list(namespaces.values()))
        self.sync = (
            IndexSync(
                self.index,
                self.backends,
                self.deployment,
                settings.server.default_region,
                settings.index.refresh_s,
                on_pass=metrics.observe_pass,
                expire_s=settings.index.expire_s,
            )
            if self.index is not None
            else None
        )

        # Backend calls a response no longer waits for (`let_finish`), kept until they end.
        self.finishing: set[asyncio.Future[Any]] = set()

    def let_finish(self, calls: Iterable[asyncio.Future[Any]]) -> None:
        """Let calls a response did not wait for end on their own: their answers still fill the
        cache and their connections go back to the pool. They are bounded by the request's
        deadline like any call, and cancelled when the gateway closes."""
        for call in calls:
            if not call.done():
                self.finishing.add(call)
                call.add_done_callback(self.finishing.discard)

    async def open_index(self) -> None:
        """Connect to the index and migrate it (errors propagate: the caller decides)."""
        if self.index is not None:
            await self.index.open()

    async def open_index_or_log(self) -> bool:
        """Open the index if it is on; a database that cannot be reached is logged in one line
        (queries are then answered live). Whether it is open."""
        if self.index is None:
            return False
        try:
            await self.index.open()
        except INDEX_UNAVAILABLE as exc:
            log.error("index: the database cannot be opened: %s", describe_failure(exc))
            return False
        return True

    @property
    def index_open(self) -> bool:
        return self.index is not None and self.index.is_open

    async def indexed(self, backends: list[Backend]) -> set[str]:
        """The names of those backends whose index can answer (a first full pass completed)."""
        if self.index is None or not self.index.is_open or not backends:
            return set()
        try:
            synced = await self.index.synced([b.cache_namespace for b in backends])
        except INDEX_UNAVAILABLE as exc:  # the database is down: answer live (and say so)
            log.error("index: cannot be read, answering live: %s", describe_failure(exc))
            return set()
        return {b.name for b in backends if b.cache_namespace in synced}

    @classmethod
    def from_settings(
        cls,
        settings: GatewaySettings,
        *,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> Gateway:
        """Build every backend; `transports` lets tests route a backend to a simulator in-process."""
        transports = transports or {}
        metrics = Metrics()
        cache = ReadCache(
            settings.cache.url, on_event=metrics.cache_event, max_connections=settings.cache.max_connections
        )
        backends = {
            name: VENDORS[conf.vendor](
                name,
                conf,
                region=settings.server.default_region,
                transport=transports.get(name),
                cache=cache,
                ttl_s=settings.ttl_for(name),
                stale_s=settings.stale_for(name),
                metrics=metrics,
            )
            for name, conf in settings.backends.items()
        }
        gateway = cls(settings, backends, cache, metrics)
        metrics.watch(lambda: {n: b.breaker_state for n, b in backends.items()}, cache.inflight_by_backend)
        return gateway

    def backend(self, name: str) -> Backend:
        """The backend called `name`, or BAD_USER_INPUT naming the configured ones."""
        found = self.backends.get(name)
        if found is None:
            configured = ", ".join(self.backends) or "none"
            raise errors.BadUserInput(
                f"no backend named '{name}' is configured (configured: {configured})",
                fields={"backend": "unknown"},
            )
        return found

    def locate(self, global_id: str) -> tuple[Backend, str]:
        """The backend and native id a `<backend>:<nativeId>` id names, checked before any call."""
        parts = split_global_id(global_id)
        if parts is None:
            raise errors.BadUserInput(
                f"'{global_id}' is not a contact id: expected <backend>:<nativeId>",
                fields={"id": "malformed"},
            )
        backend = self.backend(parts[0])
        backend.check_native_id(parts[1])
        return backend, parts[1]

    async def after_write(self, backend: str) -> None:
        """Called once a write to `backend` went out (or may have): its cached reads are stale.
        When that cannot be recorded in time, the request's cache log says so (a warning)."""
        await self.backends[backend].forget_cached_reads()

    def serialised(self, backend: Backend, record: str) -> AbstractAsyncContextManager[None]:
        """Hold one record of `backend` against every other write through any instance sharing
        the cache, for the whole read-modify-write (the lease outlives the request's deadline)."""
        deadline = self.settings.server.deadline_s
        left = remaining()
        return self.cache.exclusive(
            lock_name(backend.cache_namespace, record),
            lease_s=deadline + WRITE_LEASE_MARGIN_S,
            wait_s=deadline if left is None else max(0.0, left),
        )

    async def index_written(self, backend: Backend, contact: Contact) -> None:
        """A write through the gateway reaches the index before the mutation returns (the vendor
        has it already: a database failure here is logged, and the next pass repairs it)."""
        if self.index is None or not self.index.is_open:
            return
        try:
            await self.index.record_written(
                self.deployment, backend.cache_namespace, contact, self.settings.server.default_region
            )
        except Exception:
            log.exception("index: could not record a write to backend %s", backend.name)

    async def index_deleted(self, backend: Backend, native_id: str) -> None:
        if self.index is None or not self.index.is_open:
            return
        try:
            await self.index.record_deleted(self.deployment, backend.cache_namespace, native_id)
        except Exception:
            log.exception("index: could not record a delete in backend %s", backend.name)

    async def aclose(self) -> None:
        for call in list(self.finishing):
            call.cancel()
        await asyncio.gather(*self.finishing, return_exceptions=True)
        for backend in self.backends.values():
            await backend.aclose()
        await self.cache.aclose()
        if self.index is not None:
            await self.index.aclose()
