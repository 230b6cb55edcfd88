"""The Comm100 backend against its simulator, in-process through httpx.ASGITransport."""

from __future__ import annotations

import httpx
import pytest

from gateway import errors
from gateway.backends.comm100 import Comm100Backend, Comm100Settings
from gateway.model import Address, ContactChanges, ContactFilter, ContactKind
from gateway.simulators.comm100 import PREFIX, Comm100Simulator, guid, sample_records
from gateway.simulators.common import Fault
from tests.conftest import BackendFactory

# Pages of 10: the sample data takes several.
pytestmark = pytest.mark.vendor("comm100", page_size=10)
URL = "http://comm100.test" + PREFIX


async def test_list_walks_every_page_until_next_page_is_null(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    result = await backend.scan(ContactFilter(), None, 1000, include_merged=True)
    assert [c.native_id for c in result.contacts] == list(sim.records)
    assert result.total == len(sim.records)
    pages = [c for c in sim.state.calls if c.path == "/v4/global/contacts"]
    assert len(pages) == -(-len(sim.records) // 10)
    assert all("include=contactIdentity" in c.query and "pageSize=10" in c.query for c in pages)
    assert [c.query.count("pageIndex=") for c in pages] == [1] * len(pages)


async def test_scan_resumes_from_a_position_inside_a_page(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    first = await backend.scan(ContactFilter(), None, 15, include_merged=True)
    rest = await backend.scan(ContactFilter(), first.after[-1], 1000, include_merged=True)
    assert [c.native_id for c in [*first.contacts, *rest.contacts]] == list(sim.records)


async def test_unfiltered_list_leaves_merged_away_records_out(backend: Comm100Backend) -> None:
    result = await backend.scan(ContactFilter(), None, 1000)
    assert result.contacts and all(c.merged_into_id is None for c in result.contacts)
    assert result.total == len(result.contacts)


async def test_identities_come_with_listed_records(backend: Comm100Backend) -> None:
    result = await backend.scan(ContactFilter(), None, 5)
    assert all(c.identities for c in result.contacts)
    assert {"Email", "Twitter", "WhatsApp", "Facebook"} <= {
        i.type for c in (await backend.scan(ContactFilter(), None, 100)).contacts for i in c.identities
    }


async def test_get_returns_the_record_with_identities(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    contact_id = guid("customer-3")
    contact = await backend.get(contact_id)
    assert contact is not None and contact.native_id == contact_id
    assert contact.display_name == sim.records[contact_id]["name"]
    assert contact.identities
    assert sim.state.calls[-1].path == f"/v4/global/contacts/{contact_id}"


async def test_unknown_id_is_none(backend: Comm100Backend) -> None:
    assert await backend.get(guid("nobody")) is None


async def test_malformed_id_is_refused_before_any_call(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    with pytest.raises(errors.BadUserInput):
        await backend.get("../admin")
    assert sim.state.calls == []


async def test_wrong_token_is_backend_unauthorized(sim: Comm100Simulator, make_backend: BackendFactory) -> None:
    backend = make_backend(sim, token="wrong")
    with pytest.raises(errors.BackendUnauthorized) as caught:
        await backend.get(guid("customer-1"))
    assert caught.value.backend == "support"
    assert "wrong" not in caught.value.message
    await backend.aclose()


async def test_basic_auth_with_email_and_api_key(sim: Comm100Simulator) -> None:
    sim.email, sim.api_key = "ops@example.com", "k-123"
    conf = Comm100Settings.model_validate(
        {"vendor": "comm100", "url": URL, "email": "ops@example.com", "api_key": "k-123"}
    )
    backend = Comm100Backend("support", conf, transport=httpx.ASGITransport(app=sim.app))
    assert await backend.get(guid("customer-1")) is not None
    assert sim.state.calls[-1].headers["authorization"].startswith("Basic ")
    await backend.aclose()


async def test_site_id_goes_on_every_call(sim: Comm100Simulator, make_backend: BackendFactory) -> None:
    sim.site_id = 10000
    backend = make_backend(sim, site_id=10000)
    await backend.get(guid("customer-1"))
    await backend.scan(ContactFilter(), None, 1)
    assert all("siteId=10000" in c.query for c in sim.state.calls)
    await backend.aclose()


async def test_server_error_is_backend_unavailable(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    sim.state.inject(Fault("status", status=503))
    with pytest.raises(errors.BackendUnavailable):
        await backend.scan(ContactFilter(), None, 10)


async def test_non_json_body_is_backend_bad_response(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    sim.state.inject(Fault("garbage"))
    with pytest.raises(errors.BackendBadResponse):
        await backend.get(guid("customer-1"))


async def test_envelope_without_contacts_is_backend_bad_response(
    backend: Comm100Backend, sim: Comm100Simulator
) -> None:
    sim.state.inject(Fault("garbage", body=b'{"items": []}'))
    with pytest.raises(errors.BackendBadResponse):
        await backend.scan(ContactFilter(), None, 10)


async def test_email_filter_matches_any_case_in_the_gateway(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    stored = sim.records[guid("customer-1")]["contactIdentities"][0]["value"]
    assert stored != stored.lower()  # the sample stores this one in mixed case
    result = await backend.scan(ContactFilter(email=stored.lower()), None, 10)
    assert [c.native_id for c in result.contacts] == [guid("customer-1")]
    # The identity filter cannot see an email kept in mailingAddress: never sent.
    assert all("contactIdentity" not in c.query.replace("include=contactIdentity", "") for c in sim.state.calls)


async def test_phone_filter_compares_e164(backend: Comm100Backend) -> None:
    result = await backend.scan(ContactFilter(phone="+1 512 555 0001"), None, 10)
    assert [c.native_id for c in result.contacts] == [guid("customer-1")]


async def test_search_filter_is_applied_by_the_gateway(backend: Comm100Backend) -> None:
    result = await backend.scan(ContactFilter(search="GLOBEX.example"), None, 100)
    assert result.contacts
    assert all(any("globex" in e.lower() for e in c.emails) or "Globex" in (c.company or "") for c in result.contacts)


async def test_kind_filter_without_person_makes_no_call(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    result = await backend.scan(ContactFilter(kinds=frozenset({ContactKind.QUEUE})), None, 10)
    assert result.contacts == [] and result.total == 0
    assert sim.state.calls == []


async def test_create_update_delete_round_trip(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    created = await backend.create(
        ContactChanges(
            {"first_name": "Rita", "last_name": "Levi", "emails": ["rita@example.com"], "phones": ["+14155550199"]}
        )
    )
    assert created.display_name == "Rita Levi"
    assert created.emails == ["rita@example.com"]
    assert sim.records[created.native_id]["name"] == "Rita Levi"
    updated = await backend.update(created.native_id, ContactChanges({"title": "CFO"}))
    assert updated.title == "CFO" and updated.emails == ["rita@example.com"]
    await backend.delete(created.native_id)
    assert created.native_id not in sim.records


async def test_update_keeps_every_field_the_patch_does_not_name(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    contact_id = guid("customer-0")
    before = dict(sim.records[contact_id])
    await backend.update(contact_id, ContactChanges({"company": "New Co"}))
    after = sim.records[contact_id]
    assert after["company"] == "New Co"
    for field in ("name", "firstName", "lastName", "alias", "title", "fax", "phone", "mailingAddress", "city"):
        assert after[field] == before[field], field
    assert [(i["contactIdentityType"], i["value"]) for i in after["contactIdentities"]] == [
        (i["contactIdentityType"], i["value"]) for i in before["contactIdentities"]
    ]
    assert [c.method for c in sim.state.calls] == ["GET", "PUT"]


async def test_update_replaces_emails_but_keeps_other_identities(
    backend: Comm100Backend, sim: Comm100Simulator
) -> None:
    contact_id = guid("customer-0")
    updated = await backend.update(contact_id, ContactChanges({"emails": ["new@example.com"]}))
    assert updated.emails == ["new@example.com"]
    assert {i.type for i in updated.identities} == {"Email", "Twitter", "WhatsApp", "Facebook"}


async def test_update_of_address_maps_to_mailing_fields(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    contact_id = guid("customer-2")
    await backend.update(contact_id, ContactChanges({"address": Address(line1="9 Elm St", city="Oslo", country="NO")}))
    record = sim.records[contact_id]
    assert (record["mailingAddress"], record["city"], record["countryOrRegion"]) == ("9 Elm St", "Oslo", "NO")
    assert record["stateOrProvince"] == ""


async def test_invalid_input_is_refused_before_any_call(backend: Comm100Backend, sim: Comm100Simulator) -> None:
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.create(
            ContactChanges({"emails": ["not-an-email"], "phones": ["12", "+14155550100"], "external_ids": ["x"]})
        )
    assert set(caught.value.fields) == {"emails.0", "phones.0", "phones", "externalIds", "displayName"}
    assert sim.state.calls == []


async def test_update_of_unknown_record_is_not_found(backend: Comm100Backend) -> None:
    with pytest.raises(errors.NotFound):
        await backend.update(guid("nobody"), ContactChanges({"title": "x"}))


async def test_delete_of_unknown_record_is_not_found(backend: Comm100Backend) -> None:
    with pytest.raises(errors.NotFound):
        await backend.delete(guid("nobody"))


def test_sample_data_holds_every_merge_case() -> None:
    records = {r["id"]: r for r in sample_records()}
    targets = [r["mergeToContactId"] for r in records.values()]
    assert len(records) >= 40
    assert targets.count(guid("customer-6")) == 3  # several husks, one survivor
    assert records[guid("old-5a")]["mergeToContactId"] == guid("old-5b")  # two hops
    assert records[guid("loop-b")]["mergeToContactId"] == guid("loop-a")  # a cycle
    assert guid("deleted-record") not in records  # a dangling target
    assert "00000000-0000-0000-0000-000000000000" in targets
