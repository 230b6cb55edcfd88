"""The whole-response cache, ETags and automatic persisted queries, over HTTP.

A repeated read is answered from the stored response; a write anywhere (another replica sharing
Redis included) makes the next read fresh; callers with different backend scopes never share an
answer; answers with errors or stale parts are never reused.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.simulators.comm100 import PREFIX, Comm100Simulator, guid
from gateway.simulators.common import Fault, SimulatorTransport
from gateway.simulators.registry import Simulator
from tests.conftest import demo_backend_settings, settings_for
from tests.services import redis_url, require_redis

REDIS_TEST_URL = redis_url(14)
GQL = "application/graphql-response+json"
SUPPORT_KEY = "key-support-only-1111"
SUPPORT_KEY_2 = "key-support-only-2222"
VOICE_KEY = "key-voice-only-3333"
ONE = "query One($id: ID!) { contact(id: $id) { id displayName title } }"
LIST = "{ contacts(first: 50) { edges { node { id backend } } } }"
CUSTOMER = f"support:{guid('customer-2')}"


class Served:
    """A gateway app over the demo backends, called in-process over ASGI."""

    def __init__(self, cache_url: str = "memory://", sims: dict[str, Simulator] | None = None, **sections: Any) -> None:
        self.sims, configs = demo_backend_settings(["support", "voice"])
        self.sims = sims or self.sims
        for conf in configs.values():
            conf["retries"] = 0
        sections.setdefault("cache", {})["url"] = cache_url
        self.app = create_app(
            settings_for(configs, **sections),
            transports={n: SimulatorTransport(app=s.app) for n, s in self.sims.items()},
        )
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gw")

    async def post(self, query: str, variables: dict[str, Any] | None = None, key: str | None = None) -> httpx.Response:
        headers = {"accept": GQL} | ({"authorization": f"Bearer {key}"} if key else {})
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def get(self, params: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.get("/graphql", params=params, headers={"accept": GQL, **(headers or {})})

    def vendor_calls(self) -> int:
        return sum(len(sim.state.calls) for sim in self.sims.values())

    async def response_hits(self) -> float:
        text = (await self.client.get("/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "gateway_response_cache_events_total" and sample.labels == {"event": "hit"}:
                    return sample.value
        return 0.0

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.app.state.gateway.aclose()


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    made = Served()
    yield made
    await made.aclose()


@pytest.fixture
def shared_redis() -> str:
    require_redis()
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    return REDIS_TEST_URL


async def test_a_repeated_read_is_answered_from_the_stored_response(served: Served) -> None:
    first = await served.post(ONE, {"id": CUSTOMER})
    calls = served.vendor_calls()
    second = await served.post(ONE, {"id": CUSTOMER})
    assert second.status_code == 200 and second.content == first.content
    assert second.headers["content-type"].startswith(GQL)
    assert served.vendor_calls() == calls
    assert await served.response_hits() == 1
    other = await served.post(ONE, {"id": f"support:{guid('customer-3')}"})
    assert other.json()["data"]["contact"]["id"] != first.json()["data"]["contact"]["id"]


async def test_get_reads_carry_an_etag_and_answer_304_when_the_client_holds_it(served: Served) -> None:
    params = {"query": ONE, "variables": orjson.dumps({"id": CUSTOMER}).decode()}
    first = await served.get(params)
    etag = first.headers["etag"]
    assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
    again = await served.get(params, {"if-none-match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (await served.get(params, {"if-none-match": '"something-else"'})).status_code == 200
    # After a write the stored answer changes, and so does its tag: the client gets the new body.
    await served.post(
        'mutation($id: ID!) { updateContact(id: $id, input: {title: "Etagged"}) { id } }', {"id": CUSTOMER}
    )
    changed = await served.get(params, {"if-none-match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["data"]["contact"]["title"] == "Etagged"


async def test_a_write_makes_the_stored_response_unreachable(served: Served) -> None:
    before = await served.post(ONE, {"id": CUSTOMER})
    assert before.json()["data"]["contact"]["title"] != "Chief"
    written = await served.post(
        'mutation($id: ID!) { updateContact(id: $id, input: {title: "Chief"}) { id title } }', {"id": CUSTOMER}
    )
    assert written.json()["data"]["updateContact"]["title"] == "Chief"
    after = await served.post(ONE, {"id": CUSTOMER})
    assert after.json()["data"]["contact"]["title"] == "Chief"


@pytest.mark.redis
async def test_a_write_through_one_replica_refreshes_the_other_replicas_responses(shared_redis: str) -> None:
    replica_a = Served(shared_redis)
    replica_b = Served(shared_redis, sims=replica_a.sims)  # one vendor behind both replicas
    try:
        assert (await replica_b.post(ONE, {"id": CUSTOMER})).json()["data"]["contact"]["title"] != "Renamed"
        assert (await replica_b.post(ONE, {"id": CUSTOMER})).status_code == 200
        assert await replica_b.response_hits() == 1  # the stored answer is in use
        written = await replica_a.post(
            'mutation($id: ID!) { updateContact(id: $id, input: {title: "Renamed"}) { id } }', {"id": CUSTOMER}
        )
        assert "errors" not in written.json()
        after = await replica_b.post(ONE, {"id": CUSTOMER})
        assert after.json()["data"]["contact"]["title"] == "Renamed"
    finally:
        await replica_a.aclose()
        await replica_b.aclose()
        redis.Redis.from_url(shared_redis).flushdb()


@pytest.mark.parametrize("cache", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_callers_with_different_scopes_never_share_an_answer(cache: str) -> None:
    url = "memory://" if cache == "memory" else REDIS_TEST_URL
    if cache == "redis":
        require_redis()
        redis.Redis.from_url(url).flushdb()
    keys = [
        {"name": "support-a", "key": SUPPORT_KEY, "backends": ["support"]},
        {"name": "support-b", "key": SUPPORT_KEY_2, "backends": ["support"]},
        {"name": "voice", "key": VOICE_KEY, "backends": ["voice"]},
    ]
    served = Served(url, auth={"api_keys": keys})
    try:
        support = await served.post(LIST, key=SUPPORT_KEY)
        voice = await served.post(LIST, key=VOICE_KEY)
        assert {e["node"]["backend"] for e in support.json()["data"]["contacts"]["edges"]} == {"support"}
        assert {e["node"]["backend"] for e in voice.json()["data"]["contacts"]["edges"]} == {"voice"}
        assert await served.response_hits() == 0
        # The same scope under another key may reuse the answer: it sees exactly the same data.
        same_scope = await served.post(LIST, key=SUPPORT_KEY_2)
        assert same_scope.content == support.content
        assert await served.response_hits() == 1
    finally:
        await served.aclose()


async def test_answers_with_errors_are_never_reused(served: Served) -> None:
    served.sims["voice"].state.inject(Fault("status", status=500))
    failed = await served.post(LIST)
    assert {e["extensions"]["backend"] for e in failed.json()["errors"]} == {"voice"}
    served.sims["voice"].state.clear_faults()
    healed = await served.post(LIST)
    assert "errors" not in healed.json()
    assert "voice" in {e["node"]["backend"] for e in healed.json()["data"]["contacts"]["edges"]}


async def test_gateway_state_is_never_served_from_the_response_cache(served: Served) -> None:
    query = "{ backends { name healthy } }"
    assert all(b["healthy"] for b in (await served.post(query)).json()["data"]["backends"])
    served.sims["voice"].state.inject(Fault("status", status=500))
    for _ in range(5):  # breaker_failures: the breaker opens
        await served.post(LIST)
    after = (await served.post(query)).json()["data"]["backends"]
    assert {b["name"]: b["healthy"] for b in after}["voice"] is False


async def test_ttl_zero_on_any_backend_turns_response_caching_off() -> None:
    sims, configs = demo_backend_settings(["support", "voice"])
    configs["voice"]["ttl_s"] = 0
    app = create_app(settings_for(configs), transports={n: SimulatorTransport(app=s.app) for n, s in sims.items()})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        for _ in range(3):
            await client.post("/graphql", json={"query": LIST})
        assert len(sims["voice"].state.calls) == 3
    await app.state.gateway.aclose()


async def test_mutations_are_never_cached(served: Served) -> None:
    mutation = 'mutation($id: ID!) { updateContact(id: $id, input: {alias: "A1"}) { id alias } }'
    await served.post(mutation, {"id": CUSTOMER})
    writes_before = served.vendor_calls()
    again = await served.post(mutation, {"id": CUSTOMER})
    assert again.json()["data"]["updateContact"]["alias"] == "A1"
    assert served.vendor_calls() > writes_before


def sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


async def test_persisted_query_round_trip(served: Served) -> None:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha(ONE)}}
    body = {"variables": {"id": CUSTOMER}, "extensions": extensions}
    missing = await served.client.post("/graphql", json=body, headers={"accept": GQL})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await served.client.post("/graphql", json={**body, "query": ONE})
    assert registered.json()["data"]["contact"]["id"] == CUSTOMER
    by_hash = await served.client.post("/graphql", json=body)
    assert by_hash.status_code == 200 and by_hash.json() == registered.json()
    over_get = await served.get(
        {"extensions": orjson.dumps(extensions).decode(), "variables": orjson.dumps({"id": CUSTOMER}).decode()}
    )
    assert over_get.json()["data"]["contact"]["id"] == CUSTOMER


@pytest.mark.redis
async def test_persisted_queries_are_known_to_every_replica_sharing_redis(shared_redis: str) -> None:
    replica_a, replica_b = Served(shared_redis), Served(shared_redis)
    body = {"variables": {"id": CUSTOMER}, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha(ONE)}}}
    try:
        await replica_a.client.post("/graphql", json={**body, "query": ONE})
        by_hash = await replica_b.client.post("/graphql", json=body)
        assert by_hash.json()["data"]["contact"]["id"] == CUSTOMER
    finally:
        await replica_a.aclose()
        await replica_b.aclose()


@pytest.mark.parametrize(
    ("persisted", "query", "fragment"),
    [
        ({"version": 1, "sha256Hash": sha("{ backends { name } }")}, ONE, "does not match"),
        ({"version": 2, "sha256Hash": sha(ONE)}, None, "version 1"),
        ({"version": 1, "sha256Hash": "abc"}, None, "sha256Hash"),
    ],
)
async def test_bad_persisted_queries_are_refused_with_a_code(
    served: Served, persisted: dict[str, Any], query: str | None, fragment: str
) -> None:
    body: dict[str, Any] = {"extensions": {"persistedQuery": persisted}} | ({"query": query} if query else {})
    response = await served.client.post("/graphql", json=body, headers={"accept": GQL})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and fragment in error["message"]


@pytest.mark.redis
async def test_two_deployments_with_other_credentials_never_share_answers(shared_redis: str) -> None:
    # Same backend name, same URL, other tokens (two tenants): the same query, other data.
    tenants = {"A": Comm100Simulator(token="token-a"), "B": Comm100Simulator(token="token-b")}
    for prefix, sim in tenants.items():
        for record in sim.records.values():
            record["name"] = f"{prefix}-{record['name']}"
    apps = [
        create_app(
            settings_for(
                {
                    "support": {
                        "vendor": "comm100",
                        "url": "http://comm100.test" + PREFIX,
                        "token": f"token-{t.lower()}",
                    }
                },
                cache={"url": shared_redis},
            ),
            transports={"support": SimulatorTransport(app=sim.app)},
        )
        for t, sim in tenants.items()
    ]
    names = []
    try:
        for app in apps:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                body = (await client.post("/graphql", json={"query": LIST.replace("backend", "displayName")})).json()
                names.append({e["node"]["displayName"][:2] for e in body["data"]["contacts"]["edges"]})
    finally:
        for app in apps:
            await app.state.gateway.aclose()
    assert names == [{"A-"}, {"B-"}]


@pytest.mark.parametrize("cache", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_an_answer_made_while_a_write_landed_is_never_served(cache: str) -> None:
    """Looked up at one generation, made, then stored after a write: the entry names the
    generation it was made at, so the next read does not take it."""
    url = "memory://"
    if cache == "redis":
        require_redis()
        redis.Redis.from_url(REDIS_TEST_URL).flushdb()
        url = REDIS_TEST_URL
    served = Served(url)
    try:
        gateway = served.app.state.gateway
        slot = await gateway.responses.look_up(None, ONE, None, {"id": CUSTOMER})
        assert slot is not None and slot.found is None
        await gateway.backends["support"].forget_cached_reads()  # a write lands
        await gateway.responses.put(slot, b'{"data": {"contact": null}}', '"old"')
        again = await gateway.responses.look_up(None, ONE, None, {"id": CUSTOMER})
        assert again is not None and again.found is None
        await gateway.responses.put(again, b'{"data": {"contact": null}}', '"current"')
        current = await gateway.responses.look_up(None, ONE, None, {"id": CUSTOMER})
        assert current is not None and current.found is not None and current.found.etag == '"current"'
    finally:
        await served.aclose()


@pytest.mark.redis
async def test_a_stored_answer_on_redis_costs_one_round_trip(shared_redis: str) -> None:
    """The backends' generations and the stored answer come in one MGET, nothing else."""
    served = Served(shared_redis)
    client = redis.Redis.from_url(shared_redis)
    try:
        await served.post(ONE, {"id": CUSTOMER})

        def calls() -> dict[str, int]:
            stats = client.info("commandstats")
            return {name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("mget", "get", "exists")}

        before = calls()
        answer = await served.post(ONE, {"id": CUSTOMER})
        after = calls()
        assert answer.status_code == 200 and await served.response_hits() == 1
        assert {name: after[name] - before[name] for name in before} == {"mget": 1, "get": 0, "exists": 0}
    finally:
        await served.aclose()
        client.flushdb()
