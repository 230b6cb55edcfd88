"""`@defer` over multipart/mixed with real clients from npm: Apollo Client 3 and urql render the
fast backend's part first and the slow backend's part when it arrives (or its error, when it
fails); a client that does not accept multipart gets one merged answer."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from gateway.app import create_app
from gateway.simulators.common import Fault, SimulatorTransport
from tests.conftest import demo_backend_settings, settings_for
from tests.npm import npm_modules, run_node
from tests.services import serving

pytestmark = [pytest.mark.slow]

SLOW_S = 1.5
SPLIT = """query Split {
  fast: contacts(first: 3, backends: ["support"]) { edges { node { id backend } } }
  ... @defer(label: "slow") { slow: contacts(first: 3, backends: ["voice"]) { edges { node { id backend } } } }
}"""


def split_app(voice_fault: Fault | None = None) -> object:
    sims, configs = demo_backend_settings(["support", "voice"])
    sims["voice"].state.latency_s = SLOW_S  # the slow backend: every call takes this long
    if voice_fault is not None:
        configs["voice"]["retries"] = 0
        sims["voice"].state.inject(voice_fault)
    return create_app(settings_for(configs), transports={n: SimulatorTransport(app=s.app) for n, s in sims.items()})


async def test_apollo_client_renders_the_fast_part_before_the_deferred_slow_one() -> None:
    modules = npm_modules("@apollo/client@3", "graphql@16")
    async with serving(split_app()) as root:  # type: ignore[arg-type]
        done = await asyncio.to_thread(run_node, "apollo_defer.cjs", root + "/graphql", modules=modules)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert all("error" not in s and not s["errors"] for s in seen), seen
    first, last = seen[0], seen[-1]
    assert [e["node"]["backend"] for e in first["data"]["fast"]["edges"]] == ["support"] * 3
    assert "slow" not in first["data"]  # rendered before the slow backend answered
    assert [e["node"]["backend"] for e in last["data"]["slow"]["edges"]] == ["voice"] * 3
    assert last["data"]["fast"] == first["data"]["fast"]
    assert first["ms"] < SLOW_S * 1000 <= last["ms"]


async def test_urql_renders_the_fast_part_first_then_the_slow_part_or_its_error() -> None:
    modules = npm_modules("@urql/core@5", "graphql@16")
    runs = {}
    for name, fault in (("slow", None), ("failing", Fault("status", status=503))):
        async with serving(split_app(fault)) as root:  # type: ignore[arg-type]
            done = await asyncio.to_thread(run_node, "urql_defer.cjs", root + "/graphql", modules=modules)
        assert done.returncode == 0, done.stderr
        runs[name] = json.loads(done.stdout)
    first, *_, last = runs["slow"]
    assert first["hasNext"] and "slow" not in first["data"] and first["ms"] < SLOW_S * 1000
    assert [e["node"]["backend"] for e in first["data"]["fast"]["edges"]] == ["support"] * 3
    assert not last["hasNext"] and [e["node"]["backend"] for e in last["data"]["slow"]["edges"]] == ["voice"] * 3
    assert last["errors"] == [] and last["ms"] >= SLOW_S * 1000
    final = runs["failing"][-1]
    assert final["data"]["fast"] == first["data"]["fast"]  # the failure costs only the deferred part
    assert [e["code"] for e in final["errors"]] == ["BACKEND_UNAVAILABLE"]


async def test_urql_appends_streamed_items_in_order() -> None:
    modules = npm_modules("@urql/core@5", "graphql@16")
    streamed = '{ contacts(first: 5, backends: ["support"]) { edges @stream(initialCount: 2) { node { id } } } }'
    plain = streamed.replace(" @stream(initialCount: 2)", "")
    async with serving(split_app()) as root:  # type: ignore[arg-type]
        done = await asyncio.to_thread(run_node, "urql_defer.cjs", root + "/graphql", streamed, modules=modules)
        async with httpx.AsyncClient() as client:
            whole = (await client.post(root + "/graphql", json={"query": plain})).json()
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert len(seen[0]["data"]["contacts"]["edges"]) == 2 and seen[0]["hasNext"]
    final = seen[-1]["data"]["contacts"]["edges"]
    assert [e["node"]["id"] for e in final] == [e["node"]["id"] for e in whole["data"]["contacts"]["edges"]]


async def test_multipart_only_accept_is_served() -> None:
    async with serving(split_app()) as root, httpx.AsyncClient(timeout=20) as client:  # type: ignore[arg-type]
        response = await client.post(root + "/graphql", json={"query": SPLIT}, headers={"accept": "multipart/mixed"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("multipart/mixed")
    assert '"slow"' in response.text and '"hasNext":false' in response.text


async def test_without_multipart_the_parts_come_merged_in_one_answer() -> None:
    async with serving(split_app()) as root, httpx.AsyncClient(timeout=20) as client:  # type: ignore[arg-type]
        started = time.monotonic()
        response = await client.post(root + "/graphql", json={"query": SPLIT}, headers={"accept": "application/json"})
        took = time.monotonic() - started
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"data"}
    assert {e["node"]["backend"] for e in body["data"]["fast"]["edges"]} == {"support"}
    assert {e["node"]["backend"] for e in body["data"]["slow"]["edges"]} == {"voice"}
    assert took >= SLOW_S


async def test_a_failing_or_hanging_deferred_part_costs_only_its_own_part() -> None:
    for fault, code in ((Fault("status", status=503), "BACKEND_UNAVAILABLE"), (Fault("hang"), "BACKEND_TIMEOUT")):
        sims, configs = demo_backend_settings(["support", "voice"])
        configs["voice"] |= {"retries": 0, "timeout_s": 30}
        sims["voice"].state.inject(fault)
        app = create_app(
            settings_for(configs, server={"deadline_s": 1}),
            transports={n: SimulatorTransport(app=s.app) for n, s in sims.items()},
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            started = time.monotonic()
            response = await client.post("/graphql", json={"query": SPLIT})
            took = time.monotonic() - started
        await app.state.gateway.aclose()
        body = response.json()
        assert len(body["data"]["fast"]["edges"]) == 3, fault
        assert [(e["extensions"]["code"], e["extensions"].get("backend")) for e in body["errors"]] == [(code, "voice")]
        assert took < 5, fault  # the deadline holds for deferred parts too
