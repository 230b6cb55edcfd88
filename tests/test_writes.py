"""Writes through the schema: routing, validation before any call, partial updates, error codes."""

from __future__ import annotations

import pytest

from gateway.simulators.comm100 import guid
from gateway.simulators.common import Fault
from tests.conftest import Harness, HarnessFactory

CREATE = """mutation($backend: String!, $input: ContactInput!) {
  createContact(backend: $backend, input: $input) { id backend displayName firstName emails phones title }
}"""
UPDATE = """mutation($id: ID!, $input: ContactPatch!) {
  updateContact(id: $id, input: $input) { id displayName title company emails phones alias address { city } }
}"""
DELETE = "mutation($id: ID!) { deleteContact(id: $id) }"
READ = "query($id: ID!) { contact(id: $id, followMerges: false) { id displayName title company alias emails } }"


@pytest.fixture
def h(make_harness: HarnessFactory) -> Harness:
    return make_harness(only=["support"])


async def test_comm100_create_update_delete_round_trip(h: Harness) -> None:
    created = await h.run(
        CREATE,
        {"backend": "support", "input": {"firstName": "Rita", "lastName": "Levi", "emails": ["rita@example.com"]}},
    )
    assert "errors" not in created, created
    contact = created["data"]["createContact"]
    assert contact["displayName"] == "Rita Levi" and contact["emails"] == ["rita@example.com"]
    updated = await h.run(UPDATE, {"id": contact["id"], "input": {"title": "CFO"}})
    assert updated["data"]["updateContact"]["title"] == "CFO"
    read = await h.run(READ, {"id": contact["id"]})
    assert read["data"]["contact"]["title"] == "CFO"
    deleted = await h.run(DELETE, {"id": contact["id"]})
    assert deleted == {"data": {"deleteContact": contact["id"]}}
    gone = await h.run(READ, {"id": contact["id"]})
    assert gone == {"data": {"contact": None}}


async def test_update_changes_only_the_fields_given(h: Harness) -> None:
    contact_id = f"support:{guid('customer-1')}"
    before = (await h.run(READ, {"id": contact_id}))["data"]["contact"]
    result = await h.run(UPDATE, {"id": contact_id, "input": {"company": "Renamed Ltd"}})
    after = result["data"]["updateContact"]
    assert after["company"] == "Renamed Ltd"
    assert (after["displayName"], after["title"], after["alias"], after["emails"]) == (
        before["displayName"],
        before["title"],
        before["alias"],
        before["emails"],
    )


async def test_null_in_a_patch_clears_the_field(h: Harness) -> None:
    contact_id = f"support:{guid('customer-1')}"
    result = await h.run(UPDATE, {"id": contact_id, "input": {"alias": None}})
    assert result["data"]["updateContact"]["alias"] is None


async def test_invalid_input_lists_the_fields_and_makes_no_call(h: Harness) -> None:
    result = await h.run(CREATE, {"backend": "support", "input": {"emails": ["nope"], "phones": ["123"]}})
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["backend"] == "support"
    assert set(error["extensions"]["fields"]) == {"emails.0", "phones.0", "displayName"}
    assert h.calls("support") == 0


async def test_unknown_backend_and_wrong_id_are_bad_user_input_without_calls(h: Harness) -> None:
    unknown = await h.run(CREATE, {"backend": "nowhere", "input": {"displayName": "X"}})
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert unknown["errors"][0]["extensions"]["fields"] == {"backend": "unknown"}
    wrong = await h.run(UPDATE, {"id": "support:42", "input": {"title": "x"}})
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    empty = await h.run(UPDATE, {"id": f"support:{guid('customer-1')}", "input": {}})
    assert empty["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert h.calls("support") == 0


async def test_kind_the_backend_cannot_write_is_not_supported_without_calls(h: Harness) -> None:
    result = await h.run(CREATE, {"backend": "support", "input": {"displayName": "Q", "kind": "QUEUE"}})
    [error] = result["errors"]
    assert error["extensions"]["code"] == "NOT_SUPPORTED"
    assert error["extensions"]["writableKinds"] == ["PERSON"]
    assert "support" in error["message"]
    assert h.calls("support") == 0


async def test_crm_upsert_on_a_backend_without_it_is_not_supported(h: Harness) -> None:
    result = await h.run(
        'mutation { upsertContactFromCrm(backend: "support", source: "salesforce", crmId: "1") { id } }'
    )
    assert result["errors"][0]["extensions"]["code"] == "NOT_SUPPORTED"
    assert h.calls("support") == 0


async def test_update_of_unknown_record_is_not_found(h: Harness) -> None:
    result = await h.run(UPDATE, {"id": f"support:{guid('nobody')}", "input": {"title": "x"}})
    assert result["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    deleted = await h.run(DELETE, {"id": f"support:{guid('nobody')}"})
    assert deleted["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_vendor_400_is_bad_user_input_with_its_message(h: Harness) -> None:
    h.sims["support"].state.inject(Fault("status", status=400, path_prefix="/v4/global/contacts"))
    result = await h.run(CREATE, {"backend": "support", "input": {"displayName": "X"}})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "simulated HTTP 400" in result["errors"][0]["message"]


async def test_write_is_never_retried(h: Harness) -> None:
    h.sims["support"].state.inject(Fault("status", status=503))
    result = await h.run(CREATE, {"backend": "support", "input": {"displayName": "X"}})
    assert result["errors"][0]["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert h.sims["support"].state.count("POST") == 1


async def test_write_that_timed_out_says_outcome_unknown(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["support"], overrides={"support": {"timeout_s": 0.2}})
    h.sims["support"].state.inject(Fault("hang", seconds=2))
    result = await h.run(CREATE, {"backend": "support", "input": {"displayName": "X"}})
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BACKEND_TIMEOUT"
    assert error["extensions"]["outcome"] == "unknown"
    assert "outcome is unknown" in error["message"]


async def test_an_update_builds_on_the_vendors_current_record_not_a_cached_copy(h: Harness) -> None:
    contact_id = f"support:{guid('customer-3')}"
    await h.run(READ, {"id": contact_id})  # now cached
    # Someone changes the record in Comm100 itself, behind the gateway's back.
    h.sims["support"].records[guid("customer-3")]["alias"] = "Set In Comm100"  # type: ignore[attr-defined]
    result = await h.run(UPDATE, {"id": contact_id, "input": {"title": "Director"}})
    after = result["data"]["updateContact"]
    assert (after["title"], after["alias"]) == ("Director", "Set In Comm100")  # the full PUT kept it
