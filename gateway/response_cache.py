"""Whole-response caching for read-only operations, and the ETag a reusable answer carries.

A cached response is keyed by the caller's backend scope, the document, the operation name, the
variables and the current generation of every backend the caller can see. A write bumps its
backend's generation, so the next read anywhere (every instance sharing Redis) misses and runs
fresh. Only clean answers are kept: no errors, nothing served stale; never a mutation. Entries
live no longer than the shortest backend TTL; a backend with TTL 0 turns response caching off.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import FieldNode, OperationDefinitionNode, OperationType

from gateway.cache import PREFIX, ReadCache

# Root fields whose answers come from vendor data, which generations track. Anything else
# (`backends { healthy }`, introspection) reflects the gateway's own state and is never cached.
CACHEABLE_ROOTS = frozenset({"contact", "contacts", "node", "people", "person", "__typename"})


@dataclass(frozen=True, slots=True)
class CachedResponse:
    body: bytes
    etag: str


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


def is_cacheable(operation: OperationDefinitionNode) -> bool:
    """Whether the operation is a query reading only vendor data."""
    if operation.operation != OperationType.QUERY:
        return False
    return all(isinstance(s, FieldNode) and s.name.value in CACHEABLE_ROOTS for s in operation.selection_set.selections)


class ResponseCache:
    def __init__(self, cache: ReadCache, namespaces: dict[str, str], ttl_s: float, config_digest: str = "") -> None:
        self.cache = cache
        self.namespaces = namespaces  # backend name -> its cache namespace (name + credential hash)
        self.ttl_s = ttl_s
        # Deployments sharing one Redis may call a backend by the same name with other
        # credentials or settings (region, hop limit): their answers must never meet.
        self.config_digest = config_digest

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    async def key(
        self,
        scope: frozenset[str] | None,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> str | None:
        """The entry for this exact read by this caller, at the backends' current generations."""
        visible = sorted(n for n in self.namespaces if scope is None or n in scope)
        generations = await self.cache.generations([self.namespaces[n] for n in visible])
        if generations is None:
            return None
        try:
            identity = self._identity(scope, query, operation_name, variables, visible, generations)
        except orjson.JSONEncodeError:  # variables nested past what can be hashed: not reused
            return None
        return f"{PREFIX}:resp:{hashlib.sha256(identity).hexdigest()}"

    def _identity(
        self,
        scope: frozenset[str] | None,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        visible: list[str],
        generations: list[int],
    ) -> bytes:
        return orjson.dumps(
            [
                sorted(scope) if scope is not None else "*",
                query,
                operation_name,
                variables,
                [self.namespaces[n] for n in visible],
                generations,
                self.config_digest,
            ],
            option=orjson.OPT_SORT_KEYS,
        )

    async def get(self, key: str) -> CachedResponse | None:
        entry = await self.cache.get_value(key)
        if not isinstance(entry, dict):
            return None
        body = entry["b"].encode() if isinstance(entry["b"], str) else entry["b"]
        return CachedResponse(body, entry["e"])

    async def put(self, key: str, body: bytes, etag: str) -> None:
        value: Any = {"b": body.decode(), "e": etag} if self.cache.shared else {"b": body, "e": etag}
        await self.cache.set_value(key, value, self.ttl_s)
