"""Whole-response caching for read-only operations, and automatic persisted queries (APQ).

A cached response is keyed by the caller's backend scope, the document, the operation name, the
variables and the current generation of every backend the caller can see. A write bumps its
backend's generation, so the next read anywhere (every instance sharing Redis) misses and runs
fresh. Only clean answers are kept: no errors, nothing served stale; never a mutation. Entries
live no longer than the shortest backend TTL; a backend with TTL 0 turns response caching off.

APQ follows the `extensions.persistedQuery {version: 1, sha256Hash}` convention of Apollo Client
and urql: a hash alone runs the stored document, or answers PERSISTED_QUERY_NOT_FOUND so the client
sends the document once.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import FieldNode, OperationDefinitionNode, OperationType

from gateway import errors
from gateway.cache import PREFIX, ReadCache

APQ_TTL_S = 24 * 3600
APQ_MAX_DOCUMENTS = 2000
APQ_MAX_BYTES = 16 * 1024 * 1024
# Root fields whose answers come from vendor data, which generations track. Anything else
# (`backends { healthy }`, introspection) reflects the gateway's own state and is never cached.
CACHEABLE_ROOTS = frozenset({"contact", "contacts", "node", "people", "person", "__typename"})


class PersistedQueryNotFound(errors.GatewayError):
    code = "PERSISTED_QUERY_NOT_FOUND"


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


class PersistedQueries:
    """Documents by their sha256, shared through the cache store (so every instance knows them)."""

    def __init__(
        self, cache: ReadCache, max_documents: int = APQ_MAX_DOCUMENTS, max_bytes: int = APQ_MAX_BYTES
    ) -> None:
        self.cache = cache
        # In memory, documents are kept least-recently-used first, within a count and a size
        # (anyone who may call the API can register documents). With Redis they live APQ_TTL_S
        # under the server's own memory policy (see README, "Caching and speed").
        self.local: OrderedDict[str, tuple[str, float]] | None = None if cache.shared else OrderedDict()
        self.max_documents = max_documents
        self.max_bytes = max_bytes
        self.local_bytes = 0

    async def resolve(self, params: dict[str, Any]) -> dict[str, Any]:
        """Fill in `query` from a persisted hash, or remember a newly sent document."""
        persisted = (params.get("extensions") or {}).get("persistedQuery")
        if not isinstance(persisted, dict):
            return params
        digest = persisted.get("sha256Hash")
        if persisted.get("version") != 1 or not isinstance(digest, str) or len(digest) != 64:
            raise errors.BadUserInput("extensions.persistedQuery needs version 1 and a sha256Hash")
        key = f"{PREFIX}:apq:{digest.lower()}"
        query = params.get("query")
        if isinstance(query, str) and query:
            if hashlib.sha256(query.encode()).hexdigest() != digest.lower():
                raise errors.BadUserInput("the persisted query's sha256Hash does not match the query")
            await self._remember(key, query)
            return params
        stored = await self._recall(key)
        if not isinstance(stored, str):
            raise PersistedQueryNotFound("PersistedQueryNotFound")
        return {**params, "query": stored}

    async def _remember(self, key: str, query: str) -> None:
        if self.local is None:
            await self.cache.set_value(key, query, APQ_TTL_S)
            return
        if key in self.local:
            self.local.move_to_end(key)
            return
        self.local[key] = (query, time.monotonic() + APQ_TTL_S)
        self.local_bytes += len(query)
        while self.local and (len(self.local) > self.max_documents or self.local_bytes > self.max_bytes):
            _, (dropped, _) = self.local.popitem(last=False)
            self.local_bytes -= len(dropped)

    async def _recall(self, key: str) -> str | None:
        if self.local is None:
            stored = await self.cache.get_value(key)
            return stored if isinstance(stored, str) else None
        found = self.local.get(key)
        if found is None:
            return None
        query, expires = found
        if time.monotonic() >= expires:
            del self.local[key]
            self.local_bytes -= len(query)
            return None
        self.local.move_to_end(key)
        return query
