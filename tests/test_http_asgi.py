"""`/graphql` as plain ASGI: what a client sees at the edges of the route the server hands straight
to the endpoint (answers from the response cache, bodies over the limit, clients that leave,
failures, CORS), and that every other way in still reaches the same endpoint through the router.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import orjson
import pytest

from gateway.app import GatewayApp, create_app
from gateway.response_cache import CachedResponse, StoredResponse
from gateway.simulators.comm100 import guid
from gateway.simulators.common import SimulatorTransport
from tests.conftest import demo_backend_settings, settings_for

GQL = "application/graphql-response+json"
ONE = "query One($id: ID!) { contact(id: $id) { id displayName } }"
CUSTOMER = f"support:{guid('customer-2')}"
ORIGIN = "https://app.example"


def app_for(**sections: Any) -> GatewayApp:
    sims, configs = demo_backend_settings(["support"])
    return create_app(
        settings_for(configs, **sections), transports={"support": SimulatorTransport(app=sims["support"].app)}
    )


@pytest.fixture
async def app() -> AsyncIterator[GatewayApp]:
    made = app_for(server={"max_query_bytes": 1000})
    yield made
    await made.state.gateway.aclose()


def client_of(app: GatewayApp, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, **options), base_url="http://gw")


def without_request_id(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k != "x-request-id"}


async def test_a_stored_answer_goes_out_with_the_headers_of_a_fresh_one(app: GatewayApp) -> None:
    body = {"query": ONE, "variables": {"id": CUSTOMER}}
    params = {"query": ONE, "variables": orjson.dumps({"id": CUSTOMER}).decode()}
    async with client_of(app) as client:
        for accept in (GQL, "application/json"):
            fresh = await client.post("/graphql", json=body, headers={"accept": accept})
            stored = await client.post("/graphql", json=body, headers={"accept": accept, "x-request-id": "req-42"})
            assert stored.content == fresh.content and stored.status_code == fresh.status_code == 200
            assert without_request_id(stored) == without_request_id(fresh)
            assert stored.headers["x-request-id"] == "req-42"
        fresh_get = await client.get("/graphql", params=params, headers={"accept": GQL})
        stored_get = await client.get("/graphql", params=params, headers={"accept": GQL})
        assert without_request_id(stored_get) == without_request_id(fresh_get)
        assert stored_get.headers["etag"] and stored_get.headers["content-type"] == f"{GQL}; charset=utf-8"


async def asgi_call(app: GatewayApp, messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]]) -> Any:
    """Call the app as a server would; returns what it sent and how many messages it read."""
    sent: list[MutableMapping[str, Any]] = []
    read = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return messages[read - 1]

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    return sent, read


async def test_a_body_over_the_limit_is_refused_without_reading_the_rest(app: GatewayApp) -> None:
    chunk = {"type": "http.request", "body": b" " * 600, "more_body": True}
    sent, read = await asgi_call(app, [chunk, chunk, chunk, chunk], [(b"accept", GQL.encode())])
    assert sent[0]["status"] == 413 and read == 2
    assert orjson.loads(sent[1]["body"])["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_client_gone_before_its_body_arrived_gets_no_answer(app: GatewayApp) -> None:
    sent, _ = await asgi_call(app, [{"type": "http.disconnect"}], [])
    assert sent == []


async def test_a_request_id_header_given_twice_is_taken_from_the_first(app: GatewayApp) -> None:
    body = orjson.dumps({"query": ONE, "variables": {"id": CUSTOMER}})
    message = {"type": "http.request", "body": body, "more_body": False}
    sent, _ = await asgi_call(app, [message], [(b"x-request-id", b"first"), (b"x-request-id", b"second")])
    assert (b"x-request-id", b"first") in sent[0]["headers"]


async def test_an_unexpected_failure_is_a_bare_500_that_says_nothing_more(
    app: GatewayApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("internal detail: token=sk_live_0123")

    monkeypatch.setattr(app.state.gateway.responses, "look_up", broken)
    async with client_of(app, raise_app_exceptions=False) as client:
        r = await client.post("/graphql", json={"query": ONE, "variables": {"id": CUSTOMER}})
    assert r.status_code == 500
    assert r.text == "Internal Server Error" and r.headers["content-type"].startswith("text/plain")


async def test_other_methods_and_a_root_path_take_the_router_to_the_same_endpoint(app: GatewayApp) -> None:
    async with client_of(app) as client:
        assert (await client.put("/graphql", json={"query": ONE})).status_code == 405
        assert (await client.get("/graphql/", follow_redirects=False)).status_code == 307
    async with client_of(app, root_path="/api") as client:
        r = await client.post("/api/graphql", json={"query": ONE, "variables": {"id": CUSTOMER}})
    assert r.status_code == 200 and r.json()["data"]["contact"]["id"] == CUSTOMER


async def test_graphql_answers_carry_cors_headers_for_an_allowed_origin() -> None:
    app = app_for(server={"cors": {"allow_origins": [ORIGIN]}})
    body = {"query": ONE, "variables": {"id": CUSTOMER}}
    async with client_of(app) as client:
        answers = [await client.post("/graphql", json=body, headers={"origin": ORIGIN}) for _ in range(2)]
        foreign = await client.post("/graphql", json=body, headers={"origin": "https://evil.example"})
    await app.state.gateway.aclose()
    for answer in answers:  # the first is run, the second comes from the response cache
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in answer.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in foreign.headers


def test_a_stored_answer_reads_back_from_its_wire_form_and_a_foreign_value_is_a_miss() -> None:
    stored = StoredResponse(CachedResponse(b'{"data":{}}', '"abc"'), [3, 1])
    assert StoredResponse.from_stored(orjson.loads(orjson.dumps(stored.to_wire()))) == stored
    assert StoredResponse.from_stored(stored) is stored
    for foreign in (None, "text", {"b": "x"}, {"b": 1, "e": "t", "g": []}, {"b": "x", "e": "t", "g": "1"}):
        assert StoredResponse.from_stored(foreign) is None
