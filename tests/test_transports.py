"""What carries vendor calls (gateway/transport.py): either transport reaches a real vendor over a
socket, and `transport: httpcore` goes through the proxy the environment names."""

from __future__ import annotations

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


@pytest.mark.parametrize("transport", ["aiohttp", "httpcore"])
async def test_each_transport_reads_a_vendor_over_a_socket(transport: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    sim = VOICE.make()
    async with serving(sim.app) as root:
        h = harness_for({**VOICE.settings(root), "transport": transport}, sim)
        try:
            body = await h.run(LIST)
        finally:
            await h.gateway.aclose()
    assert "errors" not in body
    assert len(body["data"]["contacts"]["edges"]) == 2
    assert h.calls("voice") >= 1


async def test_httpcore_goes_through_the_environments_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The vendor's host does not resolve: only a proxy can reach it. The simulator plays the
    proxy (it reads the absolute-form request line as its own path)."""
    sim = VOICE.make()
    async with serving(sim.app) as root:
        monkeypatch.setenv("HTTP_PROXY", root)
        for name in ("NO_PROXY", "no_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        h = harness_for({**VOICE.settings("http://vendor.invalid"), "transport": "httpcore", "retries": 0}, sim)
        try:
            through = await h.run(LIST)
        finally:
            await h.gateway.aclose()
        monkeypatch.setenv("NO_PROXY", "vendor.invalid")
        bypassed = harness_for({**VOICE.settings("http://vendor.invalid"), "transport": "httpcore", "retries": 0}, sim)
        try:
            direct = await bypassed.run(LIST)
        finally:
            await bypassed.gateway.aclose()
    assert "errors" not in through
    assert through["data"]["contacts"]["edges"]
    assert direct["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"


@pytest.mark.parametrize("transport", ["aiohttp", "httpcore"])
async def test_a_vendor_answering_gzip_is_read_decoded(transport: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Vendor calls ask for gzip; a compressed list (here, any answer over 100 bytes) reads as the plain one."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    sim = VOICE.make()
    asked: list[str] = []

    async def compressing(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            asked.append(dict(scope["headers"]).get(b"accept-encoding", b"").decode())
        await GZipMiddleware(sim.app, minimum_size=100)(scope, receive, send)

    async with serving(compressing) as root:
        h = harness_for({**VOICE.settings(root), "transport": transport}, sim)
        try:
            body = await h.run(LIST)
        finally:
            await h.gateway.aclose()
    assert "errors" not in body
    assert len(body["data"]["contacts"]["edges"]) == 2
    assert asked and all("gzip" in value for value in asked)
