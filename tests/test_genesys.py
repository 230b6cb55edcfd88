"""Genesys GWS: mapping, envelopes, auth and Custom-only writes, against the strict simulator."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import ValidationError

from gateway import errors
from gateway.backends.genesys import GenesysBackend, GenesysSettings, pushdown, to_contact
from gateway.model import ContactChanges, ContactFilter, ContactKind, ExternalId, ExternalIdFilter
from gateway.simulators.common import Fault
from gateway.simulators.genesys import (
    DEMO_ADMIN,
    DEMO_AGENT,
    DEMO_TOKEN,
    HELD_CUSTOMERS,
    GenesysSimulator,
    contact_id,
    demo_backend_settings,
)
from gateway.simulators.people import CUSTOMERS
from tests.conftest import BackendFactory, HarnessFactory

pytestmark = pytest.mark.vendor("genesys", retries=0)
ROOT = "http://gws.test"
# The document's own example record.
EXAMPLE = {"id": "Some unique id", "name": "Some Contact", "type": "Custom", "phoneNumber": "xxx-xxx-xxxx"}


# ---------------------------------------------------------------------------- mapping


def test_the_documents_example_maps() -> None:
    contact = to_contact(EXAMPLE, "routing")
    assert contact.id == "routing:Some unique id"
    assert (contact.kind, contact.display_name, contact.phones) == (
        ContactKind.CUSTOM,
        "Some Contact",
        ["xxx-xxx-xxxx"],
    )
    assert contact.raw == EXAMPLE


def test_a_user_maps_names_username_and_employee_id() -> None:
    record = {
        "id": "u1",
        "name": "",
        "type": "user",
        "phoneNumber": "415-555-8000",
        "userName": "ghopper",
        "firstName": "Grace",
        "lastName": "Hopper",
        "employeeId": "E1000",
    }
    contact = to_contact(record, "routing")
    assert contact.kind is ContactKind.USER and contact.display_name == "Grace Hopper"
    assert (contact.first_name, contact.last_name, contact.alias) == ("Grace", "Hopper", "ghopper")
    assert contact.external_ids == [ExternalId("employeeId", "E1000")]


@pytest.mark.parametrize("odd_type", [None, "Robot", 7, ["Queue"]])
def test_an_unknown_type_is_a_plain_person_never_writable(odd_type: Any) -> None:
    assert to_contact({**EXAMPLE, "type": odd_type}, "routing").kind is ContactKind.PERSON


def test_pushdown_sends_only_what_the_document_shows_matching_without_case() -> None:
    flt = ContactFilter(
        kinds=frozenset({ContactKind.QUEUE}),
        first_name=" Grace ",
        last_name="Hopper",
        external_id=ExternalIdFilter("EMPLOYEEID", "E1000"),
        phone="4155558000",
    )
    assert pushdown(flt) == {"type": "Queue"}
    assert pushdown(ContactFilter(kinds=frozenset({ContactKind.QUEUE, ContactKind.USER}))) == {}
    assert pushdown(ContactFilter(external_id=ExternalIdFilter("salesforce", "E1000"))) == {}


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({}, "credentials"),
        ({"username": "u"}, "both are required"),
        ({"username": "u", "password": "p", "token": "t"}, "not both"),
    ],
)
def test_settings_need_exactly_one_way_to_authenticate(extra: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        GenesysSettings.model_validate({"vendor": "genesys", "url": ROOT, **extra})


# ---------------------------------------------------------------------------- against the simulator


CUSTOMER = contact_id(f"customer-{HELD_CUSTOMERS[0]}")
QUEUE = contact_id("queue-Support Queue")


async def test_list_sends_basic_auth_and_reads_the_envelope(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    result = await backend.scan(ContactFilter(), None, 1000)
    assert len(result.contacts) == len(sim.records)
    assert {c.kind for c in result.contacts} == {ContactKind.CUSTOM, ContactKind.QUEUE, ContactKind.USER}
    [call] = sim.state.calls
    assert call.path == "/api/v2/contacts"
    expected = base64.b64encode(f"{DEMO_ADMIN[0]}:{DEMO_ADMIN[1]}".encode()).decode()
    assert call.headers["authorization"] == f"Basic {expected}"


async def test_bearer_tokens_work_too(sim: GenesysSimulator, make_backend: BackendFactory) -> None:
    backend = make_backend(sim, username=None, password=None, token=DEMO_TOKEN)
    try:
        assert (await backend.scan(ContactFilter(), None, 5)).contacts
    finally:
        await backend.aclose()
    assert sim.state.calls[-1].headers["authorization"] == f"Bearer {DEMO_TOKEN}"


async def test_get_uses_the_id_attribute(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    found = await backend.get(CUSTOMER)
    assert found is not None and found.display_name == CUSTOMERS[HELD_CUSTOMERS[0]].name
    assert parse_qs(sim.state.calls[-1].query) == {"id": [CUSTOMER]}
    assert await backend.get("nothing-here") is None


async def test_filters_are_pushed_down_and_email_filters_make_no_call(
    backend: GenesysBackend, sim: GenesysSimulator
) -> None:
    users = await backend.scan(ContactFilter(kinds=frozenset({ContactKind.USER}), first_name="grace"), None, 10)
    assert [c.display_name for c in users.contacts] == ["Grace Hopper"]
    assert parse_qs(sim.state.calls[-1].query) == {"type": ["User"]}
    calls = len(sim.state.calls)
    assert (await backend.scan(ContactFilter(email="grace@example.com"), None, 10)).contacts == []
    assert len(sim.state.calls) == calls  # GWS contacts have no email: nothing to ask


async def test_a_non_zero_status_code_on_http_200_is_a_coded_error_and_not_cached(sim: GenesysSimulator) -> None:
    from gateway.cache import ReadCache

    cache = ReadCache()
    backend = GenesysBackend(
        "routing",
        GenesysSettings.model_validate({**demo_backend_settings(ROOT), "retries": 0}),
        transport=httpx.ASGITransport(app=sim.app),
        cache=cache,
        ttl_s=60,
    )
    sim.state.inject(
        Fault("garbage", status=200, body=b'{"statusCode": 4, "statusMessage": "Internal error"}', times=1)
    )
    try:
        with pytest.raises(errors.BackendUnavailable, match="Internal error \\(GWS statusCode 4\\)") as caught:
            await backend.scan(ContactFilter(), None, 5)
        assert caught.value.backend == "routing"
        assert (await backend.scan(ContactFilter(), None, 5)).contacts  # the failure was not kept
    finally:
        await backend.aclose()
        await cache.aclose()


@pytest.mark.parametrize(
    "change", [{"password": "wrong"}, {"username": DEMO_AGENT[0], "password": "wrong"}, {"token": "wrong"}]
)
async def test_wrong_credentials_are_backend_unauthorized(
    sim: GenesysSimulator, change: dict[str, Any], make_backend: BackendFactory
) -> None:
    if "token" in change:
        change = {**change, "username": None, "password": None}
    backend = make_backend(sim, **change)
    try:
        with pytest.raises(errors.BackendUnauthorized) as caught:
            await backend.scan(ContactFilter(), None, 5)
    finally:
        await backend.aclose()
    assert caught.value.backend == "routing" and "wrong" not in caught.value.message


async def test_an_agent_may_read_but_not_write(sim: GenesysSimulator, make_backend: BackendFactory) -> None:
    backend = make_backend(sim, username=DEMO_AGENT[0], password=DEMO_AGENT[1])
    try:
        assert (await backend.scan(ContactFilter(), None, 5)).contacts
        with pytest.raises(errors.Forbidden, match="Admin permission"):
            await backend.create(ContactChanges(values={"display_name": "New", "phones": ["415-555-0199"]}))
    finally:
        await backend.aclose()


@pytest.mark.parametrize(
    ("fault", "code"),
    [(Fault("status", status=503), "BACKEND_UNAVAILABLE"), (Fault("garbage"), "BACKEND_BAD_RESPONSE")],
)
async def test_vendor_failures_are_coded(
    backend: GenesysBackend, sim: GenesysSimulator, fault: Fault, code: str
) -> None:
    sim.state.inject(fault)
    with pytest.raises(errors.GatewayError) as caught:
        await backend.scan(ContactFilter(), None, 5)
    assert caught.value.code == code and caught.value.backend == "routing"


# ---------------------------------------------------------------------------- writes


async def test_create_makes_a_custom_contact(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    created = await backend.create(
        ContactChanges(values={"display_name": "Parts Supplier", "phones": ["206-555-0123"]})
    )
    assert created.kind is ContactKind.CUSTOM and created.display_name == "Parts Supplier"
    stored = sim.records[created.native_id]
    assert stored == {
        "id": created.native_id,
        "name": "Parts Supplier",
        "type": "Custom",
        "phoneNumber": "206-555-0123",
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"phones": ["206-555-0123"]}, "displayName"),
        ({"display_name": "X", "emails": ["x@example.com"]}, "emails"),
        ({"display_name": "X", "company": "Acme"}, "company"),
        ({"display_name": "X", "phones": ["1", "2"]}, "phones.0"),
        ({"display_name": "X", "phones": ["206-555-0123", "206-555-0124"]}, "phones"),
    ],
)
async def test_bad_input_is_refused_before_any_call(
    backend: GenesysBackend, sim: GenesysSimulator, values: dict[str, Any], field: str
) -> None:
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.create(ContactChanges(values=values))
    assert field in (caught.value.fields or {})
    assert sim.state.calls == []


async def test_update_changes_only_what_the_patch_names(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    before = dict(sim.records[CUSTOMER])
    updated = await backend.update(CUSTOMER, ContactChanges(values={"display_name": "Renamed Customer"}))
    assert updated.display_name == "Renamed Customer"
    assert sim.records[CUSTOMER] == {**before, "name": "Renamed Customer"}  # the phone survived
    assert [c.method for c in sim.state.calls] == ["GET", "PUT"]


@pytest.mark.parametrize("operation", ["update", "delete"])
async def test_queues_and_users_are_read_only(backend: GenesysBackend, sim: GenesysSimulator, operation: str) -> None:
    with pytest.raises(errors.NotSupported, match="only CUSTOM") as caught:
        if operation == "update":
            await backend.update(QUEUE, ContactChanges(values={"display_name": "Renamed"}))
        else:
            await backend.delete(QUEUE)
    assert caught.value.backend == "routing"
    assert [c.method for c in sim.state.calls] == ["GET"]  # read to learn the kind; nothing written
    assert QUEUE in sim.records


async def test_delete_removes_a_custom_contact(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    await backend.delete(CUSTOMER)
    assert CUSTOMER not in sim.records
    with pytest.raises(errors.NotFound):
        await backend.delete(CUSTOMER)


async def test_writes_through_graphql_name_the_kind_rule(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["routing"])
    refused = await h.run(
        'mutation { createContact(backend: "routing", input: {displayName: "Q", kind: QUEUE}) { id } }'
    )
    assert refused["errors"][0]["extensions"]["code"] == "NOT_SUPPORTED"
    assert h.calls("routing") == 0
    made = await h.run(
        'mutation { createContact(backend: "routing", input: {displayName: "Front Desk", phones: ["312-555-0100"]})'
        " { id kind displayName phones } }"
    )
    assert made["data"]["createContact"]["kind"] == "CUSTOM"
    capabilities = await h.run("{ backends { name capabilities } }")
    assert set(capabilities["data"]["backends"][0]["capabilities"]) == {"READ", "CREATE", "UPDATE", "DELETE"}


async def test_create_update_delete_round_trip_through_graphql(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["routing"])
    made = await h.run(
        'mutation { createContact(backend: "routing", input: {displayName: "Night Line", phones: ["312-555-0111"]})'
        " { id } }"
    )
    contact_id = made["data"]["createContact"]["id"]
    read = "query($id: ID!) { contact(id: $id) { displayName phones kind } }"
    assert (await h.run(read, {"id": contact_id}))["data"]["contact"] == {
        "displayName": "Night Line",
        "phones": ["+13125550111"],
        "kind": "CUSTOM",
    }
    renamed = await h.run(
        'mutation($id: ID!) { updateContact(id: $id, input: {displayName: "Night Desk"}) { displayName phones } }',
        {"id": contact_id},
    )
    assert renamed["data"]["updateContact"] == {"displayName": "Night Desk", "phones": ["+13125550111"]}
    assert (await h.run(read, {"id": contact_id}))["data"]["contact"]["displayName"] == "Night Desk"
    deleted = await h.run("mutation($id: ID!) { deleteContact(id: $id) }", {"id": contact_id})
    assert deleted == {"data": {"deleteContact": contact_id}}
    assert (await h.run(read, {"id": contact_id}))["data"]["contact"] is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (6, errors.NotFound),
        (20, errors.BackendUnauthorized),
        (3, errors.Forbidden),
        (5, errors.Forbidden),
        (1, errors.BadUserInput),
        (10, errors.BadUserInput),
        (18, errors.Conflict),
        (4, errors.BackendUnavailable),
        (99, errors.BackendUnavailable),
    ],
)
def test_gws_status_codes_map_to_the_contract(
    status: int, error: type[errors.GatewayError], make_backend: BackendFactory
) -> None:
    backend = make_backend(GenesysSimulator())
    with pytest.raises(error) as caught:
        backend.check_payload({"statusCode": status, "statusMessage": "said by GWS"})
    assert caught.value.backend == "routing" and "said by GWS" in caught.value.message
    backend.check_payload({"statusCode": "0", "contacts": []})  # a string zero is success too


async def test_a_lookup_answered_not_found_is_null(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    sim.state.inject(Fault("status", status=404, body=b'{"statusCode": 6, "statusMessage": "not found"}'))
    assert await backend.get("abc123") is None
    sim.state.inject(Fault("garbage", status=200, body=b'{"statusCode": 6, "statusMessage": "not found"}'))
    assert await backend.get("abc124") is None
