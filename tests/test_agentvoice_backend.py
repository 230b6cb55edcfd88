"""The AgentVoice backend against its simulator, in-process through httpx.ASGITransport."""

from __future__ import annotations

import httpx
import pytest

from gateway import errors
from gateway.backends.agentvoice import AgentVoiceBackend
from gateway.backends.protocol import Capability
from gateway.model import Address, ContactChanges, ContactFilter, ContactKind, ExternalId, ExternalIdFilter
from gateway.simulators.agentvoice import (
    DEMO_API_KEY,
    DEMO_ORGANIZATION_ID,
    HELD_CUSTOMERS,
    PREFIX,
    AgentVoiceSimulator,
    contact_id,
    sample_records,
)
from gateway.simulators.common import Fault
from gateway.simulators.people import CUSTOMERS
from tests.conftest import BackendFactory

pytestmark = pytest.mark.vendor("agentvoice")
ROOT = "http://agentvoice.test"


def customer(index: int) -> str:
    return contact_id(f"customer-{index}")


# ---------------------------------------------------------------------------- reads


async def test_list_reads_every_contact_in_one_call_with_both_auth_headers(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    result = await backend.scan(ContactFilter(), None, 1000)
    assert [c.native_id for c in result.contacts] == list(sim.records)
    assert result.total == len(sim.records)
    [call] = sim.state.calls
    assert (call.method, call.path, call.query) == ("GET", "/api/contacts", "")
    assert call.headers["x-api-key"] == DEMO_API_KEY
    assert call.headers["x-organization-id"] == DEMO_ORGANIZATION_ID


async def test_list_pages_by_offset_over_the_one_read(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    first = await backend.scan(ContactFilter(), None, 10)
    rest = await backend.scan(ContactFilter(), first.after[-1], 1000)
    assert [c.native_id for c in [*first.contacts, *rest.contacts]] == list(sim.records)


async def test_get_returns_the_record(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    contact = await backend.get(customer(36))
    assert contact is not None
    person = CUSTOMERS[36]
    assert contact.display_name == person.name and contact.company == person.company
    assert contact.raw == sim.records[customer(36)]
    assert sim.state.calls[-1].path == f"/api/contacts/{customer(36)}"


async def test_unknown_id_is_none(backend: AgentVoiceBackend) -> None:
    assert await backend.get(contact_id("nobody")) is None


async def test_malformed_id_is_refused_before_any_call(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    with pytest.raises(errors.BadUserInput):
        await backend.get("crm/lookup")
    assert sim.state.calls == []


async def test_sample_data_is_agentvoice_shaped() -> None:
    records = sample_records()
    assert 25 <= len(records) <= 35
    assert {r["first_name"] for r in records} >= {CUSTOMERS[i].first for i in HELD_CUSTOMERS}
    assert all(r["phone"] is None or r["phone"].startswith("+1") for r in records)
    assert any(r["email"] and r["email"] != r["email"].lower() for r in records)
    assert {r["crm_source"] for r in records} == {"salesforce", "hubspot", None}
    assert any(r["total_tasks_run"] for r in records)


# ---------------------------------------------------------------------------- filters


async def test_external_id_filter_reads_the_list_not_the_crm_lookup(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    """The lookup's source may compare with case (the document does not say): not a filter."""
    stored = sim.records[customer(36)]
    flt = ContactFilter(external_id=ExternalIdFilter(system="SalesForce", value=stored["crm_id"]))
    result = await backend.scan(flt, None, 10)
    assert [c.native_id for c in result.contacts] == [customer(36)]
    assert [(c.path, c.query) for c in sim.state.calls] == [("/api/contacts", "")]


async def test_unknown_crm_id_is_an_empty_list(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    flt = ContactFilter(external_id=ExternalIdFilter(system="hubspot", value="no-such-id"))
    result = await backend.scan(flt, None, 10)
    assert result.contacts == [] and result.total == 0


async def test_crm_lookup_result_is_still_filtered_by_the_gateway(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    stored = sim.records[customer(36)]
    flt = ContactFilter(
        external_id=ExternalIdFilter(system="salesforce", value=stored["crm_id"]), first_name="Someone Else"
    )
    assert (await backend.scan(flt, None, 10)).contacts == []


async def test_external_id_by_system_alone_is_applied_by_the_gateway(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    result = await backend.scan(ContactFilter(external_id=ExternalIdFilter(system="HubSpot")), None, 100)
    expected = [r["id"] for r in sim.records.values() if r["crm_source"] == "hubspot"]
    assert [c.native_id for c in result.contacts] == expected
    assert [(c.path, c.query) for c in sim.state.calls] == [("/api/contacts", "")]


async def test_email_filter_matches_any_case(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    stored = sim.records[customer(1)]["email"]
    assert stored != stored.lower()  # the sample stores this one in another case
    result = await backend.scan(ContactFilter(email=stored.lower()), None, 10)
    assert [c.native_id for c in result.contacts] == [customer(1)]
    assert sim.state.calls[-1].query == ""


async def test_phone_filter_compares_e164(backend: AgentVoiceBackend) -> None:
    result = await backend.scan(ContactFilter(phone="(206) 555-0002"), None, 10)
    assert [c.native_id for c in result.contacts] == [customer(2)]


async def test_name_company_and_search_filters_are_applied_by_the_gateway(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    person = CUSTOMERS[40]
    by_name = await backend.scan(ContactFilter(first_name=person.first.upper(), last_name=person.last), None, 10)
    assert [c.native_id for c in by_name.contacts] == [customer(40)]
    by_company = await backend.scan(ContactFilter(company="globex"), None, 100)
    assert by_company.contacts and all(c.company == "Globex" for c in by_company.contacts)
    searched = await backend.scan(ContactFilter(search="UMBRELLA"), None, 100)
    assert searched.contacts and all("umbrella" in (c.company or "").lower() for c in searched.contacts)
    assert all(c.query == "" and c.path == "/api/contacts" for c in sim.state.calls)


async def test_kind_filter_without_person_makes_no_call(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    result = await backend.scan(ContactFilter(kinds=frozenset({ContactKind.AGENT})), None, 10)
    assert result.contacts == [] and result.total == 0
    assert sim.state.calls == []


# ---------------------------------------------------------------------------- failures


async def test_wrong_api_key_is_backend_unauthorized(sim: AgentVoiceSimulator, make_backend: BackendFactory) -> None:
    backend = make_backend(sim, api_key="wrong-key")
    with pytest.raises(errors.BackendUnauthorized) as caught:
        await backend.scan(ContactFilter(), None, 10)
    assert caught.value.backend == "voice"
    assert "wrong-key" not in caught.value.message
    await backend.aclose()


async def test_wrong_organization_is_backend_unauthorized(
    sim: AgentVoiceSimulator, make_backend: BackendFactory
) -> None:
    backend = make_backend(sim, organization_id="someone-else")
    with pytest.raises(errors.BackendUnauthorized):
        await backend.get(customer(0))
    await backend.aclose()


async def test_simulator_refuses_missing_headers_with_an_error_body(sim: AgentVoiceSimulator) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url=ROOT) as client:
        response = await client.get(PREFIX + "/contacts", headers={"x-api-key": DEMO_API_KEY})
    assert response.status_code == 401
    assert response.json() == {"error": "Missing x-api-key or x-organization-id header"}


async def test_server_error_is_backend_unavailable(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    sim.state.inject(Fault("status", status=503))
    with pytest.raises(errors.BackendUnavailable):
        await backend.scan(ContactFilter(), None, 10)


async def test_non_json_body_is_backend_bad_response(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    sim.state.inject(Fault("garbage"))
    with pytest.raises(errors.BackendBadResponse):
        await backend.get(customer(0))


async def test_list_that_is_not_an_array_is_backend_bad_response(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    sim.state.inject(Fault("garbage", body=b'{"contacts": []}'))
    with pytest.raises(errors.BackendBadResponse):
        await backend.scan(ContactFilter(), None, 10)


async def test_odd_record_is_mapped_without_crash(make_backend: BackendFactory) -> None:
    odd = {
        "id": contact_id("odd"),
        "first_name": ["Ann"],
        "email": ["ann@example.com", "ann@work.example"],
        "phone": 4155550100,
        "company": {"name": "X"},
        "created_at": "not a time",
        "crm_id": 77,
        "crm_source": "hubspot",
    }
    sim = AgentVoiceSimulator(records=[*sample_records()[:2], odd, {"first_name": "No id"}])
    backend = make_backend(sim)
    result = await backend.scan(ContactFilter(), None, 10)
    assert len(result.contacts) == 3  # the record without an id is skipped
    contact = result.contacts[2]
    assert (contact.display_name, contact.emails, contact.phones) == (
        "Ann",
        ["ann@example.com", "ann@work.example"],
        ["4155550100"],
    )
    assert contact.external_ids == [ExternalId("hubspot", "77")] and contact.raw == odd
    await backend.aclose()


# ---------------------------------------------------------------------------- writes


async def test_create_update_delete_round_trip(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    created = await backend.create(
        ContactChanges(
            {
                "first_name": "Rita",
                "last_name": "Levi",
                "emails": ["rita@example.com"],
                "phones": ["(415) 555-0199"],
                "company": "Levi Co",
                "external_ids": [ExternalId("hubspot", "CRM456")],
                "kind": ContactKind.PERSON,
            }
        )
    )
    assert created.display_name == "Rita Levi" and created.phones == ["+14155550199"]
    assert created.external_ids == [ExternalId("hubspot", "CRM456")]
    stored = sim.records[created.native_id]
    assert (stored["email"], stored["crm_source"], stored["crm_id"]) == ("rita@example.com", "hubspot", "CRM456")
    updated = await backend.update(created.native_id, ContactChanges({"company": "Renamed"}))
    assert updated.company == "Renamed" and updated.emails == ["rita@example.com"]
    await backend.delete(created.native_id)
    assert created.native_id not in sim.records
    assert [(c.method, c.path) for c in sim.state.calls] == [
        ("POST", "/api/contacts"),
        ("PATCH", f"/api/contacts/{created.native_id}"),
        ("DELETE", f"/api/contacts/{created.native_id}"),
    ]


async def test_create_with_only_a_crm_id_needs_no_first_name(backend: AgentVoiceBackend) -> None:
    created = await backend.create(ContactChanges({"external_ids": [ExternalId("salesforce", "CRM789")]}))
    assert created.first_name is None and created.external_ids == [ExternalId("salesforce", "CRM789")]


async def test_create_without_first_name_or_crm_id_is_refused_before_any_call(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.create(ContactChanges({"last_name": "Smith", "first_name": "  "}))
    assert set(caught.value.fields) == {"firstName"}
    assert "first_name" in caught.value.fields["firstName"]
    assert sim.state.calls == []


async def test_invalid_input_lists_every_problem_before_any_call(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.create(
            ContactChanges(
                {
                    "emails": ["not-an-email", "b@example.com"],
                    "phones": ["12"],
                    "title": "CTO",
                    "address": Address(city="Oslo"),
                    "kind": ContactKind.QUEUE,
                    "external_ids": [ExternalId("", "CRM1")],
                }
            )
        )
    assert set(caught.value.fields) == {
        "emails.0",
        "emails",
        "phones.0",
        "title",
        "address",
        "kind",
        "externalIds.0.system",
        "firstName",
    }
    assert sim.state.calls == []


async def test_duplicate_crm_id_on_create_is_conflict(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    taken = sim.records[customer(36)]
    with pytest.raises(errors.Conflict):
        await backend.create(
            ContactChanges({"first_name": "Copy", "external_ids": [ExternalId("salesforce", taken["crm_id"])]})
        )


async def test_update_sends_only_the_fields_given(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    before = dict(sim.records[customer(0)])
    updated = await backend.update(customer(0), ContactChanges({"last_name": "Okoye", "emails": []}))
    after = sim.records[customer(0)]
    assert (after["last_name"], after["email"]) == ("Okoye", None)
    for field in ("first_name", "phone", "company", "crm_id", "crm_source", "created_at", "total_tasks_run"):
        assert after[field] == before[field], field
    assert updated.last_name == "Okoye" and updated.emails == []
    assert [c.method for c in sim.state.calls] == ["PATCH"]


async def test_update_clearing_first_name_checks_the_stored_crm_id(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    assert sim.records[customer(0)]["crm_id"]  # has a CRM id: first_name may go
    cleared = await backend.update(customer(0), ContactChanges({"first_name": None}))
    assert cleared.first_name is None
    assert [c.method for c in sim.state.calls] == ["GET", "PATCH"]
    sim.state.reset()
    assert sim.records[customer(2)]["crm_id"] is None  # no CRM id: first_name must stay
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.update(customer(2), ContactChanges({"first_name": ""}))
    assert set(caught.value.fields) == {"firstName"}
    assert [c.method for c in sim.state.calls] == ["GET"]


async def test_update_clearing_both_first_name_and_crm_id_is_refused_before_any_call(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    with pytest.raises(errors.BadUserInput):
        await backend.update(customer(0), ContactChanges({"first_name": None, "external_ids": []}))
    assert sim.state.calls == []


async def test_update_with_unsupported_field_is_refused_before_any_call(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.update(customer(0), ContactChanges({"alias": "Al", "display_name": "Al Bundy"}))
    assert set(caught.value.fields) == {"alias", "displayName"}
    assert sim.state.calls == []


async def test_update_naming_nothing_storable_returns_the_record_unchanged(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    contact = await backend.update(customer(0), ContactChanges({"kind": ContactKind.PERSON}))
    assert contact.native_id == customer(0)
    assert [c.method for c in sim.state.calls] == ["GET"]


async def test_update_to_a_taken_crm_id_is_conflict(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    taken = sim.records[customer(1)]
    with pytest.raises(errors.Conflict):
        await backend.update(
            customer(0), ContactChanges({"external_ids": [ExternalId(taken["crm_source"], taken["crm_id"])]})
        )


async def test_update_of_unknown_record_is_not_found(backend: AgentVoiceBackend) -> None:
    with pytest.raises(errors.NotFound):
        await backend.update(contact_id("nobody"), ContactChanges({"company": "x"}))


async def test_delete_of_unknown_record_is_not_found(backend: AgentVoiceBackend) -> None:
    with pytest.raises(errors.NotFound):
        await backend.delete(contact_id("nobody"))


async def test_every_write_is_declared_so_none_is_refused_as_not_supported(backend: AgentVoiceBackend) -> None:
    assert backend.capabilities == frozenset(Capability)
    assert backend.writable_kinds == frozenset({ContactKind.PERSON})


# ---------------------------------------------------------------------------- CRM webhook


async def test_crm_upsert_creates_with_the_vendor_default_first_name(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    contact = await backend.upsert_from_crm("zoho", "Z-1", ContactChanges({"emails": ["z@example.com"]}))
    assert contact.first_name == "Unknown" and contact.emails == ["z@example.com"]
    assert contact.external_ids == [ExternalId("zoho", "Z-1")]
    assert "total_tasks_run" not in contact.raw  # the webhook's contact has no task counters
    assert contact.native_id in sim.records
    # A fresh lookup first: an existing contact's first name would be sent back (none here).
    assert [(c.method, c.path) for c in sim.state.calls] == [
        ("GET", "/api/contacts/crm/lookup"),
        ("POST", "/api/webhook/crm"),
    ]


async def test_crm_upsert_updates_the_matching_contact_and_keeps_the_rest(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    stored = dict(sim.records[customer(36)])
    contact = await backend.upsert_from_crm("salesforce", stored["crm_id"], ContactChanges({"company": "Moved Inc"}))
    assert contact.native_id == customer(36) and contact.company == "Moved Inc"
    after = sim.records[customer(36)]
    assert (after["first_name"], after["email"], after["phone"]) == (
        stored["first_name"],
        stored["email"],
        stored["phone"],
    )
    assert len(sim.records) == len(sample_records())


async def test_crm_upsert_input_problems_make_no_call(backend: AgentVoiceBackend, sim: AgentVoiceSimulator) -> None:
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.upsert_from_crm(
            " ",
            "",
            ContactChanges({"phones": ["+14155550100", "+14155550101"], "external_ids": [ExternalId("x", "y")]}),
        )
    assert set(caught.value.fields) == {"source", "crmId", "phones", "externalIds"}
    assert sim.state.calls == []


async def test_crm_upsert_answer_without_contact_is_backend_bad_response(
    backend: AgentVoiceBackend, sim: AgentVoiceSimulator
) -> None:
    sim.state.inject(Fault("garbage", body=b'{"message": "Contact created successfully"}'))
    with pytest.raises(errors.BackendBadResponse):
        await backend.upsert_from_crm("hubspot", "H-1", ContactChanges({"first_name": "Hal"}))


async def test_webhook_accepts_the_documented_field_spellings(sim: AgentVoiceSimulator) -> None:
    headers = {"x-api-key": DEMO_API_KEY, "x-organization-id": DEMO_ORGANIZATION_ID}
    data = {
        "crm_id": 9001,
        "name": "Nia",
        "lastName": "Park",
        "emailAddress": "nia@example.com",
        "phoneNumber": "+14155550123",
        "organization": "Park Ltd",
        "lifecycleStage": "lead",  # a CRM's own field: ignored
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url=ROOT) as client:
        created = await client.post(PREFIX + "/webhook/crm", json={"source": "hubspot", "data": data}, headers=headers)
        again = await client.post(
            PREFIX + "/webhook/crm",
            json={"source": "hubspot", "data": {"crm_id": "9001", "firstName": "Nia", "companyName": "Park Group"}},
            headers=headers,
        )
        missing = await client.post(PREFIX + "/webhook/crm", json={"source": "hubspot", "data": {}}, headers=headers)
    assert created.status_code == 201 and created.json()["message"] == "Contact created successfully"
    contact = created.json()["contact"]
    assert (contact["first_name"], contact["last_name"], contact["email"], contact["phone"], contact["company"]) == (
        "Nia",
        "Park",
        "nia@example.com",
        "+14155550123",
        "Park Ltd",
    )
    assert again.status_code == 200 and again.json()["message"] == "Contact updated successfully"
    assert again.json()["contact"]["company"] == "Park Group" and again.json()["contact"]["last_name"] == "Park"
    assert missing.status_code == 400
    assert missing.json() == {"error": "Invalid payload: source, data, and data.crm_id are required"}
