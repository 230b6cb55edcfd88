"""Following Comm100 merges through the schema: chains, cycles, gaps, lists, and call counts."""

from __future__ import annotations

import pytest

from gateway.simulators.comm100 import guid
from gateway.simulators.people import CUSTOMERS
from tests.conftest import Harness, HarnessFactory


def cid(label: str) -> str:
    return f"support:{guid(label)}"


@pytest.fixture
def h(make_harness: HarnessFactory) -> Harness:
    return make_harness(only=["support"])


CONTACT = """query($id: ID!, $follow: Boolean!) {
  contact(id: $id, followMerges: $follow) { id mergedIntoId mergedInto { id } survivor { id } }
}"""


async def test_merged_contact_resolves_to_survivor_two_hops_away(h: Harness) -> None:
    result = await h.run(CONTACT, {"id": cid("old-5a"), "follow": True})
    assert result == {
        "data": {
            "contact": {
                "id": cid("customer-5"),
                "mergedIntoId": None,
                "mergedInto": None,
                "survivor": {"id": cid("customer-5")},
            }
        }
    }


async def test_follow_merges_false_returns_the_husk_itself(h: Harness) -> None:
    result = await h.run(CONTACT, {"id": cid("old-5a"), "follow": False})
    assert result == {
        "data": {
            "contact": {
                "id": cid("old-5a"),
                "mergedIntoId": cid("old-5b"),
                "mergedInto": {"id": cid("old-5b")},
                "survivor": {"id": cid("customer-5")},
            }
        }
    }


async def test_zero_guid_and_null_mean_not_merged(h: Harness) -> None:
    for label in ("customer-7", "customer-3"):  # customer-7 carries the all-zero GUID
        result = await h.run(CONTACT, {"id": cid(label), "follow": True})
        assert result["data"]["contact"] == {
            "id": cid(label),
            "mergedIntoId": None,
            "mergedInto": None,
            "survivor": {"id": cid(label)},
        }


async def test_cycle_is_merge_cycle_listing_the_chain(h: Harness) -> None:
    result = await h.run(CONTACT, {"id": cid("loop-a"), "follow": True})
    assert result["data"] == {"contact": None}
    [error] = result["errors"]
    assert error["extensions"]["code"] == "MERGE_CYCLE"
    assert error["extensions"]["backend"] == "support"
    assert error["extensions"]["chain"] == [cid("loop-a"), cid("loop-b"), cid("loop-a")]
    assert cid("loop-b") in error["message"]


async def test_dangling_target_returns_last_existing_record_with_error(h: Harness) -> None:
    result = await h.run(CONTACT, {"id": cid("dangling"), "follow": True})
    assert result["data"]["contact"]["id"] == cid("dangling")
    codes = {e["extensions"]["code"] for e in result["errors"]}
    assert codes == {"MERGE_TARGET_MISSING"}
    first = result["errors"][0]
    assert first["path"] == ["contact"]
    assert first["extensions"]["missing"] == cid("deleted-record")


async def test_hop_limit_stops_long_chains(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["support"], server={"merge_hop_limit": 1})
    result = await h.run(CONTACT, {"id": cid("old-5a"), "follow": True})
    assert result["data"] == {"contact": None}
    assert result["errors"][0]["extensions"]["code"] == "MERGE_CYCLE"
    assert "longer than 1 hops" in result["errors"][0]["message"]


LIST = """query($f: ContactFilter, $all: Boolean!) {
  contacts(first: 200, filter: $f, includeMerged: $all) { totalCount edges { node { id mergedIntoId } } }
}"""


async def test_list_leaves_merged_records_out_unless_asked(h: Harness) -> None:
    plain = await h.run(LIST, {"f": None, "all": False})
    ids = [e["node"]["id"] for e in plain["data"]["contacts"]["edges"]]
    assert cid("old-5a") not in ids and cid("dup-6-0") not in ids and cid("loop-a") not in ids
    assert all(e["node"]["mergedIntoId"] is None for e in plain["data"]["contacts"]["edges"])
    assert plain["data"]["contacts"]["totalCount"] == len(ids)
    everything = await h.run(LIST, {"f": None, "all": True})
    all_ids = [e["node"]["id"] for e in everything["data"]["contacts"]["edges"]]
    assert {cid("old-5a"), cid("old-5b"), cid("dup-6-2"), cid("loop-a"), cid("dangling")} <= set(all_ids)
    assert len(all_ids) == len(h.sims["support"].records)  # type: ignore[attr-defined]


async def test_survivor_takes_the_place_of_a_matching_husk_once(h: Harness) -> None:
    # Only the three husks still carry the old company; their survivor (customer-6) does not.
    result = await h.run(LIST, {"f": {"company": "Pied Piper (old)"}, "all": False})
    assert [e["node"]["id"] for e in result["data"]["contacts"]["edges"]] == [cid("customer-6")]
    assert "errors" not in result


async def test_husk_is_dropped_when_its_survivor_is_listed_anyway(h: Harness) -> None:
    # The two-hop husks and customer-5 all match a search on the person's name.
    result = await h.run(LIST, {"f": {"search": CUSTOMERS[5].first}, "all": False})
    ids = [e["node"]["id"] for e in result["data"]["contacts"]["edges"]]
    assert ids.count(cid("customer-5")) == 1
    assert cid("old-5a") not in ids and cid("old-5b") not in ids


async def test_merges_in_a_filtered_list_report_broken_chains(h: Harness) -> None:
    # The loop's records are copies of customer 8, so a search on the name finds them.
    result = await h.run(LIST, {"f": {"search": CUSTOMERS[8].name}, "all": False})
    codes = [e["extensions"]["code"] for e in result.get("errors", [])]
    ids = [e["node"]["id"] for e in result["data"]["contacts"]["edges"]]
    assert "MERGE_CYCLE" in codes
    assert cid("loop-a") not in ids and cid("loop-b") not in ids


async def test_merge_hops_in_a_page_cost_one_call_per_distinct_record(h: Harness) -> None:
    query = "{ contacts(first: 200, includeMerged: true) { edges { node { id mergedInto { id } survivor { id } } } } }"
    result = await h.run(query)
    husks = [e for e in result["data"]["contacts"]["edges"] if e["node"]["mergedInto"] is not None]
    assert len(husks) >= 5
    sim = h.sims["support"]
    list_calls = sim.state.count("GET", "/v4/global/contacts")  # includes single gets, split below
    gets = [c.path for c in sim.state.calls if c.path != "/v4/global/contacts"]
    # Every hop target that was listed costs nothing; the deleted target is asked for exactly once.
    assert gets == [f"/v4/global/contacts/{guid('deleted-record')}"]
    assert list_calls - len(gets) == 1  # one page holds the whole sample
