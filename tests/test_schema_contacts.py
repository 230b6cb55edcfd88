"""Reading contacts through the schema (`schema.execute`), with the Comm100 simulator behind it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.backends.base import HttpBackend
from gateway.backends.comm100 import merge_target
from gateway.backends.registry import VENDORS
from gateway.model import Contact
from gateway.simulators.comm100 import guid
from gateway.simulators.common import Fault
from gateway.simulators.people import CUSTOMERS
from gateway.simulators.registry import DEMO_BACKENDS
from schema import SDL_PATH, build_schema
from tests.conftest import Harness, HarnessFactory

FIRST_TEN = """
{ contacts(first: 10) {
    totalCount
    edges { cursor node { id backend vendor kind displayName emails phones identities { type value } mergedIntoId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
} }
"""


def test_printed_sdl_matches_the_checked_in_file() -> None:
    assert build_schema().as_str().strip() == SDL_PATH.read_text().strip(), (
        "schema/schema.graphql is out of date: run `contact-gateway print-schema > schema/schema.graphql`"
    )


async def test_first_ten_contacts_come_from_comm100(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["support"])
    result = await h.run(FIRST_TEN)
    assert "errors" not in result
    connection = result["data"]["contacts"]
    nodes = [e["node"] for e in connection["edges"]]
    assert len(nodes) == 10
    assert nodes[0] == {
        "id": f"support:{guid('customer-0')}",
        "backend": "support",
        "vendor": "COMM100",
        "kind": "PERSON",
        "displayName": CUSTOMERS[0].name,
        "emails": ["ava.nguyen@acme.example"],
        "phones": ["+14155550000"],  # phone and the WhatsApp identity hold one number
        "identities": [
            {"type": "Email", "value": "ava.nguyen@acme.example"},
            {"type": "Twitter", "value": "1361654692588728354"},
            {"type": "WhatsApp", "value": "+14155550000"},
            {"type": "Facebook", "value": "fb-100000"},
        ],
        "mergedIntoId": None,
    }
    records = h.sims["support"].records.values()  # type: ignore[attr-defined]
    live = [r for r in records if merge_target(r["mergeToContactId"]) is None]
    assert connection["totalCount"] == len(live)
    assert connection["pageInfo"]["hasNextPage"] is True
    assert connection["pageInfo"]["hasPreviousPage"] is False
    assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]


async def test_paging_with_after_continues_where_the_page_ended(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["support"])
    seen: list[str] = []
    after = None
    for _ in range(20):
        result = await h.run(
            "query($after: String) { contacts(first: 7, after: $after) {"
            " edges { node { id } } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )
        connection = result["data"]["contacts"]
        seen += [e["node"]["id"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    everyone = await h.run("{ contacts(first: 500) { edges { node { id } } } }")
    assert seen == [e["node"]["id"] for e in everyone["data"]["contacts"]["edges"]]
    assert len(seen) == len(set(seen))


async def test_contact_by_id_and_node(harness: Harness) -> None:
    contact_id = f"support:{guid('customer-4')}"
    result = await harness.run(
        "query($id: ID!) { contact(id: $id) { id displayName } node(id: $id) { id ... on Contact { backend } } }",
        {"id": contact_id},
    )
    assert result == {
        "data": {
            "contact": {"id": contact_id, "displayName": CUSTOMERS[4].name},
            "node": {"id": contact_id, "backend": "support"},
        }
    }


async def test_unknown_but_well_formed_id_is_null_without_error(harness: Harness) -> None:
    result = await harness.run("query($id: ID!) { contact(id: $id) { id } }", {"id": "support:" + guid("nobody")})
    assert result == {"data": {"contact": None}}


async def test_malformed_id_and_unknown_backend_are_bad_user_input(harness: Harness) -> None:
    for bad in ("no-colon", "nowhere:123", "support:not-a-guid", ":x"):
        result = await harness.run("query($id: ID!) { contact(id: $id) { id } }", {"id": bad})
        assert result["data"] == {"contact": None}
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", bad
        assert result["errors"][0]["path"] == ["contact"]
    assert harness.calls("support") == 0


async def test_raw_is_the_vendor_record(harness: Harness) -> None:
    native = guid("customer-2")
    result = await harness.run("query($id: ID!) { contact(id: $id) { raw } }", {"id": "support:" + native})
    raw = result["data"]["contact"]["raw"]
    assert raw["id"] == native and "contactIdentities" in raw and "mergeToContactId" in raw


async def test_failing_backend_is_a_coded_error_beside_the_data(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["support"])
    h.sims["support"].state.inject(Fault("status", status=500))
    result = await h.run("{ contacts(first: 5) { totalCount edges { node { id } } } }")
    assert result["data"] == {"contacts": {"totalCount": None, "edges": []}}
    [error] = result["errors"]
    assert error["extensions"] == {"code": "BACKEND_UNAVAILABLE", "backend": "support", "status": 500}
    assert error["path"] == ["contacts"]


async def test_unexpected_exception_is_masked(harness: Harness, monkeypatch: object) -> None:
    backend = harness.gateway.backends["support"]

    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals at /srv/app.py line 3")

    backend.get = explode  # type: ignore[method-assign]
    result = await harness.run(
        "query($id: ID!) { contact(id: $id) { id } }", {"id": "support:" + guid("customer-1")}, request_id="req-1"
    )
    [error] = result["errors"]
    assert error["message"] == "Internal server error"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-1"}
    assert "secret" not in str(result)


async def test_page_size_over_the_limit_is_bad_user_input(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["support"], server={"max_page_size": 20})
    result = await h.run("{ contacts(first: 21) { totalCount } }")
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert result["errors"][0]["extensions"]["fields"] == {"first": "must be between 0 and 20"}
    assert h.calls("support") == 0


async def test_tampered_or_foreign_cursor_is_bad_user_input(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["support"])
    page = await h.run("{ contacts(first: 2) { pageInfo { endCursor } } }")
    cursor = page["data"]["contacts"]["pageInfo"]["endCursor"]
    query = "query($after: String, $f: ContactFilter) { contacts(first: 2, after: $after, filter: $f) { totalCount } }"
    for after, flt in ((cursor[:-3] + "AAA", None), ("%%%", None), (cursor, {"company": "Acme Corp"})):
        result = await h.run(query, {"after": after, "f": flt})
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (after, flt)


async def test_backends_lists_configured_backends_with_capabilities(harness: Harness) -> None:
    result = await harness.run("{ backends { name vendor healthy capabilities url } }")
    support = next(b for b in result["data"]["backends"] if b["name"] == "support")
    assert support == {
        "name": "support",
        "vendor": "COMM100",
        "healthy": True,
        "capabilities": ["CREATE", "DELETE", "READ", "UPDATE"],
        "url": "http://support.test/v4",
    }


async def test_syntax_and_validation_errors_are_coded(harness: Harness) -> None:
    parse = await harness.run("{ contacts(first: ")
    assert "data" not in parse and parse["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    invalid = await harness.run("{ contacts { nope } }")
    assert "data" not in invalid and invalid["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    variables = await harness.run("query($n: Int!) { contacts(first: $n) { totalCount } }", {"n": "ten"})
    assert variables["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_disabled_filter_across_vendors_asks_only_those_that_have_the_flag(harness: Harness) -> None:
    flagged = {d.name for d in DEMO_BACKENDS if VENDORS[d.vendor].has_disabled_flag}
    assert flagged  # some vendor of the demo marks contacts disabled
    harness.reset_calls()
    result = await harness.run(
        "{ contacts(filter: {disabled: true}, first: 50) { edges { node { id backend disabled } } } }"
    )
    nodes = [e["node"] for e in result["data"]["contacts"]["edges"]]
    assert nodes and {n["backend"] for n in nodes} == flagged and all(n["disabled"] for n in nodes)
    assert {name: harness.calls(name) for name in harness.sims if name not in flagged} == {
        name: 0 for name in harness.sims if name not in flagged
    }
    active = await harness.run(
        "{ contacts(filter: {disabled: false}, first: 500) { edges { node { backend disabled } } } }"
    )
    active_nodes = [e["node"] for e in active["data"]["contacts"]["edges"]]
    assert {n["backend"] for n in active_nodes} == {d.name for d in DEMO_BACKENDS}
    assert not any(n["disabled"] for n in active_nodes)


async def listed_in(h: Harness, backend: str) -> int:
    """How many contacts `backend` lists (every one, in one page)."""
    alone = await h.run(
        "query($b: String!) { contacts(backends: [$b], first: 200) { edges { node { id } } } }", {"b": backend}
    )
    return len(alone["data"]["contacts"]["edges"])


async def test_a_later_backend_is_read_only_as_far_as_the_page_reaches(make_harness: HarnessFactory) -> None:
    """A whole-list vendor answers every record, but a page across backends shows only what it
    reaches: the records of a backend past the page are never mapped, so one the mapper cannot
    read costs nothing there; once the page reaches it, that backend's part fails as
    BACKEND_BAD_RESPONSE, beside the other backend's contacts."""
    h = make_harness(only=["agents", "voice"])
    voice = h.gateway.backends["voice"]
    assert isinstance(voice, HttpBackend)
    read: list[str] = []
    vendor_mapper = voice.mapper

    def mapper(record: Mapping[str, Any], backend: str) -> Contact:
        read.append(str(record["id"]))
        if len(read) > 2:
            raise KeyError("a record shape the mapper does not know")
        return vendor_mapper(record, backend)

    voice.mapper = mapper  # type: ignore[misc]
    in_agents = await listed_in(h, "agents")

    filled = await h.run("{ contacts(first: 3) { edges { node { id } } pageInfo { hasNextPage } } }")
    assert "errors" not in filled
    assert filled["data"]["contacts"]["pageInfo"]["hasNextPage"] is True
    assert read == []

    query = "query($n: Int!) { contacts(first: $n) { totalCount edges { node { id } } pageInfo { hasNextPage } } }"
    into_voice = await h.run(query, {"n": in_agents + 1})
    assert "errors" not in into_voice
    edges = into_voice["data"]["contacts"]["edges"]
    assert [e["node"]["id"].split(":")[0] for e in edges] == ["agents"] * in_agents + ["voice"]
    assert into_voice["data"]["contacts"]["pageInfo"]["hasNextPage"] is True
    assert len(read) == 2  # the shown record and the one proving a next page

    past_it = await h.run(query, {"n": in_agents + 5})
    [error] = past_it["errors"]
    assert error["extensions"]["code"] == "BACKEND_BAD_RESPONSE" and error["extensions"]["backend"] == "voice"
    assert error["message"] == "backend 'voice' sent an unusable answer: a record could not be read"
    page = past_it["data"]["contacts"]
    assert len(page["edges"]) == in_agents and page["totalCount"] is None


async def test_a_later_page_asks_the_backends_before_its_cursor_only_for_a_count(
    make_harness: HarnessFactory,
) -> None:
    """Past the first backend, its records are behind the cursor: it is asked again only when
    the page shows `totalCount` (its count is part of it), not for every next page."""
    h = make_harness(only=["agents", "voice"], cache={"ttl_s": 0})
    agents = h.sims["agents"].state
    query = (
        "query($n: Int!, $after: String) { contacts(first: $n, after: $after)"
        " { edges { node { id } } pageInfo { endCursor } } }"
    )
    page = {"n": await listed_in(h, "agents") + 2}
    first = await h.run(query, page)
    in_voice = first["data"]["contacts"]["pageInfo"]["endCursor"]
    assert first["data"]["contacts"]["edges"][-1]["node"]["id"].startswith("voice:")
    before = agents.count("GET")

    second = await h.run(query, {**page, "after": in_voice})
    assert "errors" not in second and second["data"]["contacts"]["edges"]
    assert agents.count("GET") == before

    counted = query.replace("pageInfo", "totalCount pageInfo")
    third = await h.run(counted, {**page, "after": in_voice})
    assert third["data"]["contacts"]["totalCount"] > len(first["data"]["contacts"]["edges"])
    assert agents.count("GET") == before + 1
