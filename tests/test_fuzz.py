"""Property-based fuzzing: hundreds of generated queries and mutations against the served schema.
Whatever the query, the gateway answers with data or coded errors: never HTTP 500, never a
traceback, never an uncoded error."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import from_schema

from gateway.app import create_app
from gateway.simulators.common import SimulatorTransport
from schema import SDL_PATH
from tests.conftest import demo_backend_settings, settings_for

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
SDL = SDL_PATH.read_text()


def test_generated_operations_never_break_the_gateway() -> None:
    loop = asyncio.new_event_loop()
    sims, configs = demo_backend_settings()
    for conf in configs.values():
        conf["retries"] = 0
    app = create_app(
        settings_for(configs, server={"deadline_s": 5}),
        transports={n: SimulatorTransport(app=s.app) for n, s in sims.items()},
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")
    seen = {"ok": 0, "errors": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        database=None,
    )
    @given(operation=from_schema(SDL))
    def check(operation: str) -> None:
        response = loop.run_until_complete(
            client.post("/graphql", json={"query": operation}, headers={"accept": "application/graphql-response+json"})
        )
        assert response.status_code in (200, 400), (operation, response.status_code, response.text)
        assert "Traceback" not in response.text and 'File "' not in response.text
        body = response.json()
        assert "data" in body or "errors" in body
        for error in body.get("errors", []):
            assert error["extensions"]["code"], error
            assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", (operation, error)
        seen["errors" if body.get("errors") else "ok"] += 1

    try:
        check()
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(app.state.gateway.aclose())
        loop.close()
    assert seen["ok"] > 0  # the generator reached real answers, not only refusals
