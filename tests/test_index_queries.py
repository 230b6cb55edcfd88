"""Queries answered by the contact index, on SQLite and on PostgreSQL: `people`, `person`,
`node`, `Contact.person`, unpushable filters and exact counts, with no list scan at the vendors,
the same answers the live path gives, writes seen at once, and the live fallback (said in
`extensions.index`) until a backend's first pass completes.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.model import ContactFilter
from gateway.simulators import people as data
from gateway.simulators.common import Fault
from gateway.simulators.registry import DEMO_BACKENDS
from tests.conftest import Harness, HarnessFactory, IndexDatabase

UNPACED = {"index_calls_per_minute": 60_000}
PEOPLE = (
    "query($first: Int!, $after: String, $filter: ContactFilter) {"
    " people(first: $first, after: $after, filter: $filter) {"
    " totalCount edges { node { id displayName emails phones contacts { id } } }"
    " pageInfo { hasNextPage endCursor } } }"
)
CONTACTS = (
    "query($first: Int!, $after: String, $filter: ContactFilter) {"
    " contacts(first: $first, after: $after, filter: $filter) {"
    " totalCount edges { node { id company } } pageInfo { hasNextPage endCursor } } }"
)
CREATE = 'mutation($input: ContactInput!) { createContact(backend: "support", input: $input) { id } }'
UPDATE = "mutation($id: ID!, $input: ContactPatch!) { updateContact(id: $id, input: $input) { id } }"
DELETE = "mutation($id: ID!) { deleteContact(id: $id) }"
INDEX_STATE = "{ backends { name index { state syncedAt records lastError } } }"


def holders(customer: int) -> list[str]:
    """The demo backends whose sample data holds `customer` (as each simulator declares)."""
    return [d.name for d in DEMO_BACKENDS if customer in d.customers]


def indexed_harness(make_harness: HarnessFactory, index_db: IndexDatabase) -> Harness:
    return make_harness(overrides={b.name: dict(UNPACED) for b in DEMO_BACKENDS}, index=index_db.section())


async def sync(h: Harness, only: list[str] | None = None) -> None:
    assert h.gateway.sync is not None
    await h.gateway.open_index()
    outcomes = await h.gateway.sync.sync_all(only, force=True)
    assert all(o.synced for o in outcomes), outcomes


async def walk(h: Harness, query: str, field: str, first: int, flt: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every page of `field`: the nodes in order, the first page's totalCount, every extension."""
    nodes: list[Any] = []
    after, total, extensions = None, None, []
    for _ in range(500):
        result = await h.run(query, {"first": first, "after": after, "filter": flt})
        assert "errors" not in result, result["errors"]
        connection = result["data"][field]
        total = connection["totalCount"] if total is None else total
        extensions.append(result.get("extensions"))
        nodes += [e["node"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return {"nodes": nodes, "total": total, "extensions": extensions}
        after = connection["pageInfo"]["endCursor"]
    raise AssertionError("the walk never ended")


async def test_people_from_the_index_are_the_live_people_with_no_vendor_call(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    h = indexed_harness(make_harness, index_db)
    await h.gateway.open_index()
    live = await walk(h, PEOPLE, "people", 100)
    assert live["extensions"][0]["index"]["notIndexed"] == [b.name for b in DEMO_BACKENDS]
    await sync(h)
    h.reset_calls()
    for first in (7, 100):
        indexed = await walk(h, PEOPLE, "people", first)
        assert indexed["nodes"] == live["nodes"]  # same people, ids, contacts and order
        assert indexed["total"] == live["total"] == len(live["nodes"])
        assert indexed["extensions"] == [None] * len(indexed["extensions"])
    assert sum(h.calls(name) for name in h.sims) == 0


async def test_person_node_and_contact_person_come_from_the_index(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    h = indexed_harness(make_harness, index_db)
    await sync(h)
    everyone = (await walk(h, PEOPLE, "people", 100))["nodes"]
    shared = next(p for p in everyone if data.CUSTOMERS[36].email in [e.lower() for e in p["emails"]])
    assert len(shared["contacts"]) == len(holders(36)) > 1
    h.reset_calls()
    by_id = await h.run("query($id: ID!) { person(id: $id) { id contacts { id } } }", {"id": shared["id"]})
    node = await h.run("query($id: ID!) { node(id: $id) { ... on Person { id } } }", {"id": shared["id"]})
    assert by_id["data"]["person"] == {"id": shared["id"], "contacts": shared["contacts"]}
    assert node["data"]["node"] == {"id": shared["id"]}
    assert sum(h.calls(name) for name in h.sims) == 0
    last = shared["contacts"][-1]["id"]
    linked = await h.run("query($id: ID!) { contact(id: $id) { person { id } } }", {"id": last})
    assert linked["data"]["contact"]["person"]["id"] == shared["id"]  # only the contact itself was read live


async def test_a_filter_the_vendors_cannot_apply_is_answered_by_the_index_exactly(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    h = indexed_harness(make_harness, index_db)
    flt = {"company": "Acme Corp"}
    live = await walk(h, CONTACTS, "contacts", 3, flt)
    await sync(h)
    h.reset_calls()
    indexed = await walk(h, CONTACTS, "contacts", 3, flt)
    assert indexed["nodes"] == live["nodes"] and indexed["total"] == len(live["nodes"])
    # No vendor filters by company itself: none was walked, the index answered.
    assert h.calls("support") == h.calls("agents") == h.calls("voice") == h.calls("routing") == 0
    unfiltered = await h.run(CONTACTS, {"first": 10})
    listed = [await b.scan(ContactFilter(), None, 100_000) for b in h.gateway.backends.values()]
    assert unfiltered["data"]["contacts"]["totalCount"] == sum(len(scan.contacts) for scan in listed)


async def test_an_unfiltered_list_of_a_vendor_without_paging_comes_from_the_index(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    """A vendor answering its whole list for any page is not read for a page once indexed; a
    paging vendor still is (its pages are cheap and always fresh). Uncached, so calls show."""
    overrides = {b.name: dict(UNPACED) for b in DEMO_BACKENDS}
    h = make_harness(overrides=overrides, index=index_db.section(), cache={"ttl_s": 0, "responses": False})
    live = await walk(h, CONTACTS, "contacts", 4)
    await sync(h)
    h.reset_calls()
    indexed = await walk(h, CONTACTS, "contacts", 4)
    assert indexed["nodes"] == live["nodes"]
    assert indexed["total"] == live["total"] == len(live["nodes"])
    backends = h.gateway.backends.values()
    whole_lists = [b.name for b in backends if not b.syncs_in_pages]
    paged = [b.name for b in backends if b.syncs_in_pages]
    assert whole_lists and paged
    assert [h.calls(name) for name in whole_lists] == [0] * len(whole_lists)
    assert all(h.calls(name) > 0 for name in paged)


async def test_a_write_through_the_gateway_shows_in_people_and_filters_at_once(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    h = indexed_harness(make_harness, index_db)
    await sync(h)
    someone = data.CUSTOMERS[55]
    created = await h.run(
        CREATE, {"input": {"displayName": someone.name, "emails": [someone.email], "company": "Brand New Co"}}
    )
    new_id = created["data"]["createContact"]["id"]
    by_company = await h.run(CONTACTS, {"first": 5, "filter": {"company": "Brand New Co"}})
    assert [e["node"]["id"] for e in by_company["data"]["contacts"]["edges"]] == [new_id]
    person = await h.run(PEOPLE, {"first": 5, "filter": {"email": someone.email}})
    (found,) = [e["node"] for e in person["data"]["people"]["edges"]]
    assert new_id in [c["id"] for c in found["contacts"]]
    assert len(found["contacts"]) == 1 + len(holders(55))  # joined at once

    await h.run(UPDATE, {"id": new_id, "input": {"company": "Renamed Co"}})
    assert (await h.run(CONTACTS, {"first": 5, "filter": {"company": "Brand New Co"}}))["data"]["contacts"][
        "totalCount"
    ] == 0
    assert (await h.run(CONTACTS, {"first": 5, "filter": {"company": "Renamed Co"}}))["data"]["contacts"][
        "totalCount"
    ] == 1

    await h.run(DELETE, {"id": new_id})
    person = await h.run(PEOPLE, {"first": 5, "filter": {"email": someone.email}})
    (found,) = [e["node"] for e in person["data"]["people"]["edges"]]
    assert new_id not in [c["id"] for c in found["contacts"]]


async def test_until_a_backends_first_pass_it_is_answered_live_and_the_answer_says_so(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    h = indexed_harness(make_harness, index_db)
    await h.gateway.open_index()
    states = await h.run(INDEX_STATE)
    assert {b["index"]["state"] for b in states["data"]["backends"]} == {"NOT_SYNCED"}
    await sync(h, ["support"])
    result = await h.run(PEOPLE, {"first": 5})
    assert result["extensions"]["index"]["notIndexed"] == [d.name for d in DEMO_BACKENDS if d.name != "support"]
    assert result["data"]["people"]["totalCount"] > 0  # computed live meanwhile
    by_company = await h.run(CONTACTS, {"first": 5, "filter": {"company": "Acme Corp"}})
    # Comm100 answers from the index; the others that apply no company filter themselves are
    # walked live meanwhile (and said); those whose records have no company are not asked.
    acme = ContactFilter(company="Acme Corp")
    walked = [n for n, b in h.gateway.backends.items() if b.could_match(acme) and not b.narrows(acme)]
    assert walked[0] == "support" and by_company["extensions"]["index"]["notIndexed"] == walked[1:]
    states = await h.run(INDEX_STATE)
    support = next(b for b in states["data"]["backends"] if b["name"] == "support")
    assert support["index"]["state"] == "SYNCED" and support["index"]["records"] > 0
    assert support["index"]["syncedAt"] is not None


async def test_a_failed_pass_is_reported_in_backends_and_the_previous_index_answers(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    h = indexed_harness(make_harness, index_db)
    await sync(h)
    before = await walk(h, PEOPLE, "people", 100)
    h.sims["voice"].state.inject(Fault(kind="status", status=500))
    assert h.gateway.sync is not None
    await h.gateway.sync.sync_all(["voice"], force=True)
    states = await h.run(INDEX_STATE)
    voice = next(b for b in states["data"]["backends"] if b["name"] == "voice")
    assert voice["index"]["state"] == "FAILED" and "BACKEND_UNAVAILABLE" in voice["index"]["lastError"]
    after = await walk(h, PEOPLE, "people", 100)
    assert after["nodes"] == before["nodes"] and after["extensions"] == [None]


async def test_person_ids_survive_a_restart(make_harness: HarnessFactory, index_db: IndexDatabase) -> None:
    first = indexed_harness(make_harness, index_db)
    await sync(first)
    before = await walk(first, PEOPLE, "people", 100)
    await first.gateway.aclose()
    restarted = indexed_harness(make_harness, index_db)
    await restarted.gateway.open_index()  # no pass: the database already has everything
    after = await walk(restarted, PEOPLE, "people", 100)
    assert after["nodes"] == before["nodes"] and after["extensions"] == [None]


async def test_a_scoped_key_sees_only_its_backends_contacts_in_people(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    h = indexed_harness(make_harness, index_db)
    await sync(h)
    h.scope = frozenset({"voice", "routing"})
    scoped = (await walk(h, PEOPLE, "people", 100))["nodes"]
    ids = [c["id"] for p in scoped for c in p["contacts"]]
    assert ids and {i.split(":", 1)[0] for i in ids} == {"voice", "routing"}
    assert all(p["id"] == "person~" + p["contacts"][0]["id"] for p in scoped)  # named by a visible contact


@pytest.mark.parametrize("scope", [("agents",), ("support", "voice"), ("voice", "routing")])
async def test_a_scoped_key_pages_through_the_people_of_its_backends_in_order(
    make_harness: HarnessFactory, index_db: IndexDatabase, scope: tuple[str, ...]
) -> None:
    """A key that sees some backends gets every person with a contact there, shown by those
    contacts only, in the order of their first visible contact, with an exact total."""
    h = indexed_harness(make_harness, index_db)
    await sync(h)
    assert h.gateway.index is not None
    everyone = (await walk(h, PEOPLE, "people", 100))["nodes"]
    order: dict[str, tuple[int, int]] = {}  # contact id -> (configured rank, vendor position)
    for rank, backend in enumerate(h.gateway.backends.values()):
        rows = await h.gateway.index.contacts_page(backend.cache_namespace, ContactFilter(), "US", True, None, 100_000)
        order.update({contact.id: (rank, position) for contact, position in rows})
    expected = [
        shown
        for person in everyone
        if (shown := [c["id"] for c in person["contacts"] if c["id"].split(":", 1)[0] in scope])
    ]
    expected.sort(key=lambda ids: order[ids[0]])
    h.scope = frozenset(scope)
    for first in (3, 100):
        scoped = await walk(h, PEOPLE, "people", first)
        assert [[c["id"] for c in p["contacts"]] for p in scoped["nodes"]] == expected
        assert [p["id"] for p in scoped["nodes"]] == ["person~" + ids[0] for ids in expected]
        assert scoped["total"] == len(expected)
        assert scoped["extensions"] == [None] * len(scoped["extensions"])


async def test_an_unreachable_index_database_leaves_every_query_live_and_says_so(
    make_harness: HarnessFactory, tmp_path: Any
) -> None:
    import io

    from gateway.index_cli import run_sync

    down = {"url": "postgresql+asyncpg://gateway@127.0.0.1:9/contacts"}
    h = make_harness(overrides={b.name: dict(UNPACED) for b in DEMO_BACKENDS}, index=down)
    assert not await h.gateway.open_index_or_log()
    result = await h.run(PEOPLE, {"first": 3})
    assert result["data"]["people"]["totalCount"] > 0
    assert result["extensions"]["index"]["notIndexed"] == [b.name for b in DEMO_BACKENDS]
    err = io.StringIO()
    assert await run_sync(h.gateway.settings, None, out=io.StringIO(), err=err) == 1
    assert err.getvalue().startswith("contact-gateway: the index database cannot be opened: ")
    assert "Traceback" not in err.getvalue()


def test_each_vendor_claims_to_apply_only_the_filters_its_pushdown_sends() -> None:
    """`pushed_fields` decides what the index answers instead of a live walk: a field claimed
    there must really go to the vendor, or filtered lists would walk whole vendors again."""
    import sys
    from collections.abc import Callable

    from gateway.backends.registry import VENDORS
    from gateway.model import ContactKind

    for vendor, backend in VENDORS.items():
        pushdown: Callable[[ContactFilter], dict[str, str]] = getattr(
            sys.modules[backend.__module__], "pushdown", lambda flt: {}
        )
        for field in backend.pushed_fields:
            kind = next((k for k in backend.kinds if k is not ContactKind.PERSON), ContactKind.PERSON)
            samples: dict[str, Any] = {"kinds": frozenset({kind}), "disabled": True}
            flt = ContactFilter(**{field: samples.get(field, "x@y.example")})
            assert pushdown(flt), f"{vendor} claims {field} but its pushdown sends nothing for it"


async def test_every_contact_of_a_page_names_the_person_people_lists_it_under(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    h = indexed_harness(make_harness, index_db)
    await sync(h)
    person_by_contact = {
        c["id"]: p["id"] for p in (await walk(h, PEOPLE, "people", 100))["nodes"] for c in p["contacts"]
    }
    page = await h.run("{ contacts(first: 60) { edges { node { id person { id } } } } }")
    linked = {e["node"]["id"]: e["node"]["person"]["id"] for e in page["data"]["contacts"]["edges"]}
    assert len(linked) == 60
    assert linked == {contact: person_by_contact[contact] for contact in linked}
