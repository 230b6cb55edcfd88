"""Whole-response caching for read-only operations, and the ETag a reusable answer carries.

A cached response is keyed by the caller's backend scope, the document, the operation name and the
variables, and holds the generation of every backend the caller can see when it was made. A write
bumps its backend's generation, so the next read anywhere (every instance sharing Redis) finds
the entry out of date and runs fresh. Only clean answers are kept: no errors, nothing served
stale; never a mutation. Entries live no longer than the shortest backend TTL; a backend with
TTL 0 turns response caching off.
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


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """An answer as the store holds it, with the backends' generations it was made at. In memory
    the object itself is kept (a hit serves its bytes as they are); Redis holds its wire form."""

    answer: CachedResponse
    generations: list[int]

    def to_wire(self) -> dict[str, Any]:
        return {"b": self.answer.body.decode(), "e": self.answer.etag, "g": self.generations}

    @classmethod
    def from_stored(cls, value: Any) -> StoredResponse | None:
        """The entry a store gave back (the object from memory, the wire form from Redis); None
        for anything else."""
        if isinstance(value, StoredResponse):
            return value
        if not isinstance(value, dict):
            return None
        body, etag, generations = value.get("b"), value.get("e"), value.get("g")
        if isinstance(body, str) and isinstance(etag, str) and isinstance(generations, list):
            return cls(CachedResponse(body.encode(), etag), generations)
        return None


@dataclass(frozen=True, slots=True)
class Slot:
    """A read's place in the response cache: its key, the backends' generations when it was looked
    up, and the answer stored there at those generations, if any."""

    key: str
    generations: list[int]
    found: CachedResponse | None


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
        # Per caller scope (at most one per API key, plus "all"): the namespaces it sees, sorted.
        self._visible: dict[frozenset[str] | None, tuple[list[str] | str, list[str]]] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    async def look_up(
        self,
        scope: frozenset[str] | None,
        query: str,
        operation_name: str | None,
        variables: dict[str, Any] | None,
    ) -> Slot | None:
        """Where this exact read by this caller is stored, and the stored answer if it was made at
        the backends' current generations; None when the read may not be reused. The generations
        and the entry come in one round trip to the store (the entry names the generations it was
        made at, instead of the key holding them)."""
        scoped, namespaces = self._seen_by(scope)
        try:
            identity = orjson.dumps(
                [scoped, query, operation_name, variables, namespaces, self.config_digest],
                option=orjson.OPT_SORT_KEYS,
            )
        except orjson.JSONEncodeError:  # variables nested past what can be hashed: not reused
            return None
        key = f"{PREFIX}:resp:{hashlib.sha256(identity).hexdigest()}"
        found = await self.cache.generations_and_value(namespaces, key)
        if found is None:
            return None
        generations, value = found
        stored = StoredResponse.from_stored(value)
        hit = stored.answer if stored is not None and stored.generations == generations else None
        return Slot(key, generations, hit)

    def _seen_by(self, scope: frozenset[str] | None) -> tuple[list[str] | str, list[str]]:
        """The scope as the key names it, and the cache namespaces of the backends it sees."""
        seen = self._visible.get(scope)
        if seen is None:
            visible = sorted(n for n in self.namespaces if scope is None or n in scope)
            seen = sorted(scope) if scope is not None else "*", [self.namespaces[n] for n in visible]
            self._visible[scope] = seen
        return seen

    async def put(self, slot: Slot, body: bytes, etag: str) -> None:
        """Store an answer made at `slot`'s generations (read before it was made: a write meanwhile
        leaves it unreachable)."""
        stored = StoredResponse(CachedResponse(body, etag), slot.generations)
        await self.cache.set_value(slot.key, stored, self.ttl_s)
