"""An evil vendor behind each of the four adapters at once, served over real sockets: every mode
ends within the deadline with a coded error for the evil backends only, a healthy backend's data
still comes back, /healthz keeps answering meanwhile, nothing is a 5xx, and no secret shows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.simulators.comm100 import PREFIX, Comm100Simulator, guid
from gateway.simulators.common import SimulatorTransport
from gateway.simulators.evil import MODES, EvilVendor
from tests.conftest import settings_for
from tests.services import serving

pytestmark = pytest.mark.slow

DEADLINE_S = 2.5
SECRETS = {
    "comm100": "evil-comm100-token-6b1f0c",
    "motioncx": "evil-motioncx-token-93ad1e",
    "agentvoice": "evil-agentvoice-key-77c2b4",
    "genesys": "evil-genesys-password-0e5d",
}
IDS = {
    "comm100": "6f1d4c1e-8a51-4a8e-9a36-0c0ffee10001",
    "motioncx": "13722",
    "agentvoice": "5b0c7f4e-2d1a-4c3b-9e8f-a9e0c0ffee01",
    "genesys": "Some unique id",
}
EVIL = ("c", "m", "a", "g")
# Modes in which no answer the vendor gives is usable: every lookup must come back as an error.
NOTHING_USABLE = {"redirect", "huge", "drip", "null", "empty", "not-json", "echo"}
ALLOWED = {"BACKEND_BAD_RESPONSE", "BACKEND_TIMEOUT", "BACKEND_UNAVAILABLE", "BAD_USER_INPUT"}


def evil_backends(root: str) -> dict[str, dict[str, Any]]:
    # Cached: a page that points at itself is then a cache hit every time after the first.
    common = {"timeout_s": 1, "retries": 1, "retry_backoff_s": 0.01, "ttl_s": 60, "max_response_bytes": 1024 * 1024}
    return {
        "c": {"vendor": "comm100", "url": root + "/v4", "token": SECRETS["comm100"], **common},
        "m": {"vendor": "motioncx", "url": root, "tenant_id": 2, "token": SECRETS["motioncx"], **common},
        "a": {
            "vendor": "agentvoice",
            "url": root + "/api",
            "api_key": SECRETS["agentvoice"],
            "organization_id": "org-1",
            **common,
        },
        "g": {
            "vendor": "genesys",
            "url": root + "/api/v2",
            "username": "gws",
            "password": SECRETS["genesys"],
            **common,
        },
    }


async def probe_health(url: str, stop: asyncio.Event, latencies: list[float]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        while not stop.is_set():
            started = time.monotonic()
            assert (await client.get(url + "/healthz")).status_code == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("mode", MODES)
async def test_an_evil_vendor_costs_only_its_own_part(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    evil = EvilVendor(mode, size_bytes=4 * 1024 * 1024)
    healthy = Comm100Simulator()
    healthy_id = guid("customer-1")
    servers = contextlib.AsyncExitStack()
    root = await servers.enter_async_context(serving(evil))
    backends = {
        "good": {"vendor": "comm100", "url": "http://good.test" + PREFIX, "token": "comm100-demo-token"},
        **evil_backends(root),
    }
    app = create_app(
        settings_for(backends, server={"deadline_s": DEADLINE_S}),
        transports={"good": SimulatorTransport(app=healthy.app)},
    )
    url = await servers.enter_async_context(serving(app))
    ids = {**IDS, "good": healthy_id}
    lookups = " ".join(
        f'{name}: contact(id: "{name}:{ids[name if name == "good" else conf["vendor"]]}") {{ id displayName }}'
        for name, conf in backends.items()
    )
    # A filter nothing matches: a list that never ends keeps being read (until the guards stop it).
    listing = 'contacts(first: 5, filter: {search: "no contact has this"}) { totalCount edges { node { id } } }'
    query = f"{{ {listing} {lookups} }}"
    stop = asyncio.Event()
    latencies: list[float] = []
    prober = asyncio.create_task(probe_health(url, stop, latencies))
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            started = time.monotonic()
            response = await client.post(url + "/graphql", json={"query": query})
            elapsed = time.monotonic() - started
    finally:
        stop.set()
        await prober
        await servers.aclose()

    assert response.status_code == 200, response.text
    body = response.json()
    assert elapsed < DEADLINE_S + 1.5, f"answered after {elapsed:.1f} s"
    assert latencies and max(latencies) < 1.0, f"/healthz took {max(latencies):.2f} s while {mode} ran"
    assert body["data"]["good"]["id"] == f"good:{healthy_id}", "the healthy backend still answered"
    for error in body.get("errors", []):
        assert error["extensions"]["code"] in ALLOWED, error
        assert error["extensions"].get("backend") in EVIL, error
    for name in EVIL:
        looked_up = body["data"][name]
        failed = any(e.get("path", [None])[0] == name for e in body.get("errors", []))
        assert looked_up is None or not failed
        if mode in NOTHING_USABLE:
            assert failed, f"{name} answered null without an error in {mode}"
    said = response.text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in SECRETS.values():
        assert secret not in said, f"{secret} leaked in {mode}"
