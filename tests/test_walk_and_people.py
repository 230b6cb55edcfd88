"""Cross-backend pagination and `people`, over every demo backend at once.

The oracles come from the simulators' own data: each backend's full list (read straight from
the adapter) for the page walk, and which customers each simulator declares it holds (its
registry entry's `customers`) for the joins. The tests follow whatever vendors are in the demo, so
they grow with it.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from gateway.model import ContactFilter, normalize_email
from gateway.simulators import people as data
from gateway.simulators.comm100 import Comm100Simulator, demo_backend_settings, sample_records
from gateway.simulators.common import Fault
from gateway.simulators.registry import DEMO_BACKENDS
from tests.conftest import Harness, HarnessFactory

WALK = (
    "query($first: Int!, $after: String, $merged: Boolean! = false) {"
    " contacts(first: $first, after: $after, includeMerged: $merged) {"
    " totalCount edges { cursor node { id backend } }"
    " pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"
)
PEOPLE = (
    "query($after: String) { people(first: 100, after: $after) {"
    " totalCount edges { node { id displayName emails phones contacts { id backend } } }"
    " pageInfo { hasNextPage endCursor } } }"
)


async def listed_ids(h: Harness, include_merged: bool = False) -> list[str]:
    """Every contact an unfiltered list shows, in configured order, read from the adapters."""
    ids: list[str] = []
    for backend in h.gateway.backends.values():
        scan = await backend.scan(ContactFilter(), None, 100_000, include_merged)
        ids += [c.id for c in scan.contacts]
    return ids


async def walk(h: Harness, first: int, merged: bool = False) -> tuple[list[str], list[dict[str, Any]]]:
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    after = None
    for _ in range(1000):
        result = await h.run(WALK, {"first": first, "after": after, "merged": merged})
        assert "errors" not in result, result.get("errors")
        connection = result["data"]["contacts"]
        pages.append(connection)
        seen += [e["node"]["id"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return seen, pages
        after = connection["pageInfo"]["endCursor"]
    raise AssertionError("the walk never ended")


@pytest.mark.parametrize("merged", [False, True], ids=["live", "with-merged"])
@pytest.mark.parametrize("first", [1, 7, 50])
async def test_walking_every_page_returns_every_contact_exactly_once(
    make_harness: HarnessFactory, first: int, merged: bool
) -> None:
    h = make_harness()
    expected = await listed_ids(h, merged)
    seen, pages = await walk(h, first, merged)
    assert seen == expected  # every contact, once, in configured backend order then vendor order
    assert len({c.split(":", 1)[0] for c in seen}) == len(DEMO_BACKENDS)
    # A count is the exact number or null (unknown: Comm100's own total includes merged-away
    # records, so without includeMerged only a read to the end can count); never a guess.
    assert {p["totalCount"] for p in pages} <= {None, len(expected)}
    assert pages[-1]["totalCount"] in (None, len(expected))
    if merged:
        assert all(p["totalCount"] == len(expected) for p in pages)
    assert pages[0]["pageInfo"]["hasPreviousPage"] is False
    assert all(p["pageInfo"]["hasPreviousPage"] for p in pages[1:])
    for page in pages:
        if page["edges"]:
            assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_a_backend_failing_mid_walk_is_reported_and_the_walk_goes_on(make_harness: HarnessFactory) -> None:
    h = make_harness(cache={"ttl_s": 0}, overrides={d.name: {"retries": 0} for d in DEMO_BACKENDS})
    first_name = DEMO_BACKENDS[0].name
    failing = DEMO_BACKENDS[-1].name
    expected_first = [i for i in await listed_ids(h) if i.startswith(first_name + ":")]
    page = await h.run(WALK, {"first": 5, "after": None})
    seen = [e["node"]["id"] for e in page["data"]["contacts"]["edges"]]
    h.sims[failing].state.inject(Fault("status", status=503))
    after = page["data"]["contacts"]["pageInfo"]["endCursor"]
    failures = 0
    for _ in range(200):
        result = await h.run(WALK, {"first": 5, "after": after})
        failures += sum(1 for e in result.get("errors", []) if e["extensions"].get("backend") == failing)
        connection = result["data"]["contacts"]
        assert connection["totalCount"] is None  # a failing backend's count is unknown, not zero
        seen += [e["node"]["id"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert failures >= 1
    assert [i for i in seen if i.startswith(first_name + ":")] == expected_first
    assert len(seen) == len(set(seen))


async def test_a_thousand_contact_page_is_served_whole_and_in_order(make_custom: Any) -> None:
    records = []
    template = [r for r in sample_records() if not r.get("mergeToContactId")]
    for n in range(1200):
        record = copy.deepcopy(template[n % len(template)])
        record["id"] = str(uuid.UUID(int=n + 1))
        record["name"] = f"Bulk Contact {n:04d}"
        record["contactIdentities"] = []
        records.append(record)
    sim = Comm100Simulator(records=records)
    h = make_custom({"bulk": (sim, demo_backend_settings("http://bulk.test"))}, server={"max_page_size": 1000})
    result = await h.run(
        "{ contacts(first: 1000, includeMerged: true) {"
        " totalCount edges { node { id displayName } } pageInfo { hasNextPage } } }"
    )
    assert "errors" not in result
    connection = result["data"]["contacts"]
    assert len(connection["edges"]) == 1000
    assert [e["node"]["displayName"] for e in connection["edges"]] == [f"Bulk Contact {n:04d}" for n in range(1000)]
    assert connection["totalCount"] == 1200 and connection["pageInfo"]["hasNextPage"] is True


async def all_people(h: Harness) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    for _ in range(100):
        result = await h.run(PEOPLE, {"after": after})
        assert "errors" not in result, result.get("errors")
        connection = result["data"]["people"]
        found += [e["node"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return found
        after = connection["pageInfo"]["endCursor"]
    raise AssertionError("the people walk never ended")


def person_with_email(people: list[dict[str, Any]], email: str) -> dict[str, Any]:
    wanted = normalize_email(email)
    matches = [p for p in people if wanted in {normalize_email(e) for e in p["emails"]}]
    assert len(matches) == 1, f"{email} is in {len(matches)} people"
    return matches[0]


def expected_backends(index: int) -> set[str]:
    return {d.name for d in DEMO_BACKENDS if index in d.customers}


async def test_people_join_one_person_across_every_vendor_holding_them(harness: Harness) -> None:
    people = await all_people(harness)
    sizes = set()
    for index, customer in enumerate(data.CUSTOMERS):
        wanted = expected_backends(index)
        if not wanted:
            continue
        person = person_with_email(people, customer.email)
        assert {c["backend"] for c in person["contacts"]} == wanted, customer.name
        assert data.CUSTOMERS[index].phone in person["phones"] or not person["phones"]
        sizes.add(len(wanted))
    assert max(sizes) == len(DEMO_BACKENDS)  # someone is in every vendor of the demo
    assert len({p["id"] for p in people}) == len(people)


async def test_namesakes_with_other_emails_and_phones_stay_apart(harness: Harness) -> None:
    people = await all_people(harness)
    for near_miss, original in ((data.NEAR_MISSES[0], data.CUSTOMERS[0]), (data.NEAR_MISSES[1], data.CUSTOMERS[37])):
        if not any(normalize_email(near_miss.email) in {normalize_email(e) for e in p["emails"]} for p in people):
            continue
        namesake = person_with_email(people, near_miss.email)
        assert namesake["id"] != person_with_email(people, original.email)["id"]
        assert normalize_email(original.email) not in {normalize_email(e) for e in namesake["emails"]}


async def test_a_person_is_found_again_by_id_and_linked_from_its_contacts(harness: Harness) -> None:
    people = await all_people(harness)
    shared = person_with_email(people, data.CUSTOMERS[36].email)
    again = await harness.run(
        "query($id: ID!) { person(id: $id) { id contacts { id } } node(id: $id) { id ... on Person { emails } } }",
        {"id": shared["id"]},
    )
    assert again["data"]["person"]["id"] == shared["id"]
    assert {c["id"] for c in again["data"]["person"]["contacts"]} == {c["id"] for c in shared["contacts"]}
    assert again["data"]["node"]["id"] == shared["id"]
    contact_id = shared["contacts"][-1]["id"]
    linked = await harness.run("query($id: ID!) { contact(id: $id) { person { id } } }", {"id": contact_id})
    assert linked["data"]["contact"]["person"]["id"] == shared["id"]
    assert [p["id"] for p in await all_people(harness)] == [p["id"] for p in people]  # stable across requests


async def test_merged_husks_are_represented_by_their_survivor_in_people(harness: Harness) -> None:
    people = await all_people(harness)
    contact_ids = [c["id"] for p in people for c in p["contacts"]]
    assert len(contact_ids) == len(set(contact_ids))
    husks = [
        r["id"] for r in sample_records() if r.get("mergeToContactId") and set(r["mergeToContactId"]) != {"0", "-"}
    ]
    assert husks and not {f"support:{h}" for h in husks} & set(contact_ids)
