"""The running gateway: validated settings plus one live backend per configured entry.

Built once at start (`Gateway.from_settings`) and closed with the app's lifespan; resolvers reach
backends only through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager

import httpx

from gateway import errors
from gateway.backends.base import HttpBackend
from gateway.backends.registry import VENDORS
from gateway.cache import ReadCache, lock_name
from gateway.config import GatewaySettings
from gateway.metrics import Metrics
from gateway.model import split_global_id
from gateway.persisted_queries import PersistedQueries
from gateway.redaction import Redactor
from gateway.resilience import remaining
from gateway.response_cache import ResponseCache
from resolvers.cursor import cursor_key

# A write lock outlives its request's deadline by this much (the deadline's grace included), so
# it cannot lapse while the write it guards is still running.
WRITE_LEASE_MARGIN_S = 5.0


class Gateway:
    def __init__(
        self, settings: GatewaySettings, backends: Mapping[str, HttpBackend], cache: ReadCache, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.backends: dict[str, HttpBackend] = dict(backends)
        self.redact = Redactor(settings.secrets())
        secret = settings.server.cursor_secret
        self.cursor_key = cursor_key(
            secret.get_secret_value() if secret else None, [s for b in settings.backends.values() for s in b.secrets()]
        )
        self.cache = cache
        self.metrics = metrics
        namespaces = {name: backend.http.cache_namespace for name, backend in self.backends.items()}
        digest = hashlib.sha256(settings.model_dump_json().encode()).hexdigest()[:16]
        self.responses = ResponseCache(cache, namespaces, settings.response_ttl(), digest)
        self.persisted = PersistedQueries(cache)

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
        metrics.watch(lambda: {n: b.http.breaker.state for n, b in backends.items()}, cache.inflight_by_backend)
        return gateway

    def backend(self, name: str) -> HttpBackend:
        """The backend called `name`, or BAD_USER_INPUT naming the configured ones."""
        found = self.backends.get(name)
        if found is None:
            configured = ", ".join(self.backends) or "none"
            raise errors.BadUserInput(
                f"no backend named '{name}' is configured (configured: {configured})",
                fields={"backend": "unknown"},
            )
        return found

    def locate(self, global_id: str) -> tuple[HttpBackend, str]:
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

    def serialised(self, backend: HttpBackend, record: str) -> AbstractAsyncContextManager[None]:
        """Hold one record of `backend` against every other write through any instance sharing
        the cache, for the whole read-modify-write (the lease outlives the request's deadline)."""
        deadline = self.settings.server.deadline_s
        left = remaining()
        return self.cache.exclusive(
            lock_name(backend.http.cache_namespace, record),
            lease_s=deadline + WRITE_LEASE_MARGIN_S,
            wait_s=deadline if left is None else max(0.0, left),
        )

    async def aclose(self) -> None:
        for backend in self.backends.values():
            await backend.aclose()
        await self.cache.aclose()
