"""Sync passes of vendors that answer their whole list at once, read as the list arrives.

What a user would notice: a list larger than `max_response_bytes` still fills the index; the
gateway's memory during a pass does not grow with the list; a cut, invalid or error answer fails
the pass and the previous index keeps answering; an endless list is stopped with a coded error.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from gateway import errors
from gateway.index import IndexState
from gateway.model import ContactFilter
from gateway.runtime import Gateway
from gateway.simulators import agentvoice, genesys
from gateway.simulators.common import Fault
from tests.conftest import IndexDatabase, settings_for
from tests.test_index_sync import UNPACED, indexed_ids, status, synced

ROOT = "http://vendor.test"
SMALL_LIMIT = 64 * 1024


def agentvoice_with(count: int) -> tuple[agentvoice.AgentVoiceSimulator, dict[str, Any]]:
    sim = agentvoice.AgentVoiceSimulator(records=agentvoice.generated_records(range(count)))
    return sim, {**agentvoice.demo_backend_settings(ROOT), **UNPACED, "max_response_bytes": SMALL_LIMIT}


def genesys_with(count: int) -> tuple[genesys.GenesysSimulator, dict[str, Any]]:
    sim = genesys.GenesysSimulator(records=genesys.generated_records(range(count)))
    return sim, {**genesys.demo_backend_settings(ROOT), **UNPACED, "max_response_bytes": SMALL_LIMIT}


async def test_a_list_larger_than_max_response_bytes_is_indexed_whole(
    make_custom: Any, index_db: IndexDatabase
) -> None:
    sim, config = agentvoice_with(600)
    assert len(orjson.dumps(list(sim.records.values()))) > 2 * SMALL_LIMIT
    h = make_custom({"voice": (sim, config)}, index=index_db.section())
    outcomes = await synced(h)
    assert (outcomes[0].synced, outcomes[0].records, outcomes[0].error) == (True, 600, None)
    assert sorted(await indexed_ids(h, "voice")) == sorted(f"voice:{i}" for i in sim.records)
    # A live read of the same list is still cut at max_response_bytes, with a coded error.
    with pytest.raises(errors.BackendBadResponse, match="max_response_bytes"):
        await h.gateway.backends["voice"].fetch_records(ContactFilter(), fresh=True)


def _streamed(body: bytes, piece: int = 16 * 1024) -> httpx.MockTransport:
    """A vendor whose answer is `body`, arriving in pieces (as a real connection delivers it)."""

    async def pieces() -> AsyncIterator[bytes]:
        view = memoryview(body)
        for start in range(0, len(view), piece):
            yield bytes(view[start : start + piece])

    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, content=pieces())

    return httpx.MockTransport(answer)


async def _sync_peak(count: int, tmp_path: Any) -> int:
    """The most memory (tracemalloc) a pass of `count` AgentVoice contacts takes on top of the
    answer itself (built before measuring: it stands for bytes still on the network)."""
    body = orjson.dumps(agentvoice.generated_records(range(count)))
    config = {**agentvoice.demo_backend_settings(ROOT), **UNPACED}
    index = IndexDatabase("sqlite", f"sqlite+aiosqlite:///{tmp_path}/index-{count}.db").section()
    gateway = Gateway.from_settings(settings_for({"voice": config}, index=index), transports={"voice": _streamed(body)})
    try:
        assert gateway.sync is not None
        await gateway.open_index()
        tracemalloc.start()
        try:
            outcomes = await gateway.sync.sync_all(force=True)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert (outcomes[0].synced, outcomes[0].records) == (True, count)
        return peak
    finally:
        await gateway.aclose()


async def test_memory_during_a_pass_does_not_grow_with_the_list(tmp_path: Any) -> None:
    small = await _sync_peak(3_000, tmp_path)
    large = await _sync_peak(12_000, tmp_path)
    # Read whole, four times the list would take about four times the memory (the body and its
    # parsed records); streamed, a pass holds one chunk of records at a time.
    print(f"peak {small} B for 3,000 contacts, {large} B for 12,000")
    assert large < small * 1.5, (small, large)


def _cut(body: bytes) -> bytes:
    return body[: len(body) // 2]


def _agentvoice_body(sim: agentvoice.AgentVoiceSimulator) -> bytes:
    return orjson.dumps(list(sim.records.values()))


def _genesys_body(sim: genesys.GenesysSimulator, **envelope: Any) -> bytes:
    return orjson.dumps({"contacts": list(sim.records.values()), **envelope})


BAD_ANSWERS: dict[str, tuple[str, Callable[[Any], bytes], str]] = {
    "agentvoice cut in the middle": ("agentvoice", lambda sim: _cut(_agentvoice_body(sim)), "BACKEND_BAD_RESPONSE"),
    "agentvoice not a list": ("agentvoice", lambda sim: b'{"contacts": []}', "BACKEND_BAD_RESPONSE"),
    "agentvoice trailing garbage": (
        "agentvoice",
        lambda sim: _agentvoice_body(sim) + b"<html>",
        "BACKEND_BAD_RESPONSE",
    ),
    "genesys error after the list": (
        "genesys",
        lambda sim: _genesys_body(sim, statusCode=4, statusMessage="internal error"),
        "BACKEND_UNAVAILABLE",
    ),
    "genesys error before the list": (
        "genesys",
        lambda sim: orjson.dumps({"statusCode": 20, "contacts": list(sim.records.values())}),
        "BACKEND_UNAUTHORIZED",
    ),
    "genesys cut in the middle": (
        "genesys",
        lambda sim: _cut(_genesys_body(sim, statusCode=0)),
        "BACKEND_BAD_RESPONSE",
    ),
    "genesys without its list": ("genesys", lambda sim: b'{"statusCode": 0}', "BACKEND_BAD_RESPONSE"),
}


@pytest.mark.parametrize("case", BAD_ANSWERS)
async def test_a_cut_invalid_or_error_answer_fails_the_pass_and_keeps_the_index(
    case: str, make_custom: Any, index_db: IndexDatabase
) -> None:
    vendor, make_body, code = BAD_ANSWERS[case]
    sim, config = agentvoice_with(400) if vendor == "agentvoice" else genesys_with(400)
    h = make_custom({"them": (sim, config)}, index=index_db.section())
    await synced(h)
    before = await indexed_ids(h, "them")
    assert len(before) == 400

    deleted = next(iter(sim.records))
    del sim.records[deleted]
    sim.state.inject(Fault(kind="garbage", body=make_body(sim)))
    outcomes = await synced(h)
    assert not outcomes[0].synced and outcomes[0].error is not None and outcome_code(outcomes[0].error) == code
    state = await status(h, "them")
    assert (state.state, state.records) == (IndexState.FAILED, 400)
    assert await indexed_ids(h, "them") == before  # the record the answer lacked is still there


def outcome_code(error: str) -> str:
    return error.partition(":")[0]


async def test_an_endless_list_is_stopped_at_index_max_records(make_custom: Any, index_db: IndexDatabase) -> None:
    sim, config = agentvoice_with(300)
    h = make_custom({"voice": (sim, {**config, "index_max_records": 250})}, index=index_db.section())
    outcomes = await synced(h)
    assert not outcomes[0].synced and outcomes[0].error is not None
    assert outcomes[0].error.startswith("BACKEND_BAD_RESPONSE") and "index_max_records" in outcomes[0].error


async def test_one_endless_record_is_stopped_at_max_response_bytes(make_custom: Any, index_db: IndexDatabase) -> None:
    sim, config = agentvoice_with(10)
    h = make_custom({"voice": (sim, config)}, index=index_db.section())
    huge = b'[{"id": "a", "first_name": "' + b"x" * (2 * SMALL_LIMIT) + b'"}]'
    sim.state.inject(Fault(kind="garbage", body=huge))
    outcomes = await synced(h)
    assert outcomes[0].error is not None and "max_response_bytes" in outcomes[0].error
