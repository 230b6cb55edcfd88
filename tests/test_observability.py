"""What operators see: /metrics, /readyz, request ids carried to vendors, JSON log lines."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import logs
from gateway.app import create_app
from gateway.http import REQUEST_ID
from gateway.simulators.common import Fault, SimulatorTransport
from gateway.simulators.registry import Simulator
from tests.conftest import demo_backend_settings, settings_for

LIST = {"query": "query ListSome { contacts(first: 3) { edges { node { id } } } }", "operationName": "ListSome"}


class Served:
    def __init__(self, **extra: object) -> None:
        self.sims, configs = demo_backend_settings(["support"])
        configs["support"].update(extra)
        self.app = create_app(
            settings_for(configs), transports={n: SimulatorTransport(app=s.app) for n, s in self.sims.items()}
        )
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gw")

    @property
    def support(self) -> Simulator:
        return self.sims["support"]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    made = Served(retries=0, breaker_failures=1)
    yield made
    await made.client.aclose()
    await made.app.state.gateway.aclose()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_count_requests_backend_calls_cache_and_breaker(served: Served) -> None:
    await served.client.post("/graphql", json=LIST)
    await served.client.post("/graphql", json=LIST)  # the whole answer from the response cache
    await served.client.post("/graphql", json={**LIST, "query": LIST["query"].replace("{ id }", "{ id displayName }")})
    served.support.state.inject(Fault("status", status=500))
    await served.client.post(
        "/graphql", json={"query": '{ contact(id: "support:00000000-0000-0000-0000-00000000000a") { id } }'}
    )
    await served.client.post("/graphql", json={"query": "{ nope }"})
    response = await served.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("gateway_graphql_requests_total", (("operation", "ListSome"), ("outcome", "ok")))] == 3
    assert found[("gateway_graphql_requests_total", (("operation", "anonymous"), ("outcome", "rejected")))] == 1
    assert found[("gateway_graphql_requests_total", (("operation", "anonymous"), ("outcome", "partial")))] == 1
    assert (
        found[("gateway_backend_calls_total", (("backend", "support"), ("operation", "GET"), ("outcome", "ok")))] == 1
    )
    assert (
        found[
            (
                "gateway_backend_calls_total",
                (("backend", "support"), ("operation", "GET"), ("outcome", "BACKEND_UNAVAILABLE")),
            )
        ]
        == 1
    )
    assert found[("gateway_response_cache_events_total", (("event", "hit"),))] == 1
    # Another selection over the same vendor call: a new response, the vendor read from the cache.
    assert found[("gateway_cache_events_total", (("backend", "support"), ("event", "hit")))] == 1
    assert found[("gateway_backend_breaker_state", (("backend", "support"),))] == 2  # open after one failure
    assert ("gateway_graphql_request_seconds_count", (("operation", "ListSome"),)) in found


async def test_readyz_reports_an_open_breaker(served: Served) -> None:
    served.support.state.inject(Fault("status", status=500))
    await served.client.post("/graphql", json=LIST)
    ready = await served.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["backends"]["support"] == {"healthy": False, "lastError": "BACKEND_UNAVAILABLE"}


async def test_request_id_goes_to_the_vendor_and_back_to_the_client(served: Served) -> None:
    response = await served.client.post("/graphql", json=LIST, headers={"x-request-id": "trace-abc-123"})
    assert response.headers["x-request-id"] == "trace-abc-123"
    assert served.support.state.calls[-1].headers["x-request-id"] == "trace-abc-123"
    generated = await served.client.post("/graphql", json={"query": "{ backends { name } }"})
    assert len(generated.headers["x-request-id"]) == 32


async def test_operation_names_cannot_flood_the_metrics(served: Served) -> None:
    gateway = served.app.state.gateway
    labels = {gateway.metrics.operation_label(f"Op{i}") for i in range(300)}
    assert "other" in labels and len(labels) <= 201
    assert gateway.metrics.operation_label("drop table; --") == "invalid"


def test_json_log_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("json")
        token = REQUEST_ID.set("req-77")
        logging.getLogger("gateway.test").warning("backend %s failed", "support")
        REQUEST_ID.reset(token)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "backend support failed"
    assert line["request_id"] == "req-77"
    assert line["level"] == "WARNING" and line["logger"] == "gateway.test"
