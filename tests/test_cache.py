"""Caching, parametrized over memory and a real Redis: TTL, tenant-safe keys, coalescing,
invalidation across replicas, stale-if-error and a cache outage."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from gateway.app import create_app
from gateway.backends.base import HttpBackend
from gateway.cache_store import open_store
from gateway.runtime import Gateway
from gateway.simulators.comm100 import PREFIX, Comm100Simulator, guid, sample_records
from gateway.simulators.common import Fault
from tests.conftest import Harness, HarnessFactory, settings_for
from tests.services import free_port, redis_url, require_redis, wait_for_port

REDIS_TEST_URL = redis_url(15)
ONE = "query($id: ID!) { contact(id: $id) { id displayName title } }"
LIST = "{ contacts(first: 5) { edges { node { id displayName } } } }"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def cache_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
        return
    require_redis()
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()
    client.close()


async def test_repeating_a_query_within_the_ttl_makes_no_vendor_call(
    make_harness: HarnessFactory, cache_url: str
) -> None:
    h = make_harness(cache={"url": cache_url, "ttl_s": 60})
    first = await h.run(LIST)
    one = await h.run(ONE, {"id": f"support:{guid('customer-3')}"})
    h.reset_calls()
    assert await h.run(LIST) == first
    assert await h.run(ONE, {"id": f"support:{guid('customer-3')}"}) == one
    assert {name: h.calls(name) for name in h.sims} == {name: 0 for name in h.sims}


async def test_unknown_id_is_cached_too(make_harness: HarnessFactory, cache_url: str) -> None:
    h = make_harness(only=["support"], cache={"url": cache_url})
    for _ in range(3):
        assert await h.run(ONE, {"id": f"support:{guid('nobody')}"}) == {"data": {"contact": None}}
    assert h.calls("support") == 1


async def test_ttl_zero_disables_caching_for_that_backend(make_harness: HarnessFactory, cache_url: str) -> None:
    h = make_harness(only=["support"], overrides={"support": {"ttl_s": 0}}, cache={"url": cache_url})
    await h.run(LIST)
    await h.run(LIST)
    assert h.calls("support") == 2


async def test_expired_entries_are_read_again(make_harness: HarnessFactory, cache_url: str) -> None:
    h = make_harness(only=["support"], overrides={"support": {"ttl_s": 0.2}}, cache={"url": cache_url})
    await h.run(LIST)
    await asyncio.sleep(0.3)
    await h.run(LIST)
    assert h.calls("support") == 2


def tenant_gateway(sim: Comm100Simulator, token: str, cache_url: str) -> Gateway:
    settings = settings_for(
        {"support": {"vendor": "comm100", "url": "http://comm100.test" + PREFIX, "token": token}},
        cache={"url": cache_url},
    )
    return Gateway.from_settings(settings, transports={"support": httpx.ASGITransport(app=sim.app)})


async def run(gateway: Gateway, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return await Harness(gateway, {}).run(query, variables)


async def test_two_tokens_for_the_same_url_never_share_entries(cache_url: str) -> None:
    # Two tenants of the same vendor URL: same paths, different data behind different tokens.
    tenant_a = Comm100Simulator(token="token-a")
    other = sample_records()
    for record in other:
        record["name"] = "B-" + record["name"]
    tenant_b = Comm100Simulator(token="token-b", records=other)
    a = tenant_gateway(tenant_a, "token-a", cache_url)
    b = tenant_gateway(tenant_b, "token-b", cache_url)
    try:
        seen_a = await run(a, LIST)
        seen_b = await run(b, LIST)
        assert len(tenant_b.state.calls) == 1  # b did not get a's cached page
        names_b = [e["node"]["displayName"] for e in seen_b["data"]["contacts"]["edges"]]
        assert names_b and all(n.startswith("B-") for n in names_b)
        assert seen_a != seen_b
    finally:
        await a.aclose()
        await b.aclose()


@pytest.mark.redis
async def test_cache_keys_hold_no_secret_and_no_filter_value() -> None:
    require_redis()
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    sim = Comm100Simulator(token="very-secret-token-123")
    gateway = tenant_gateway(sim, "very-secret-token-123", REDIS_TEST_URL)
    try:
        await run(gateway, '{ contacts(filter: {email: "ava.nguyen@acme.example"}) { totalCount } }')
    finally:
        await gateway.aclose()
    client = redis.Redis.from_url(REDIS_TEST_URL)
    keys = [k.decode() if isinstance(k, bytes) else k for k in client.keys("*")]
    client.close()
    assert keys
    assert not [k for k in keys if "very-secret" in k or "ava.nguyen" in k or "acme" in k]


def test_redis_replies_are_parsed_in_c() -> None:
    """hiredis is a dependency: without it redis-py parses every reply in Python, ~17% more CPU
    a Redis-cached read. No connection is opened here."""
    store = open_store("redis://127.0.0.1:6379/0", max_connections=1)
    connection = store.client.connection_pool.make_connection()
    assert type(connection._parser).__name__ == "_AsyncHiredisParser"


async def test_fifty_identical_queries_at_once_make_one_vendor_call(
    make_harness: HarnessFactory, cache_url: str
) -> None:
    h = make_harness(only=["support"], cache={"url": cache_url})
    h.sims["support"].state.latency_s = 0.2
    results = await asyncio.gather(*(h.run(ONE, {"id": f"support:{guid('customer-9')}"}) for _ in range(50)))
    assert all(r == results[0] and "errors" not in r for r in results)
    assert h.calls("support") == 1


@pytest.mark.redis
async def test_identical_reads_on_two_instances_sharing_redis_go_out_once() -> None:
    require_redis()
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    sim = Comm100Simulator(token="shared-token")
    sim.state.latency_s = 0.3
    instances = [tenant_gateway(sim, "shared-token", REDIS_TEST_URL) for _ in range(2)]
    try:
        variables = {"id": f"support:{guid('customer-9')}"}
        results = await asyncio.gather(*(run(instances[k % 2], ONE, variables) for k in range(40)))
    finally:
        for gateway in instances:
            await gateway.aclose()
    assert all(r == results[0] and "errors" not in r for r in results)
    assert len(sim.state.calls) == 1


@pytest.mark.redis
async def test_an_instance_waiting_on_another_loads_itself_when_that_one_fails() -> None:
    require_redis()
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    sim = Comm100Simulator(token="shared-token")
    sim.state.latency_s = 0.2
    sim.state.inject(Fault("status", status=500, times=1))
    instances = [tenant_gateway(sim, "shared-token", REDIS_TEST_URL) for _ in range(2)]
    for gateway in instances:
        for backend in gateway.backends.values():
            assert isinstance(backend, HttpBackend)
            backend.http.settings = backend.http.settings.model_copy(update={"retries": 0})
    try:
        variables = {"id": f"support:{guid('customer-9')}"}
        first, second = await asyncio.gather(run(instances[0], ONE, variables), run(instances[1], ONE, variables))
    finally:
        for gateway in instances:
            await gateway.aclose()
    outcomes = sorted("errors" in r for r in (first, second))
    assert outcomes == [False, True]  # one saw the failure; the other did not inherit it
    assert len(sim.state.calls) == 2


async def test_coalescing_works_without_caching_too(make_harness: HarnessFactory, cache_url: str) -> None:
    h = make_harness(only=["support"], overrides={"support": {"ttl_s": 0}}, cache={"url": cache_url})
    h.sims["support"].state.latency_s = 0.2
    await asyncio.gather(*(h.run(LIST) for _ in range(20)))
    assert h.calls("support") == 1


async def test_a_write_makes_the_next_read_fresh(make_harness: HarnessFactory, cache_url: str) -> None:
    h = make_harness(only=["support"], cache={"url": cache_url, "ttl_s": 60})
    contact_id = f"support:{guid('customer-2')}"
    await h.run(ONE, {"id": contact_id})
    await h.run('mutation($id: ID!) { updateContact(id: $id, input: {title: "Chief"}) { id } }', {"id": contact_id})
    after = await h.run(ONE, {"id": contact_id})
    assert after["data"]["contact"]["title"] == "Chief"


@pytest.mark.redis
async def test_write_through_one_replica_is_seen_by_another() -> None:
    require_redis()
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    sim = Comm100Simulator()
    settings = settings_for(
        {"support": {"vendor": "comm100", "url": "http://comm100.test" + PREFIX, "token": "comm100-demo-token"}},
        cache={"url": REDIS_TEST_URL, "ttl_s": 300},
    )
    replica_a = create_app(settings, transports={"support": httpx.ASGITransport(app=sim.app)})
    replica_b = create_app(settings, transports={"support": httpx.ASGITransport(app=sim.app)})
    contact_id = f"support:{guid('customer-11')}"

    async def post(app: Any, query: str) -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
            response = await c.post("/graphql", json={"query": query, "variables": {"id": contact_id}})
            return response.json()  # type: ignore[no-any-return]

    try:
        before = await post(replica_b, ONE)
        assert before["data"]["contact"]["title"] != "Renamed"
        written = await post(
            replica_a, 'mutation($id: ID!) { updateContact(id: $id, input: {title: "Renamed"}) { id } }'
        )
        assert "errors" not in written
        after = await post(replica_b, ONE)
        assert after["data"]["contact"]["title"] == "Renamed"
    finally:
        await replica_a.state.gateway.aclose()
        await replica_b.state.gateway.aclose()
        client.flushdb()
        client.close()


async def test_failing_backend_is_answered_from_a_stale_copy(make_harness: HarnessFactory, cache_url: str) -> None:
    h = make_harness(only=["support"], overrides={"support": {"ttl_s": 0.2, "stale_s": 60}}, cache={"url": cache_url})
    fresh = await h.run(LIST)
    await asyncio.sleep(0.3)
    h.sims["support"].state.inject(Fault("status", status=503))
    served = await h.run(LIST)
    assert served["data"] == fresh["data"]
    [stale] = served["extensions"]["stale"]
    assert stale["backend"] == "support" and stale["ageS"] >= 0.2
    assert "errors" not in served


async def test_without_a_stale_copy_the_usual_error_comes_back(make_harness: HarnessFactory, cache_url: str) -> None:
    h = make_harness(only=["support"], overrides={"support": {"stale_s": 0}}, cache={"url": cache_url})
    h.sims["support"].state.inject(Fault("status", status=503))
    result = await h.run(LIST)
    assert result["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert "extensions" not in result


async def test_auth_failure_is_not_hidden_behind_a_stale_copy(make_harness: HarnessFactory, cache_url: str) -> None:
    h = make_harness(only=["support"], overrides={"support": {"ttl_s": 0.2, "stale_s": 60}}, cache={"url": cache_url})
    await h.run(LIST)
    await asyncio.sleep(0.3)
    h.sims["support"].state.inject(Fault("status", status=401))
    result = await h.run(LIST)
    assert result["errors"][0]["extensions"]["code"] == "BACKEND_UNAUTHORIZED"


def spawn_redis(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process


@pytest.fixture
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own, on a free port, to stop and start at will."""
    require_redis()
    port = free_port()
    process = spawn_redis(port)
    yield f"redis://127.0.0.1:{port}/0", process
    process.kill()
    process.wait()


@pytest.mark.redis
async def test_redis_outage_is_survived_and_redis_picked_up_again(
    make_harness: HarnessFactory, private_redis: tuple[str, subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gateway.cache.RETRY_AFTER_OUTAGE_S", 0.1)
    url, process = private_redis
    h = make_harness(only=["support"], cache={"url": url})
    await h.run(LIST)
    await h.run(LIST)
    assert h.calls("support") == 1  # cached in Redis
    process.kill()
    process.wait()
    down = await h.run(LIST)
    assert "errors" not in down and down["data"]["contacts"]["edges"]
    assert h.gateway.cache.healthy is False
    # Redis comes back on the same port: the gateway uses it again once the retry delay passed.
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    back = spawn_redis(port)
    try:
        await asyncio.sleep(0.15)  # past the retry delay
        await h.run(LIST)
        assert h.gateway.cache.healthy is True
        # Having seen an outage, the instance bumped what it knew (a write elsewhere may have
        # gone unrecorded meanwhile): the next read loads once, and from then on it is cached.
        await asyncio.sleep(0.05)
        await h.run(LIST)
        h.reset_calls()
        await h.run(LIST)
        assert h.calls("support") == 0
    finally:
        back.kill()
        back.wait()


async def test_unreachable_redis_at_start_serves_without_cache() -> None:
    sim = Comm100Simulator()
    app = create_app(
        settings_for(
            {"support": {"vendor": "comm100", "url": "http://comm100.test" + PREFIX, "token": "comm100-demo-token"}},
            cache={"url": f"redis://127.0.0.1:{free_port()}/0"},
        ),
        transports={"support": httpx.ASGITransport(app=sim.app)},
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        r = await c.post("/graphql", json={"query": LIST})
        assert r.status_code == 200 and r.json()["data"]["contacts"]["edges"]
    await app.state.gateway.aclose()


@pytest.mark.redis
async def test_cached_reads_at_the_same_moment_share_a_round_trip_to_redis(make_harness: HarnessFactory) -> None:
    """Requests that reach their cache check in the same turn of the event loop ask Redis together
    (one MGET), not one command each: under load that halves the gateway's CPU on a Redis hit
    and Redis's commands (bench/README.md)."""
    require_redis()
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    h = make_harness(only=["support"], cache={"url": REDIS_TEST_URL, "ttl_s": 60})
    ids = [f"support:{guid(f'customer-{n}')}" for n in range(1, 9)]
    first = [await h.run(ONE, {"id": contact}) for contact in ids]  # now cached

    def reads() -> int:
        stats = client.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("get", "mget"))

    h.reset_calls()
    before = reads()
    again = await asyncio.gather(*(h.run(ONE, {"id": contact}) for contact in ids * 5))
    used = reads() - before
    client.flushdb()
    client.close()
    assert again == first * 5
    assert h.calls("support") == 0
    assert used <= 10, f"{used} Redis reads for 40 cached reads at once"  # 2 a read, one by one: 80
