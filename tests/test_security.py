"""Security: API keys and their backend scopes, query limits, introspection, secret hygiene."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from gateway.app import create_app
from gateway.simulators.comm100 import PREFIX, Comm100Simulator, guid
from gateway.simulators.common import Fault, SimulatorTransport
from tests.conftest import settings_for
from tests.services import free_port, redis_url, require_redis

GQL = "application/graphql-response+json"
SUPPORT_TOKEN = "support-token-s3cr3t-aaaa"
SALES_TOKEN = "sales-token-s3cr3t-bbbb"
ADMIN_KEY = "admin-key-s3cr3t-cccc"
SUPPORT_KEY = "support-only-key-s3cr3t-dddd"
SECRETS = (SUPPORT_TOKEN, SALES_TOKEN, ADMIN_KEY, SUPPORT_KEY)


class App:
    def __init__(self, cache_url: str = "memory://", **server: Any) -> None:
        self.sims = {"support": Comm100Simulator(token=SUPPORT_TOKEN), "sales": Comm100Simulator(token=SALES_TOKEN)}
        backends = {
            name: {"vendor": "comm100", "url": f"http://{name}.test{PREFIX}", "token": sim.token, "retries": 0}
            for name, sim in self.sims.items()
        }
        keys = [{"name": "admin", "key": ADMIN_KEY}, {"name": "web", "key": SUPPORT_KEY, "backends": ["support"]}]
        self.app = create_app(
            settings_for(backends, auth={"api_keys": keys}, server=server, cache={"url": cache_url}),
            transports={n: SimulatorTransport(app=s.app) for n, s in self.sims.items()},
        )
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gateway.test")

    async def post(self, query: str, key: str = ADMIN_KEY, variables: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"authorization": f"Bearer {key}", "accept": GQL},
        )

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.app.state.gateway.aclose()


@pytest.fixture
async def app() -> AsyncIterator[App]:
    made = App()
    yield made
    await made.aclose()


async def test_scoped_key_sees_only_its_backends(app: App) -> None:
    listed = (await app.post("{ backends { name } }", SUPPORT_KEY)).json()
    assert listed["data"]["backends"] == [{"name": "support"}]
    fanned = (await app.post("{ contacts(first: 100) { edges { node { backend } } } }", SUPPORT_KEY)).json()
    assert {e["node"]["backend"] for e in fanned["data"]["contacts"]["edges"]} == {"support"}
    assert app.sims["sales"].state.calls == []
    admin = (await app.post("{ backends { name } }")).json()
    assert [b["name"] for b in admin["data"]["backends"]] == ["support", "sales"]


async def test_out_of_scope_backend_is_forbidden_before_any_call(app: App) -> None:
    cases = [
        ('{ contacts(backends: ["sales"]) { totalCount } }', None),
        ("query($id: ID!) { contact(id: $id) { id } }", {"id": f"sales:{guid('customer-1')}"}),
        ('mutation { createContact(backend: "sales", input: {displayName: "X"}) { id } }', None),
        ("mutation($id: ID!) { deleteContact(id: $id) }", {"id": f"sales:{guid('customer-1')}"}),
    ]
    for query, variables in cases:
        body = (await app.post(query, SUPPORT_KEY, variables)).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", query
        assert body["errors"][0]["extensions"]["backend"] == "sales"
    assert app.sims["sales"].state.calls == []


async def test_depth_and_alias_limits() -> None:
    limited = App(max_depth=4, max_aliases=3)
    try:
        deep = "{ contacts { edges { node { survivor { survivor { id } } } } } }"
        r = await limited.post(deep)
        assert r.status_code == 400
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "depth" in r.json()["errors"][0]["message"]
        aliases = "{ " + " ".join(f"b{i}: backends {{ name }}" for i in range(5)) + " }"
        r = await limited.post(aliases)
        assert r.status_code == 400 and "aliases" in r.json()["errors"][0]["message"]
        assert all(s.state.calls == [] for s in limited.sims.values())
    finally:
        await limited.aclose()


async def test_introspection_can_be_turned_off() -> None:
    closed = App(introspection=False)
    try:
        r = await closed.post("{ __schema { types { name } } }")
        assert r.status_code == 400
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    finally:
        await closed.aclose()
    opened = App()
    try:
        assert (await opened.post("{ __schema { queryType { name } } }")).json()["data"]["__schema"]["queryType"] == {
            "name": "Query"
        }
    finally:
        await opened.aclose()


@pytest.mark.redis
async def test_no_secret_in_responses_logs_or_cache_keys(caplog: pytest.LogCaptureFixture) -> None:
    require_redis()
    url = redis_url(14)
    store = redis.Redis.from_url(url)
    store.flushdb()
    made = App(cache_url=url)
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    try:
        made.sims["sales"].token = "rotated"  # the vendor now refuses our token: BACKEND_UNAUTHORIZED
        made.sims["support"].state.inject(Fault("status", status=500, times=1))
        queries = [
            "{ contacts(first: 50) { edges { node { id raw } } } backends { name url lastError } }",
            "{ contacts(first: 50) { edges { node { id raw } } } }",
            '{ contact(id: "support:nope") { id } }',
            'mutation { createContact(backend: "support", input: {displayName: "X", emails: ["bad"]}) { id } }',
        ]
        for query in queries:
            response = await made.post(query)
            seen.append(response.text + str(response.headers))
        seen.append((await made.post("{ backends { name } }", "wrong-key")).text)
        seen.append((await made.client.get("/readyz")).text)
        seen.append((await made.client.get("/healthz")).text)
        metrics = (await made.client.get("/metrics")).text
    finally:
        await made.aclose()
    keys = [k.decode() if isinstance(k, bytes) else k for k in store.keys("*")]
    store.flushdb()
    store.close()
    assert keys, "the test should have cached something"
    haystacks = {"responses": "\n".join(seen), "logs": caplog.text, "cache keys": "\n".join(keys), "metrics": metrics}
    assert "BACKEND_UNAUTHORIZED" in haystacks["responses"]
    for where, text in haystacks.items():
        for secret in SECRETS:
            assert secret not in text, f"a secret leaked into {where}"


def test_serve_warns_when_open_on_a_public_address(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f'backends:\n  support: {{vendor: comm100, url: "http://127.0.0.1:9/v4", token: {SUPPORT_TOKEN}}}\n'
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "serve",
            "--config",
            str(config),
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "serving on" in banner
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = process.communicate(timeout=20)
    assert "WARNING" in stderr and "no auth.api_keys" in stderr
    assert SUPPORT_TOKEN not in stderr and "Traceback" not in stderr
    assert process.returncode == 0
