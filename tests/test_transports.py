"""What carries vendor calls (gateway/transport.py): either transport reaches a real vendor over a
socket, and `transport: httpcore` goes through the proxy the environment names."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Receive, Scope, Send

from gateway.runtime import Gateway
from gateway.simulators.registry import DEMO_BACKENDS, Simulator
from tests.conftest import Harness, settings_for
from tests.services import serving

VOICE = next(demo for demo in DEMO_BACKENDS if demo.name == "voice")
LIST = "{ contacts(first: 2) { edges { node { id displayName } } } }"


def harness_for(settings: dict[str, object], sim: Simulator) -> Harness:
    gateway = Gateway.from_settings(settings_for({"voice": settings}))
    return Harness(gateway=gateway, sims={"voice": sim})


PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*PROXY_VARIABLES, "no_proxy"):
        monkeypatch.delenv(name, raising=False)


async def listed(settings: dict[str, object], sim: Simulator) -> tuple[dict[str, Any], Harness]:
    """The LIST query through a gateway with one backend of `settings` (closed after)."""
    h = harness_for(settings, sim)
    try:
        return await h.run(LIST), h
    finally:
        await h.gateway.aclose()


@pytest.mark.parametrize("transport", ["aiohttp", "httpcore"])
async def test_each_transport_reads_a_vendor_over_a_socket(transport: str) -> None:
    sim = VOICE.make()
    async with serving(sim.app) as root:
        body, h = await listed({**VOICE.settings(root), "transport": transport}, sim)
    assert "errors" not in body
    assert len(body["data"]["contacts"]["edges"]) == 2
    assert h.calls("voice") >= 1


async def test_httpcore_goes_through_the_environments_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vendor's host does not resolve: only a proxy can reach it. The simulator plays the
    proxy (it reads the absolute-form request line as its own path)."""
    sim = VOICE.make()
    unresolvable = {**VOICE.settings("http://vendor.invalid"), "transport": "httpcore", "retries": 0}
    async with serving(sim.app) as root:
        monkeypatch.setenv("HTTP_PROXY", root)
        through, _ = await listed(unresolvable, sim)
        monkeypatch.setenv("NO_PROXY", "vendor.invalid")
        direct, _ = await listed(unresolvable, sim)
    assert "errors" not in through
    assert through["data"]["contacts"]["edges"]
    assert direct["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"


@pytest.mark.parametrize("transport", ["aiohttp", "httpcore"])
async def test_a_vendor_answering_gzip_is_read_decoded(transport: str) -> None:
    """Vendor calls ask for gzip; a compressed list (here, any answer over 100 bytes) reads as the plain one."""
    sim = VOICE.make()
    asked: list[str] = []

    async def compressing(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            asked.append(dict(scope["headers"]).get(b"accept-encoding", b"").decode())
        await GZipMiddleware(sim.app, minimum_size=100)(scope, receive, send)

    async with serving(compressing) as root:
        body, _ = await listed({**VOICE.settings(root), "transport": transport}, sim)
    assert "errors" not in body
    assert len(body["data"]["contacts"]["edges"]) == 2
    assert asked and all("gzip" in value for value in asked)
