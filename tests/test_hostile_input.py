"""Hostile clients: huge and ambiguous documents, deep variables, oversized filters, forged
cursors, dot-segment ids and loose doors. Each gets a coded error, never a 500, and costs no
vendor call it does not need."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from typing import Any

import httpx
import orjson
import pytest

from gateway.app import create_app
from gateway.backends.base import HttpBackend
from gateway.config import ConfigError
from gateway.simulators.comm100 import guid
from gateway.simulators.common import Fault, SimulatorTransport
from resolvers.cursor import query_fingerprint
from tests.conftest import HarnessFactory, demo_backend_settings, settings_for

GQL = "application/graphql-response+json"


def app_client(only: list[str] | None = None, **sections: Any) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    sims, configs = demo_backend_settings(only or ["support"])
    app = create_app(
        settings_for(configs, **sections), transports={n: SimulatorTransport(app=s.app) for n, s in sims.items()}
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")
    return client, sims


async def test_a_document_past_max_tokens_is_refused_before_validation() -> None:
    # 4,500 repeated selections (~99 KB): about 1.5 s of validation each before the cap.
    selections = " ".join("contacts(first: 1) { edges { node { id } } }" for _ in range(2000))
    client, sims = app_client()
    async with client:
        r = await client.post("/graphql", json={"query": f"{{ {selections} }}"}, headers={"accept": GQL})
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "tokens" in error["message"] and "server.max_tokens" in error["message"]
    assert sims["support"].state.calls == []


async def test_several_operations_without_an_operation_name_are_refused() -> None:
    client, _ = app_client()
    query = "query A { backends { name } } query B { backends { vendor } }"
    async with client:
        r = await client.post("/graphql", json={"query": query}, headers={"accept": GQL})
        named = await client.post("/graphql", json={"query": query, "operationName": "B"}, headers={"accept": GQL})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "operationName" in r.json()["errors"][0]["message"]
    assert named.status_code == 200 and named.json() == {"data": {"backends": [{"vendor": "COMM100"}]}}


async def test_a_get_longer_than_max_query_bytes_is_413() -> None:
    client, _ = app_client(server={"max_query_bytes": 1000})
    async with client:
        r = await client.get("/graphql", params={"query": "{ backends { name } }" + " " * 2000})
    assert r.status_code == 413 and r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("depth", [300, 900])
async def test_deeply_nested_variables_never_give_a_500(depth: int) -> None:
    nested: Any = 1
    for _ in range(depth):
        nested = {"a": nested}
    client, _ = app_client()
    async with client:
        r = await client.post(
            "/graphql",
            json={"query": "query($id: ID!) { contact(id: $id) { id } }", "variables": {"id": "x:y", "deep": nested}},
        )
    assert r.status_code < 500
    assert r.headers["content-type"].startswith("application/")
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_oversized_filter_is_refused_before_any_vendor_call(make_harness: HarnessFactory) -> None:
    h = make_harness()
    result = await h.run("query($e: String) { contacts(filter: {email: $e}) { totalCount } }", {"e": "a" * 90_000})
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "filter.email" in error["extensions"]["fields"]
    assert all(h.calls(name) == 0 for name in h.sims)


async def test_a_failing_merge_hop_costs_only_its_field(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["support", "voice"])
    # Every record GET fails; the list itself answers. The hop's error stays on its own path.
    h.sims["support"].state.inject(Fault("status", status=503, path_prefix="/v4/global/contacts/"))
    result = await h.run(
        '{ contacts(includeMerged: true, filter: {company: "Hooli (old)"}) { edges { node { id survivor { id } } } }'
        " backends { name } }"
    )
    assert result["data"] is not None and result["data"]["backends"]
    survivors = {e["node"]["id"]: e["node"]["survivor"]["id"] for e in result["data"]["contacts"]["edges"]}
    # old-5a -> old-5b -> customer-5, whose GET fails: the last record reached stands.
    last = f"support:{guid('old-5b')}"
    assert survivors == {f"support:{guid('old-5a')}": last, last: last}
    codes = {e["extensions"]["code"] for e in result["errors"]}
    assert codes == {"BACKEND_UNAVAILABLE"}
    assert all(e["path"][-1] == "survivor" for e in result["errors"])


async def test_a_merge_link_that_is_no_valid_id_is_a_bad_response_on_its_field(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["support"])
    record = h.sims["support"].records[guid("old-5a")]  # type: ignore[attr-defined]
    record["mergeToContactId"] = "../../etc/passwd"
    result = await h.run(
        "query($id: ID!) { contact(id: $id, followMerges: false) { id mergedInto { id } survivor { id } } }",
        {"id": f"support:{guid('old-5a')}"},
    )
    contact = result["data"]["contact"]
    assert contact["mergedInto"] is None and contact["survivor"]["id"] == contact["id"]
    assert {e["extensions"]["code"] for e in result["errors"]} == {"BACKEND_BAD_RESPONSE"}


def test_a_cursor_fingerprint_is_the_same_in_every_process() -> None:
    code = (
        "from gateway.model import ContactFilter, ContactKind as K; from resolvers.cursor import query_fingerprint;"
        " print(query_fingerprint(ContactFilter(kinds=frozenset({K.AGENT, K.USER, K.QUEUE})), ['a', 'b'], False))"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout.strip()
        for seed in (1, 2, 3, 4)
    }
    assert len(seen) == 1


async def test_a_cursor_survives_a_restart_and_another_worker(make_harness: HarnessFactory) -> None:
    query = "query($after: String) { contacts(first: 3, after: $after, filter: {kinds: [AGENT, USER, QUEUE]}) {"
    query += " edges { node { id } } pageInfo { endCursor } } }"
    first = make_harness()
    page = await first.run(query)
    cursor = page["data"]["contacts"]["pageInfo"]["endCursor"]
    other = make_harness()  # same config, another process's worth of state
    following = await other.run(query, {"after": cursor})
    assert "errors" not in following and following["data"]["contacts"]["edges"]


async def test_a_forged_cursor_is_refused(make_harness: HarnessFactory) -> None:
    h = make_harness()
    query = "query($after: String) { contacts(first: 2, after: $after) { pageInfo { endCursor } } }"
    cursor = (await h.run(query))["data"]["contacts"]["pageInfo"]["endCursor"]
    sealed = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    body = orjson.loads(sealed["d"])
    for position in ("1:9999", "٣:1", "+1:1"):
        forged_body = orjson.dumps({**body, "p": position})
        forged = {"d": forged_body.decode(), "s": sealed["s"]}
        text = base64.urlsafe_b64encode(orjson.dumps(forged)).decode().rstrip("=")
        result = await h.run(query, {"after": text})
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_query_fingerprint_ignores_set_order() -> None:
    assert query_fingerprint(frozenset({"a", "b", "c"})) == query_fingerprint(frozenset({"c", "b", "a"}))


def test_cors_wildcard_with_credentials_is_refused() -> None:
    with pytest.raises(ConfigError) as refused:
        settings_for({}, server={"cors": {"allow_origins": ["*"], "allow_credentials": True}})
    assert any(p.startswith("server.cors") and "credentials" in p for p in refused.value.problems)


async def test_metrics_and_readyz_can_require_an_operator_key() -> None:
    client, _ = app_client(server={"metrics_api_key": "operator-key-0123456789"})
    async with client:
        for path in ("/metrics", "/readyz"):
            assert (await client.get(path)).status_code == 401
            allowed = await client.get(path, headers={"authorization": "Bearer operator-key-0123456789"})
            assert allowed.status_code in (200, 503)
        assert (await client.get("/healthz")).status_code == 200  # liveness stays open


async def test_no_field_suggestions_when_introspection_is_off() -> None:
    client, _ = app_client(server={"introspection": False})
    async with client:
        r = await client.post("/graphql", json={"query": "{ contacts { edgs { node { id } } } }"})
    message = r.json()["errors"][0]["message"]
    assert "Did you mean" not in message and "edges" not in message


@pytest.mark.parametrize("native", [".", ".."])
async def test_dot_segment_ids_are_refused_before_any_call(make_harness: HarnessFactory, native: str) -> None:
    h = make_harness(only=["routing"])
    result = await h.run("query($id: ID!) { contact(id: $id) { id } }", {"id": f"routing:{native}"})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert h.calls("routing") == 0


async def test_a_header_override_replaces_the_backends_own_header_whatever_its_case(
    make_harness: HarnessFactory,
) -> None:
    override = {"Authorization": "Bearer comm100-demo-token"}
    h = make_harness(only=["support"], overrides={"support": {"headers": override, "token": "not-the-right-one"}})
    result = await h.run("{ contacts(first: 1) { totalCount } }")
    assert "errors" not in result  # the vendor saw the operator's header, not the backend's own
    backend = h.gateway.backends["support"]
    assert isinstance(backend, HttpBackend)
    sent = [value for name, value in backend.http.headers if name.lower() == b"authorization"]
    assert sent == [b"Bearer comm100-demo-token"]


async def test_persisted_documents_are_bounded_in_memory() -> None:
    """Anyone may register documents: past the bound the least recently used ones are forgotten."""
    client, _ = app_client()
    gateway = client._transport.app.state.gateway  # type: ignore[attr-defined]
    gateway.persisted.max_bytes = 1_000_000  # the bound, scaled down so the test stays small
    filler = "#" + "x" * 60_000 + "\n"
    documents = [f"{filler}query Q{n} {{ backends {{ name }} }}" for n in range(40)]
    async with client:
        for document in documents:
            digest = hashlib.sha256(document.encode()).hexdigest()
            extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
            r = await client.post("/graphql", json={"query": document, "extensions": extensions})
            assert r.status_code == 200
        assert gateway.persisted.local_bytes <= 1_000_000
        for document, known in ((documents[0], False), (documents[-1], True)):
            extensions = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(document.encode()).hexdigest()}}
            r = await client.post("/graphql", json={"extensions": extensions})
            codes = [e["extensions"]["code"] for e in r.json().get("errors", [])]
            assert codes == ([] if known else ["PERSISTED_QUERY_NOT_FOUND"])
