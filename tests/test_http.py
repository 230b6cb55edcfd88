"""GraphQL over HTTP: media types, status codes, GET/POST rules, auth, GraphiQL and its files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.simulators.common import SimulatorTransport
from tests.conftest import demo_backend_settings, settings_for

GQL = "application/graphql-response+json"
QUERY = "{ contacts(first: 2) { totalCount edges { node { id } } } }"


async def client_for(**sections: Any) -> httpx.AsyncClient:
    sims, configs = demo_backend_settings(["support"])
    app = create_app(
        settings_for(configs, **sections),
        transports={n: httpx.ASGITransport(app=s.app) for n, s in sims.items()},
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for() as c:
        yield c


async def test_post_answers_graphql_response_json_when_accepted(client: httpx.AsyncClient) -> None:
    r = await client.post("/graphql", json={"query": QUERY}, headers={"accept": GQL})
    assert r.status_code == 200
    assert r.headers["content-type"] == f"{GQL}; charset=utf-8"
    assert len(r.json()["data"]["contacts"]["edges"]) == 2
    assert r.headers["x-request-id"]


async def test_without_accept_the_answer_is_application_json(client: httpx.AsyncClient) -> None:
    r = await client.post("/graphql", json={"query": QUERY}, headers={"accept": ""})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"


async def test_star_accept_is_answered_as_application_json(client: httpx.AsyncClient) -> None:
    for accept in ("*/*", "application/*", "*/*;q=0.8"):
        r = await client.post("/graphql", json={"query": "{ contacts("}, headers={"accept": accept})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json", accept
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    r = await client.post("/graphql", json={"query": QUERY}, headers={"accept": f"{GQL}, */*;q=0.5"})
    assert r.headers["content-type"].startswith(GQL)
    r = await client.post("/graphql", json={"query": QUERY}, headers={"accept": f"{GQL};q=0.5, application/json"})
    assert r.headers["content-type"] == "application/json"


async def test_unacceptable_accept_is_406(client: httpx.AsyncClient) -> None:
    r = await client.post("/graphql", json={"query": QUERY}, headers={"accept": "text/csv"})
    assert r.status_code == 406
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_parse_and_validation_errors_are_400_with_graphql_response_json(client: httpx.AsyncClient) -> None:
    for query, code in (("{ contacts(", "GRAPHQL_PARSE_FAILED"), ("{ nope }", "GRAPHQL_VALIDATION_FAILED")):
        r = await client.post("/graphql", json={"query": query}, headers={"accept": GQL})
        assert r.status_code == 400
        body = r.json()
        assert "data" not in body and body["errors"][0]["extensions"]["code"] == code


async def test_parse_errors_are_200_with_application_json(client: httpx.AsyncClient) -> None:
    r = await client.post("/graphql", json={"query": "{ contacts("}, headers={"accept": "application/json"})
    assert r.status_code == 200
    assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_field_errors_keep_200_and_partial_data(client: httpx.AsyncClient) -> None:
    r = await client.post("/graphql", json={"query": '{ contact(id: "nowhere:1") { id } }'}, headers={"accept": GQL})
    assert r.status_code == 200
    assert r.json()["data"] == {"contact": None}
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_malformed_requests_are_400(client: httpx.AsyncClient) -> None:
    cases: list[dict[str, Any]] = [
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"json": {"variables": {}}},
        {"json": {"query": QUERY, "variables": [1, 2]}},
        {"json": {"query": QUERY, "operationName": 3}},
        {"json": 42},
    ]
    for case in cases:
        headers = {"accept": GQL, **case.pop("headers", {})}
        r = await client.post("/graphql", headers=headers, **case)
        assert r.status_code == 400, case
        assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_wrong_content_type_is_415(client: httpx.AsyncClient) -> None:
    r = await client.post("/graphql", content=QUERY, headers={"content-type": "text/plain", "accept": GQL})
    assert r.status_code == 415


async def test_get_runs_queries_with_variables(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/graphql",
        params={"query": "query($n: Int!) { contacts(first: $n) { edges { node { id } } } }", "variables": '{"n": 1}'},
        headers={"accept": GQL},
    )
    assert r.status_code == 200 and len(r.json()["data"]["contacts"]["edges"]) == 1


async def test_mutation_over_get_is_405(client: httpx.AsyncClient) -> None:
    r = await client.get("/graphql", params={"query": "mutation { __typename }"}, headers={"accept": GQL})
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"


async def test_unknown_operation_name_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/graphql", json={"query": "query A { backends { name } }", "operationName": "B"}, headers={"accept": GQL}
    )
    assert r.status_code == 400


async def test_oversized_request_is_413(client: httpx.AsyncClient) -> None:
    r = await client.post("/graphql", json={"query": "{ backends { name } }" + " " * 200_000}, headers={"accept": GQL})
    assert r.status_code == 413


async def test_browser_gets_graphiql_served_locally(client: httpx.AsyncClient) -> None:
    r = await client.get("/graphql", headers={"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "http://" not in page and "https://" not in page  # nothing from a CDN
    for name in ("graphiql.min.js", "react.production.min.js", "graphiql-plugin-explorer.umd.js", "graphiql.min.css"):
        assert f"/graphiql/static/{name}" in page
        asset = await client.get(f"/graphiql/static/{name}")
        assert asset.status_code == 200 and len(asset.content) > 1000
        again = await client.get(f"/graphiql/static/{name}", headers={"if-none-match": asset.headers["etag"]})
        assert again.status_code == 304
    assert (await client.get("/graphiql/static/../../etc/passwd")).status_code == 404


async def test_graphiql_can_be_turned_off() -> None:
    async with await client_for(server={"graphiql": False}) as c:
        r = await c.get("/graphql", headers={"accept": "text/html"})
        assert not r.headers["content-type"].startswith("text/html")
        assert (await c.get("/graphiql/static/graphiql.min.js")).status_code == 404


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["backends"]["support"]["healthy"] is True


API_KEYS = {"api_keys": [{"name": "web", "key": "web-key-0123456789"}]}


async def test_api_key_required_when_configured() -> None:
    async with await client_for(auth=API_KEYS) as c:
        missing = await c.post("/graphql", json={"query": QUERY}, headers={"accept": GQL})
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        wrong = await c.post("/graphql", json={"query": QUERY}, headers={"authorization": "Bearer nope-nope-nope"})
        assert wrong.status_code == 401
        ok = await c.post("/graphql", json={"query": QUERY}, headers={"authorization": "Bearer web-key-0123456789"})
        assert ok.status_code == 200 and "errors" not in ok.json()


async def test_batch_returns_one_result_per_operation_in_order(client: httpx.AsyncClient) -> None:
    batch = [
        {"query": "{ backends { name } }"},
        {"query": "query($id: ID!) { contact(id: $id) { id } }", "variables": {"id": "nowhere:1"}},
        "not an operation",
        {"query": "{ contacts(first: 1) { edges { node { backend } } } }"},
    ]
    r = await client.post("/graphql", json=batch, headers={"accept": GQL})
    assert r.status_code == 200
    first, second, third, fourth = r.json()
    assert first == {"data": {"backends": [{"name": "support"}]}}
    assert second["data"] == {"contact": None} and second["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "data" not in third and third["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert fourth == {"data": {"contacts": {"edges": [{"node": {"backend": "support"}}]}}}


async def test_batch_size_is_bounded() -> None:
    async with await client_for(server={"max_batch_size": 2}) as c:
        too_many = await c.post("/graphql", json=[{"query": "{ backends { name } }"}] * 3, headers={"accept": GQL})
        # One answer per operation, each with the reason, so a batching client can show it.
        assert too_many.status_code == 200
        answers = too_many.json()
        assert isinstance(answers, list) and len(answers) == 3
        for answer in answers:
            assert "data" not in answer
            assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            assert "max_batch_size" in answer["errors"][0]["message"]
        empty = await c.post("/graphql", json=[], headers={"accept": GQL})
        assert empty.status_code == 400


async def test_cors_defaults_let_a_browser_send_the_documented_headers() -> None:
    sims, configs = demo_backend_settings(["support"])
    app = create_app(
        settings_for(configs, server={"cors": {"allow_origins": ["https://app.example"]}}),
        transports={"support": SimulatorTransport(app=sims["support"].app)},
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        preflight = await client.options(
            "/graphql",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type, accept, x-request-id, if-none-match",
            },
        )
        refused = await client.options(
            "/graphql",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
    await app.state.gateway.aclose()
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers


async def test_graphiql_table_lays_out_an_answer_and_refuses_what_it_cannot(client: httpx.AsyncClient) -> None:
    query = "query Q { contacts(first: 2) { edges { node { id emails address { city } } } } }"
    data = {"contacts": {"edges": [{"node": {"id": "support:1", "emails": ["a@x", "b@x"], "address": None}}]}}
    r = await client.post("/graphiql/table", json={"query": query, "operationName": "Q", "data": data})
    assert r.status_code == 200
    assert r.json() == {
        "columns": ["id", "emails", "address.city"],
        "rows": [["support:1", "a@x; b@x", ""]],
        "csv": "id,emails,address.city\nsupport:1,a@x; b@x,\n",
    }
    bad = await client.post("/graphiql/table", json={"query": "{ nope }", "data": None})
    assert bad.status_code == 400 and "nope" in bad.json()["error"]
    async with await client_for(server={"graphiql": False}) as off:
        assert (await off.post("/graphiql/table", json={"query": query, "data": data})).status_code == 404


def test_multipart_is_accepted_unless_refused() -> None:
    from gateway.graphql_http.multipart import accepts_multipart

    assert accepts_multipart("multipart/mixed;deferSpec=20220824,application/json")
    assert accepts_multipart("application/json, multipart/mixed; q=0.5")
    assert not accepts_multipart("multipart/mixed; q=0.0, application/json")
    assert not accepts_multipart("application/json") and not accepts_multipart(None)
