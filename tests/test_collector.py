"""A settled server collects garbage cycles on a clock (gateway/serving.py): a big answer's many
live objects trigger no collection while it is built, and cycles are still freed within a tick."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections import Counter
from collections.abc import Iterator

import pytest

from gateway import serving
from gateway.model import Contact
from resolvers.context import RequestContext
from tests.conftest import Harness


@pytest.fixture
def settled_collector() -> Iterator[None]:
    """Leaves the test process's collector as it found it."""
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        for task in list(serving._COLLECTING):
            task.cancel()
        gc.unfreeze()
        gc.enable()
        gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.mark.usefixtures("settled_collector")
async def test_a_big_answer_triggers_no_collection_and_cycles_are_still_freed() -> None:
    passes: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    serving.settle_heap()
    gc.callbacks.append(count)
    try:
        assert not gc.isenabled()  # automatic collection is off: the clock collects
        # a 1,000-contact page holds ~25,000 containers alive while it is built; here 200,000
        alive = [{"n": n} for n in range(200_000)]
        assert passes == []
        garbage = cycle()
        assert garbage() is not None  # unreachable, but only the collector can free a cycle
        for _ in range(20):
            await asyncio.sleep(serving.COLLECT_EVERY_S / 2)
            if garbage() is None:
                break
        assert garbage() is None
        assert passes, "the clock collected"
        assert len(alive) == 200_000
    finally:
        gc.callbacks.remove(count)


@pytest.mark.usefixtures("settled_collector")
async def test_the_clock_stops_with_the_loop_and_gives_collection_back() -> None:
    serving.settle_heap()
    (task,) = serving._COLLECTING
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gc.isenabled()


@pytest.mark.usefixtures("settled_collector")
def test_without_a_running_loop_young_passes_are_spaced_out() -> None:
    serving.settle_heap()
    assert gc.isenabled()
    assert gc.get_threshold()[0] == serving.YOUNG_GENERATION_THRESHOLD


async def test_a_pages_contacts_go_with_its_response(harness: Harness) -> None:
    """Reference counting alone frees what a request built (its context, loaders, contacts and
    the records they came from) once the response is whole: nothing of it is left in a reference
    cycle for the collector, which would traverse all of it again on every pass meanwhile."""
    query = "{ contacts(first: 100) { edges { node { id displayName emails } } } }"
    assert "errors" not in await harness.run(query)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        body = await harness.run(query)
        assert len(body["data"]["contacts"]["edges"]) == 100
        del body
        gc.collect()
        left = Counter(type(o).__name__ for o in gc.garbage if isinstance(o, Contact | RequestContext | dict))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not left.get("Contact") and not left.get("RequestContext")
    assert left.get("dict", 0) < 100, "not a record or an answer's object per contact"
