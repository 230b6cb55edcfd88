"""Automatic persisted queries (APQ), as Apollo Client and urql send them.

The `extensions.persistedQuery {version: 1, sha256Hash}` convention: a hash alone runs the stored
document, or answers PERSISTED_QUERY_NOT_FOUND so the client sends the document once. Documents
are shared through the cache store, so every instance knows them.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

from gateway import errors
from gateway.cache import PREFIX, ReadCache

APQ_TTL_S = 24 * 3600
APQ_MAX_DOCUMENTS = 2000
APQ_MAX_BYTES = 16 * 1024 * 1024


class PersistedQueryNotFound(errors.GatewayError):
    code = "PERSISTED_QUERY_NOT_FOUND"


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

    async def with_document(self, params: dict[str, Any]) -> dict[str, Any]:
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
