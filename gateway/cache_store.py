"""The store under the read cache: aiocache's memory backend, or Redis with a bounded, blocking
connection pool and bounded waits; named locks in Redis (owner token, lease, compare-and-delete)
and in this process. Nothing here knows generations, entries or vendors: `gateway.cache` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from aiocache import RedisCache, SimpleMemoryCache
from aiocache.base import BaseCache
from aiocache.serializers import BaseSerializer, NullSerializer
from redis.asyncio import BlockingConnectionPool

# One Redis round trip on an open connection; a stalled Redis costs a reader this long once, then
# it is bypassed.
OPERATION_TIMEOUT_S = 0.5
# Opening a connection (TCP and redis-py's handshake): slower than a command when many open at
# once on a busy machine, which is load, not an outage.
CONNECT_TIMEOUT_S = 2.0
# Waiting for a free pooled connection is load too: it gets its own allowance.
POOL_WAIT_S = 1.0
DEFAULT_MAX_CONNECTIONS = 16


class OrjsonSerializer(BaseSerializer):  # type: ignore[misc]
    """JSON for Redis; a value that knows its wire form (`to_wire`) is stored as that."""

    DEFAULT_ENCODING = None

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(value.to_wire() if hasattr(value, "to_wire") else value)

    def loads(self, value: bytes | None) -> Any:
        return None if value is None else orjson.loads(value)


async def attempt(operation: Callable[[], Awaitable[Any]]) -> Any:
    """One store operation, bounded: a free connection, a new one if needed, one round trip."""
    async with asyncio.timeout(POOL_WAIT_S + CONNECT_TIMEOUT_S + OPERATION_TIMEOUT_S):
        return await operation()


class StoreLock:
    """A lock in Redis: SET NX with a lease, one owner token for every attempt (an attempt that
    timed out on our side may still have landed), released by compare-and-delete so a lock that
    expired and was taken by another instance is left alone."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, client: Any, name: str, lease_s: float) -> None:
        self.client = client
        self.name = name
        self.lease_ms = max(1, int(lease_s * 1000))
        self.token = uuid.uuid4().hex.encode()

    async def acquire(self) -> bool:
        if await self.client.set(self.name, self.token, nx=True, px=self.lease_ms):
            return True
        return bool(await self.client.get(self.name) == self.token)

    async def release(self) -> None:
        await self.client.eval(self._RELEASE, 1, self.name, self.token)


class LocalLocks:
    """Named asyncio locks for one process, dropped once nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users <= 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)


def open_store(url: str, max_connections: int) -> BaseCache:
    if not url.startswith("redis://"):
        # No per-operation timeout: nothing in memory can hang, and aiocache's costs a task each.
        return SimpleMemoryCache(serializer=NullSerializer(), timeout=None)
    parsed = urllib.parse.urlparse(url)
    options: dict[str, Any] = {"endpoint": parsed.hostname or "127.0.0.1", "port": parsed.port or 6379}
    options.update(RedisCache.parse_uri_path(parsed.path) if parsed.path else {})
    if parsed.password:
        options["password"] = urllib.parse.unquote(parsed.password)
    return RedisCache(
        **options,
        serializer=OrjsonSerializer(),
        timeout=None,  # `_attempt` bounds every operation already
        # A bounded pool that waits for a free connection: under load a reader waits its turn
        # instead of failing (redis-py's default pool raises once it has made its maximum).
        connection_pool_class=BlockingConnectionPool,
        pool_max_size=max_connections,
        create_connection_timeout=CONNECT_TIMEOUT_S,
        connection_pool_kwargs={"socket_timeout": OPERATION_TIMEOUT_S, "timeout": POOL_WAIT_S},
    )


def safe_url(url: str) -> str:
    """The URL without a password, for logs."""
    parsed = urllib.parse.urlparse(url)
    host = parsed.hostname or ""
    return f"{parsed.scheme}://{host}{':' + str(parsed.port) if parsed.port else ''}{parsed.path}"
