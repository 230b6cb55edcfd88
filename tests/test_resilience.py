"""A bad backend day: retries, Retry-After, the breaker, the deadline, rate smoothing, faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from gateway.execution import execute
from gateway.simulators.comm100 import PREFIX, Comm100Simulator, guid
from gateway.simulators.common import Fault
from gateway.simulators.registry import DEMO_BACKENDS
from tests.conftest import SCHEMA, Harness, HarnessFactory

LIST = "{ contacts(first: 3) { edges { node { id backend } } } }"
ONE = "query($id: ID!) { contact(id: $id) { id } }"
NO_CACHE = {"url": "memory://", "ttl_s": 0}


def comm100(name: str, **extra: Any) -> tuple[Comm100Simulator, dict[str, Any]]:
    conf = {
        "vendor": "comm100",
        "url": f"http://{name}.test{PREFIX}",
        "token": "comm100-demo-token",
        "retry_backoff_s": 0.01,
        **extra,
    }
    return Comm100Simulator(), conf


@pytest.fixture
def one(make_custom: Callable[..., Harness]) -> Callable[..., Harness]:
    def factory(cache: dict[str, Any] | None = None, server: dict[str, Any] | None = None, **extra: Any) -> Harness:
        return make_custom({"support": comm100("support", **extra)}, cache=cache or NO_CACHE, server=server or {})

    return factory


async def test_reads_are_retried_through_server_errors(one: Callable[..., Harness]) -> None:
    h = one(retries=2)
    h.sims["support"].state.inject(Fault("status", status=503, times=2))
    result = await h.run(LIST)
    assert "errors" not in result and result["data"]["contacts"]["edges"]
    assert h.calls("support") == 3


async def test_retries_give_up_with_the_coded_error(one: Callable[..., Harness]) -> None:
    h = one(retries=1)
    h.sims["support"].state.inject(Fault("status", status=502))
    result = await h.run(LIST)
    assert result["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert h.calls("support") == 2


async def test_client_errors_and_garbage_are_not_retried(one: Callable[..., Harness]) -> None:
    h = one(retries=3)
    h.sims["support"].state.inject(Fault("garbage"))
    result = await h.run(LIST)
    assert result["errors"][0]["extensions"]["code"] == "BACKEND_BAD_RESPONSE"
    assert h.calls("support") == 1


async def test_429_waits_for_retry_after(one: Callable[..., Harness]) -> None:
    h = one(retries=2)
    h.sims["support"].state.inject(Fault("status", status=429, retry_after=0.3, times=1))
    started = time.monotonic()
    result = await h.run(LIST)
    assert "errors" not in result
    assert time.monotonic() - started >= 0.3
    assert h.calls("support") == 2


async def test_retry_after_past_the_deadline_fails_at_once(one: Callable[..., Harness]) -> None:
    h = one(retries=2, server={"deadline_s": 1})
    h.sims["support"].state.inject(Fault("status", status=429, retry_after=30))
    started = time.monotonic()
    result = await h.run(LIST)
    assert time.monotonic() - started < 0.8
    assert result["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert "rate limiting" in result["errors"][0]["message"]


async def test_dropped_connection_is_retried(one: Callable[..., Harness]) -> None:
    h = one(retries=1)
    h.sims["support"].state.inject(Fault("drop", times=1))
    result = await h.run(LIST)
    assert "errors" not in result
    assert h.calls("support") == 2


async def test_breaker_opens_fails_fast_and_closes_after_a_good_trial(one: Callable[..., Harness]) -> None:
    h = one(retries=0, breaker_failures=2, breaker_cooldown_s=0.3)
    sim = h.sims["support"]
    sim.state.inject(Fault("status", status=500))
    for _ in range(2):
        await h.run(LIST)
    assert h.calls("support") == 2
    fast = await h.run(LIST)
    assert h.calls("support") == 2  # no call went out
    assert fast["errors"][0]["extensions"] == {
        "code": "BACKEND_UNAVAILABLE",
        "backend": "support",
        "reason": "CIRCUIT_OPEN",
    }
    health = await h.run("{ backends { name healthy lastError } }")
    assert health["data"]["backends"] == [{"name": "support", "healthy": False, "lastError": "BACKEND_UNAVAILABLE"}]
    sim.state.clear_faults()
    await asyncio.sleep(0.35)
    recovered = await h.run(LIST)
    assert "errors" not in recovered
    assert (await h.run("{ backends { healthy } }"))["data"]["backends"] == [{"healthy": True}]


async def test_open_breaker_serves_a_stale_copy(one: Callable[..., Harness]) -> None:
    h = one(retries=0, breaker_failures=1, breaker_cooldown_s=30, cache={"ttl_s": 0.1, "stale_s": 60})
    fresh = await h.run(LIST)
    await asyncio.sleep(0.15)
    h.sims["support"].state.inject(Fault("status", status=500))
    failing = await h.run(LIST)  # opens the breaker, answered stale
    calls = h.calls("support")
    cut_off = await h.run(LIST)
    assert h.calls("support") == calls
    for result in (failing, cut_off):
        assert result["data"] == fresh["data"]
        assert result["extensions"]["stale"][0]["backend"] == "support"


async def test_slow_backend_becomes_timeout_while_the_others_answer(make_custom: Callable[..., Harness]) -> None:
    # The slow backend comes first, so the page needs it.
    h = make_custom({"slow": comm100("slow"), "fast": comm100("fast")}, cache=NO_CACHE, server={"deadline_s": 0.6})
    h.sims["slow"].state.inject(Fault("hang"))
    started = time.monotonic()
    result = await h.run(LIST)
    assert time.monotonic() - started < 1.2
    assert {e["node"]["backend"] for e in result["data"]["contacts"]["edges"]} == {"fast"}
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BACKEND_TIMEOUT" and error["extensions"]["backend"] == "slow"


async def test_a_page_the_first_backends_fill_does_not_wait_for_the_others(
    make_custom: Callable[..., Harness],
) -> None:
    """Only the count needs every backend: a page that the backends before a hanging one fill is
    answered without it, in full and without an error, and its call is left to end on its own."""
    h = make_custom({"fast": comm100("fast"), "slow": comm100("slow")}, cache=NO_CACHE, server={"deadline_s": 0.6})
    h.sims["slow"].state.inject(Fault("hang"))
    page = "{ contacts(first: 3) { edges { node { id backend } } pageInfo { hasNextPage endCursor } } }"
    result = await h.run(page)
    assert "errors" not in result
    connection = result["data"]["contacts"]
    assert [e["node"]["backend"] for e in connection["edges"]] == ["fast"] * 3
    assert connection["pageInfo"]["hasNextPage"] is True
    assert h.sims["slow"].state.count("GET") == 1  # asked at once, in case the fast one fell short
    assert len(h.gateway.finishing) == 1

    # The count needs them all, through a fragment too: the hanging backend is waited for.
    counted = (
        "{ contacts(first: 3) { ...counted edges { node { id } } } }"
        " fragment counted on ContactConnection { totalCount }"
    )
    result = await h.run(counted)
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BACKEND_TIMEOUT" and error["extensions"]["backend"] == "slow"
    assert result["data"]["contacts"]["totalCount"] is None
    assert len(result["data"]["contacts"]["edges"]) == 3

    await h.gateway.aclose()  # what was left to finish is cancelled when the gateway closes
    assert not h.gateway.finishing


async def test_the_page_is_built_while_the_count_waits_for_a_slow_backend(
    make_custom: Callable[..., Harness],
) -> None:
    """The count needs every backend, the page only those in front: the page is built while the
    slow one is answering, so under @defer it comes first and the count follows."""
    slow_s = 0.5
    h = make_custom({"fast": comm100("fast"), "slow": comm100("slow")}, cache=NO_CACHE)
    total = (await h.run("{ contacts(first: 0) { totalCount } }"))["data"]["contacts"]["totalCount"]
    h.sims["slow"].state.inject(Fault("latency", seconds=slow_s))
    query = "{ contacts(first: 3) { edges { node { id backend } } ... @defer { totalCount } } }"
    started = time.monotonic()
    outcome = await execute(SCHEMA, h.gateway, query)
    first_part = time.monotonic() - started
    assert first_part < slow_s / 2, first_part
    assert "errors" not in outcome.body
    assert [e["node"]["backend"] for e in outcome.body["data"]["contacts"]["edges"]] == ["fast"] * 3
    assert outcome.later_parts is not None
    later = [part async for part in outcome.later_parts]
    assert time.monotonic() - started >= slow_s
    [counted] = [item for part in later for item in part.get("incremental", [])]
    assert counted["data"] == {"totalCount": total} and total > 3
    assert not later[-1]["hasNext"]

    # A later backend's failure belongs to the count, so it comes with the deferred count, never
    # with the page (however fast it failed).
    h.sims["slow"].state.clear_faults()
    h.sims["slow"].state.inject(Fault("status", status=500))
    for _ in range(3):
        outcome = await execute(SCHEMA, h.gateway, query)
        assert "errors" not in outcome.body and len(outcome.body["data"]["contacts"]["edges"]) == 3
        assert outcome.later_parts is not None
        later = [part async for part in outcome.later_parts]
        [counted] = [item for part in later for item in part.get("incremental", [])]
        assert counted["data"] == {"totalCount": None}
        reported = [e for part in later for item in part["incremental"] for e in item.get("errors", [])]
        assert [(e["extensions"]["backend"], e["path"]) for e in reported] == [("slow", ["contacts"])]


async def test_a_backend_the_page_did_not_wait_for_is_never_reported(make_custom: Callable[..., Harness]) -> None:
    """Whether a backend the page did not need had already failed when the page was answered
    depends on timing: its failure is left out either way, so the same state gives the same
    answer. Once the page reaches that backend, or the count is asked, it is reported."""
    h = make_custom({"fast": comm100("fast"), "down": comm100("down")}, cache=NO_CACHE)
    h.sims["down"].state.inject(Fault("status", status=500))
    for _ in range(5):
        result = await h.run(LIST)
        assert "errors" not in result
        assert [e["node"]["backend"] for e in result["data"]["contacts"]["edges"]] == ["fast"] * 3
        await asyncio.gather(*h.gateway.finishing)  # its failure has happened by now, at the latest
    counted = await h.run("{ contacts(first: 3) { totalCount edges { node { id } } } }")
    [error] = counted["errors"]
    # The calls left to finish still count for the backend's breaker: five failures opened it.
    assert error["extensions"] == {"code": "BACKEND_UNAVAILABLE", "backend": "down", "reason": "CIRCUIT_OPEN"}


async def test_per_backend_timeout_applies_below_the_deadline(one: Callable[..., Harness]) -> None:
    h = one(retries=0, timeout_s=0.2)
    h.sims["support"].state.inject(Fault("latency", seconds=1))
    started = time.monotonic()
    result = await h.run(ONE, {"id": f"support:{guid('customer-1')}"})
    assert time.monotonic() - started < 0.8
    assert result["errors"][0]["extensions"]["code"] == "BACKEND_TIMEOUT"


async def test_rate_limit_smooths_calls_and_refuses_past_the_deadline(one: Callable[..., Harness]) -> None:
    h = one(rate_limit={"calls": 2, "per_s": 10}, server={"deadline_s": 0.5})
    results = [await h.run(ONE, {"id": f"support:{guid(f'customer-{i}')}"}) for i in range(3)]
    assert all("errors" not in r for r in results[:2])
    [error] = results[2]["errors"]
    assert error["extensions"] == {"code": "BACKEND_UNAVAILABLE", "backend": "support", "reason": "RATE_LIMITED"}
    assert h.calls("support") == 2


async def test_rate_limit_waits_when_the_deadline_allows(one: Callable[..., Harness]) -> None:
    h = one(rate_limit={"calls": 1, "per_s": 0.3})
    started = time.monotonic()
    for i in range(2):
        assert "errors" not in await h.run(ONE, {"id": f"support:{guid(f'customer-{i}')}"})
    assert time.monotonic() - started >= 0.25


FAULTS = {
    "status-500": (Fault("status", status=500), "BACKEND_UNAVAILABLE"),
    "status-429": (Fault("status", status=429, retry_after=30), "BACKEND_UNAVAILABLE"),
    "garbage": (Fault("garbage", body=b"<html>maintenance</html>"), "BACKEND_BAD_RESPONSE"),
    "hang": (Fault("hang", seconds=5), "BACKEND_TIMEOUT"),
    "latency": (Fault("latency", seconds=2), "BACKEND_TIMEOUT"),
    "drop": (Fault("drop"), "BACKEND_UNAVAILABLE"),
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
@pytest.mark.parametrize("failing", [d.name for d in DEMO_BACKENDS])
async def test_fault_matrix_one_backend_fails_the_others_answer(
    make_harness: HarnessFactory, failing: str, fault: str
) -> None:
    quick = {d.name: {"timeout_s": 0.3, "retries": 0} for d in DEMO_BACKENDS}
    h = make_harness(overrides=quick, cache=NO_CACHE)
    injected, code = FAULTS[fault]
    h.sims[failing].state.inject(injected)
    result = await h.run("{ contacts(first: 200) { edges { node { id backend } } } }")
    seen = {e["node"]["backend"] for e in result["data"]["contacts"]["edges"]}
    assert seen == {d.name for d in DEMO_BACKENDS} - {failing}
    [error] = result["errors"]
    assert (error["extensions"]["code"], error["extensions"]["backend"]) == (code, failing)
