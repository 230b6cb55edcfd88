"""A vendor's whole list read as it arrives, for a sync pass: its records parsed from the byte
chunks (ijson) and handed on a batch at a time, so memory holds one batch whatever the list's length.

The stream is bounded per record, the way one call is bounded: no more than `max_response_bytes`
and no more than `timeout_s` may go by without a record completing (a vendor dripping bytes, or
sending one endless record, is cut there), and no more than `index_max_records` records in all (an
endless list). A legitimately long list that keeps delivering records is never cut by time.

A pass completes only on a whole, valid document with the records where the vendor module says
(`ListShape`) and an envelope that does not report an error: a cut or invalid stream fails it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ijson

from gateway import errors

# A chunk larger than this (an answer that arrives at once) is parsed in pieces of this size, so the
# bytes-per-record bound holds to within this many bytes.
FEED_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ListShape:
    """Where a vendor's whole-list answer holds its records, as an ijson prefix ("item": a top-level
    array; "contacts.item": an array under the key `contacts`), and which top-level keys of an
    envelope say whether the answer is a failure (checked with the backend's `check_payload`)."""

    items: str = "item"
    envelope: tuple[str, ...] = ()

    @property
    def container(self) -> str:
        """The prefix of the array itself ("" for a top-level array)."""
        return self.items.removesuffix("item").removesuffix(".")


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """How much a stream may send without a record completing (bytes, seconds), and in all (records)."""

    record_bytes: int
    record_s: float
    records: int


class _Parsers:
    """ijson's push parsers fed the same chunks: the records, the envelope's keys, and (until it has
    seen it) whether the records' place is an array at all."""

    def __init__(self, shape: ListShape) -> None:
        self.shape = shape
        self.records = ijson.sendable_list()
        self._items = ijson.items_coro(self.records, shape.items, use_float=True)
        self._envelope = {key: ijson.sendable_list() for key in shape.envelope}
        self._envelope_coros = [ijson.items_coro(found, key, use_float=True) for key, found in self._envelope.items()]
        self._events = ijson.sendable_list()
        self._shape_coro: Any = ijson.parse_coro(self._events)
        self.container_seen: str | None = None  # the JSON event that opened the records' place

    def feed(self, chunk: bytes) -> None:
        self._items.send(chunk)
        for coro in self._envelope_coros:
            coro.send(chunk)
        if self._shape_coro is not None:
            self._shape_coro.send(chunk)
            self._look_for_container()

    def close(self) -> None:
        """Raises ijson's IncompleteJSONError when the document ended early."""
        self._items.close()
        for coro in self._envelope_coros:
            coro.close()
        if self._shape_coro is not None:
            self._shape_coro.close()
            self._look_for_container()

    def envelope(self) -> dict[str, Any]:
        return {key: found[-1] for key, found in self._envelope.items() if found}

    def _look_for_container(self) -> None:
        container = self.shape.container
        for prefix, event, _ in self._events:
            if prefix == container and event not in ("map_key", "end_map"):
                self.container_seen = event
                self._shape_coro = None  # found: the rest of the document need not go through it
                break
        self._events.clear()


async def streamed_records(
    chunks: AsyncIterator[bytes],
    shape: ListShape,
    limits: StreamLimits,
    backend: str,
    check: Callable[[Any], None],
    batch: int,
) -> AsyncGenerator[list[Mapping[str, Any]], None]:
    """The records of a streamed whole list, `batch` at a time (objects only, as `expect_list`
    keeps); raises a GatewayError, after or instead of some batches, when the answer is not whole."""
    parsers = _Parsers(shape)
    pending: list[Mapping[str, Any]] = []
    total = unrecorded_bytes = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.record_s
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await anext(chunks, None)
        except TimeoutError:
            raise errors.BackendTimeout(
                f"backend '{backend}' sent no record for {limits.record_s:g} s (timeout_s) while streaming its list",
                backend=backend,
            ) from None
        if chunk is None:
            break
        for start in range(0, len(chunk), FEED_BYTES):
            piece = chunk if len(chunk) <= FEED_BYTES else chunk[start : start + FEED_BYTES]
            try:
                parsers.feed(piece)
            except ijson.JSONError:
                raise errors.bad_response(backend, "the list is not valid JSON") from None
            if parsers.envelope():
                check(parsers.envelope())  # an error envelope whose status comes first stops the pass here
            unrecorded_bytes += len(piece)
            if parsers.records:
                total += len(parsers.records)
                pending.extend(r for r in parsers.records if isinstance(r, Mapping))
                parsers.records.clear()
                unrecorded_bytes = 0
                deadline = loop.time() + limits.record_s
            if unrecorded_bytes > limits.record_bytes:
                too_large = f"a record is larger than {limits.record_bytes} bytes (max_response_bytes)"
                raise errors.bad_response(backend, too_large)
            if total > limits.records:
                too_many = f"the list holds more than {limits.records} records (index_max_records)"
                raise errors.bad_response(backend, too_many)
        while len(pending) >= batch:
            yield pending[:batch]
            del pending[:batch]
            deadline = loop.time() + limits.record_s  # the time the index took is not the vendor's
    try:
        parsers.close()
    except ijson.JSONError:
        raise errors.bad_response(backend, "the list ended early (cut off) or is not valid JSON") from None
    pending.extend(r for r in parsers.records if isinstance(r, Mapping))
    check(parsers.envelope())
    if parsers.container_seen != "start_array":
        where = f" under {shape.container!r}" if shape.container else ""
        raise errors.bad_response(backend, f"expected a list{where}")
    if pending:
        yield pending
