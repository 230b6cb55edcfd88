"""What the read cache keeps: one entry per vendor read, under a key that hashes the call (no
parameter, email or name appears in clear)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway import errors


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached vendor read: its payload, or the vendor's "no such record"."""

    stored_at: float
    payload: Any = None
    missing: bool = False

    def age(self, now: float) -> float:
        return now - self.stored_at

    def fresh(self, ttl_s: float, now: float | None = None) -> bool:
        return self.age(time.time() if now is None else now) < ttl_s

    def to_wire(self) -> dict[str, Any]:
        return {"stored_at": self.stored_at, "payload": self.payload, "missing": self.missing}

    @staticmethod
    def from_stored(value: Any) -> Entry | None:
        """An entry as the store gave it back (an Entry in memory, its wire form from Redis)."""
        if isinstance(value, Entry) or value is None:
            return value
        if isinstance(value, Mapping) and isinstance(value.get("stored_at"), int | float):
            return Entry(float(value["stored_at"]), value.get("payload"), bool(value.get("missing")))
        return None  # a foreign or older value under our key: treated as a miss

    def unwrap(self, backend: str) -> Any:
        if self.missing:
            raise errors.NotFound(f"backend '{backend}' has no such record", backend=backend)
        return self.payload


def call_key(method: str, path: str, params: Mapping[str, Any] | None) -> str:
    """A hash of one vendor call: parameters (emails, names) never appear in clear."""
    canonical = orjson.dumps([method, path, sorted((str(k), str(v)) for k, v in (params or {}).items())])
    return hashlib.sha256(canonical).hexdigest()[:32]
