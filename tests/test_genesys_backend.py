"""Genesys GWS backend against its strict simulator: the sample data, the simulator's refusals,
filters pushed down without losing records, envelope and transport failures, and Custom-only writes
that never reach the vendor when they cannot succeed (tests/test_genesys.py has the basics)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from gateway import errors
from gateway.backends.genesys import GenesysBackend, to_contact
from gateway.filtering import matches, normalize_phone
from gateway.model import ContactChanges, ContactFilter, ContactKind, ExternalId, ExternalIdFilter
from gateway.simulators.common import Fault
from gateway.simulators.genesys import DEMO_ADMIN, DEMO_TOKEN, HELD_CUSTOMERS, GenesysSimulator, contact_id
from gateway.simulators.people import AGENTS, CUSTOMERS, us_national
from tests.conftest import BackendFactory, HarnessFactory

pytestmark = pytest.mark.vendor("genesys", retries=0)
ROOT = "http://gws.test"
BASE = f"{ROOT}/api/v2"
CUSTOMER_INDEX = HELD_CUSTOMERS[1]
CUSTOMER = contact_id(f"customer-{CUSTOMER_INDEX}")
QUEUE = contact_id("queue-Billing Queue")
USER = contact_id("user-0")
BASIC = "Basic " + base64.b64encode(f"{DEMO_ADMIN[0]}:{DEMO_ADMIN[1]}".encode()).decode()


@pytest.fixture
async def client(sim: GenesysSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """A raw HTTP client to the simulator, as the admin."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app), base_url=BASE, headers={"Authorization": BASIC}
    ) as made:
        yield made


def writes(sim: GenesysSimulator) -> list[str]:
    return [c.method for c in sim.state.calls if c.method != "GET"]


# ---------------------------------------------------------------------------- the sample data


def test_the_sample_data_holds_every_type_with_its_attributes(sim: GenesysSimulator) -> None:
    records = list(sim.records.values())
    assert len(records) >= 25
    assert {r["type"] for r in records} == {"Custom", "Queue", "User"}
    users = [r for r in records if r["type"] == "User"]
    assert len(users) == len(AGENTS)
    assert all(r["employeeId"] and r["userName"] and r["firstName"] and r["lastName"] for r in users)
    assert all(set(r) <= {"id", "name", "type", "phoneNumber"} for r in records if r["type"] != "User")


def test_sample_customers_share_their_phone_with_the_other_vendors(sim: GenesysSimulator) -> None:
    for index in HELD_CUSTOMERS:
        record = sim.records[contact_id(f"customer-{index}")]
        assert record["type"] == "Custom"
        assert normalize_phone(record["phoneNumber"]) == CUSTOMERS[index].phone


# ---------------------------------------------------------------------------- the simulator's own rules


async def test_the_simulator_refuses_missing_credentials_in_an_envelope(sim: GenesysSimulator) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url=BASE) as anonymous:
        answer = await anonymous.get("/contacts")
    assert answer.status_code == 401
    assert answer.json()["statusCode"] != 0 and answer.json()["statusMessage"]


async def test_every_simulator_answer_carries_a_status_code(client: httpx.AsyncClient) -> None:
    listed = await client.get("/contacts", params={"type": "queue"})
    assert listed.json()["statusCode"] == 0
    assert {r["type"] for r in listed.json()["contacts"]} == {"Queue"}
    created = await client.post("/contacts", json={"name": "Desk", "type": "Custom", "phoneNumber": "312-555-0100"})
    assert created.json()["statusCode"] == 0 and created.json()["id"]
    path = f"/contacts/{created.json()['id']}"
    assert (await client.put(path, json={"name": "Desk 2", "phoneNumber": "312-555-0100"})).json() == {"statusCode": 0}
    assert (await client.delete(path)).json() == {"statusCode": 0}


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "status"),
    [
        ("GET", "/contacts", None, {"email": "x@example.com"}, 400),
        ("POST", "/contacts", {"name": "Desk", "type": "Custom", "email": "x@example.com"}, None, 400),
        ("POST", "/contacts", {"name": "Desk", "type": "Queue"}, None, 403),
        ("POST", "/contacts", {"type": "Custom", "phoneNumber": "312-555-0100"}, None, 400),
        ("PUT", f"/contacts/{QUEUE}", {"name": "Renamed"}, None, 403),
        ("PUT", f"/contacts/{USER}", {"name": "Renamed"}, None, 403),
        ("DELETE", f"/contacts/{USER}", None, None, 403),
        ("DELETE", "/contacts/no-such-contact", None, None, 404),
    ],
)
async def test_the_simulator_refuses_what_the_document_does_not_allow(
    client: httpx.AsyncClient,
    sim: GenesysSimulator,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    params: dict[str, str] | None,
    status: int,
) -> None:
    before = {k: dict(v) for k, v in sim.records.items()}
    answer = await client.request(method, path, json=body, params=params)
    assert answer.status_code == status
    assert answer.json()["statusCode"] != 0 and answer.json()["statusMessage"]
    assert sim.records == before


# ---------------------------------------------------------------------------- reads


async def test_get_reads_a_user_whole(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    user = await backend.get(USER)
    assert user is not None
    agent = AGENTS[0]
    assert (user.kind, user.first_name, user.last_name) == (ContactKind.USER, agent.first, agent.last)
    assert normalize_phone(user.phones[0]) == agent.phone
    assert user.external_ids == [ExternalId("employeeId", "E1000")]
    assert user.raw == sim.records[USER]


async def test_a_malformed_id_is_refused_without_a_call(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.get("bad\x00id")
    assert caught.value.fields == {"id": "malformed"}
    assert sim.state.calls == []


FILTERS = {
    "custom only": ContactFilter(kinds=frozenset({ContactKind.CUSTOM})),
    "queues and users": ContactFilter(kinds=frozenset({ContactKind.QUEUE, ContactKind.USER})),
    "first name in capitals": ContactFilter(first_name="ALAN"),
    "padded first and last name": ContactFilter(first_name=" ada ", last_name="lovelace"),
    "last name of one kind": ContactFilter(last_name="hopper", kinds=frozenset({ContactKind.USER})),
    "employee id": ContactFilter(external_id=ExternalIdFilter("employeeId", "E1003")),
    "id of any system": ContactFilter(external_id=ExternalIdFilter(None, "E1004")),
    "phone in another spelling": ContactFilter(phone=us_national(CUSTOMERS[CUSTOMER_INDEX].phone)),
    "search": ContactFilter(search="queue"),
    "search within a kind": ContactFilter(search="hotline", kinds=frozenset({ContactKind.CUSTOM})),
}


@pytest.mark.parametrize("flt", FILTERS.values(), ids=FILTERS.keys())
async def test_pushed_down_filters_find_exactly_what_the_gateway_would(
    backend: GenesysBackend, sim: GenesysSimulator, flt: ContactFilter
) -> None:
    everything = [to_contact(r, "routing") for r in sim.records.values()]
    expected = sorted(c.native_id for c in everything if matches(c, flt))
    assert expected, "each case should find something"
    found = await backend.scan(flt, None, 1000)
    assert sorted(c.native_id for c in found.contacts) == expected
    assert found.total == len(expected)


async def test_the_vendor_is_asked_with_the_documents_names(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    flt = ContactFilter(
        kinds=frozenset({ContactKind.USER}),
        first_name="Ada",
        last_name="Lovelace",
        external_id=ExternalIdFilter("employeeId", "E1002"),
    )
    [ada] = (await backend.scan(flt, None, 10)).contacts
    assert ada.display_name == "Ada Lovelace"
    # Only the type: the document shows it matching without case (names: it does not say).
    assert parse_qs(sim.state.calls[-1].query) == {"type": ["User"]}


async def test_a_phone_in_another_spelling_is_matched_by_the_gateway(
    backend: GenesysBackend, sim: GenesysSimulator
) -> None:
    wanted = CUSTOMERS[CUSTOMER_INDEX]
    [found] = (await backend.scan(ContactFilter(phone=wanted.phone), None, 10)).contacts
    assert (found.native_id, found.display_name) == (CUSTOMER, wanted.name)
    assert sim.state.calls[-1].query == ""  # the number went nowhere near the vendor's exact match


async def test_a_status_code_on_a_single_record_read_names_the_backend(
    backend: GenesysBackend, sim: GenesysSimulator
) -> None:
    sim.state.inject(Fault("garbage", body=b'{"statusCode": 2, "statusMessage": "Cassandra is down"}', times=1))
    with pytest.raises(errors.GatewayError) as caught:
        await backend.get(CUSTOMER)
    assert caught.value.backend == "routing"
    assert "statusCode 2" in caught.value.message and "Cassandra is down" in caught.value.message


async def test_an_envelope_without_contacts_is_a_bad_response(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    sim.state.inject(Fault("garbage", body=b'{"statusCode": 0}', times=1))
    with pytest.raises(errors.BackendBadResponse, match="'contacts'") as caught:
        await backend.scan(ContactFilter(), None, 5)
    assert caught.value.backend == "routing"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("status", status=401), "BACKEND_UNAUTHORIZED"),
        (Fault("status", status=500), "BACKEND_UNAVAILABLE"),
        (Fault("garbage"), "BACKEND_BAD_RESPONSE"),
        (Fault("hang", seconds=5), "BACKEND_TIMEOUT"),
        (Fault("drop"), "BACKEND_UNAVAILABLE"),
    ],
)
async def test_a_failing_vendor_is_reported_by_code_and_backend(
    sim: GenesysSimulator, fault: Fault, code: str, make_backend: BackendFactory
) -> None:
    backend = make_backend(sim, timeout_s=0.2)
    sim.state.inject(fault)
    try:
        with pytest.raises(errors.GatewayError) as caught:
            await backend.get(CUSTOMER)
    finally:
        await backend.aclose()
    assert (caught.value.code, caught.value.backend) == (code, "routing")


async def test_the_password_never_reaches_an_error(sim: GenesysSimulator, make_backend: BackendFactory) -> None:
    backend = make_backend(sim, password="not-the-password")
    try:
        with pytest.raises(errors.BackendUnauthorized) as caught:
            await backend.get(CUSTOMER)
    finally:
        await backend.aclose()
    assert "not-the-password" not in str(caught.value.extensions()) + caught.value.message


# ---------------------------------------------------------------------------- writes


async def test_bearer_auth_is_sent_on_writes_too(sim: GenesysSimulator, make_backend: BackendFactory) -> None:
    backend = make_backend(sim, username=None, password=None, token=DEMO_TOKEN)
    try:
        created = await backend.create(ContactChanges(values={"display_name": "Front Desk"}))
    finally:
        await backend.aclose()
    post = next(c for c in sim.state.calls if c.method == "POST")
    assert post.headers["authorization"] == f"Bearer {DEMO_TOKEN}"
    assert sim.records[created.native_id] == {"id": created.native_id, "name": "Front Desk", "type": "Custom"}


async def test_a_created_contact_can_be_read_back(backend: GenesysBackend) -> None:
    created = await backend.create(ContactChanges(values={"display_name": " Parts Desk ", "phones": ["2065550123"]}))
    read = await backend.get(created.native_id)
    assert read is not None
    assert (read.kind, read.display_name, read.phones) == (ContactKind.CUSTOM, "Parts Desk", ["2065550123"])


async def test_updating_the_phone_keeps_the_name(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    name = sim.records[CUSTOMER]["name"]
    updated = await backend.update(CUSTOMER, ContactChanges(values={"phones": ["312-555-0199"]}))
    assert (updated.display_name, updated.phones) == (name, ["312-555-0199"])
    assert sim.records[CUSTOMER] == {"id": CUSTOMER, "name": name, "type": "Custom", "phoneNumber": "312-555-0199"}
    read = await backend.get(CUSTOMER)
    assert read is not None and (read.display_name, read.phones) == (name, ["312-555-0199"])


async def test_clearing_the_phone_keeps_the_name(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    name = sim.records[CUSTOMER]["name"]
    updated = await backend.update(CUSTOMER, ContactChanges(values={"phones": []}))
    assert (updated.display_name, updated.phones) == (name, [])
    assert sim.records[CUSTOMER] == {"id": CUSTOMER, "name": name, "type": "Custom"}


async def test_an_update_with_fields_custom_cannot_hold_never_reaches_the_vendor(
    backend: GenesysBackend, sim: GenesysSimulator
) -> None:
    before = dict(sim.records[CUSTOMER])
    changes = ContactChanges(values={"display_name": "X", "emails": ["x@example.com"], "company": "Acme", "title": "T"})
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.update(CUSTOMER, changes)
    assert set(caught.value.fields) == {"emails", "company", "title"}
    assert caught.value.backend == "routing"
    assert sim.state.calls == [] and sim.records[CUSTOMER] == before


async def test_an_update_may_not_clear_the_name(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    before = dict(sim.records[CUSTOMER])
    with pytest.raises(errors.BadUserInput) as caught:
        await backend.update(CUSTOMER, ContactChanges(values={"display_name": None}))
    assert "displayName" in caught.value.fields
    assert writes(sim) == [] and sim.records[CUSTOMER] == before


@pytest.mark.parametrize("target", [USER, QUEUE])
@pytest.mark.parametrize("operation", ["update", "delete"])
async def test_users_and_queues_are_never_written(
    backend: GenesysBackend, sim: GenesysSimulator, target: str, operation: str
) -> None:
    before = dict(sim.records[target])
    with pytest.raises(errors.NotSupported) as caught:
        if operation == "update":
            await backend.update(target, ContactChanges(values={"phones": ["312-555-0100"]}))
        else:
            await backend.delete(target)
    assert caught.value.details["writableKinds"] == ["CUSTOM"]
    assert writes(sim) == [] and sim.records[target] == before


@pytest.mark.parametrize("operation", ["update", "delete"])
async def test_writing_an_unknown_contact_is_not_found_without_a_write(
    backend: GenesysBackend, sim: GenesysSimulator, operation: str
) -> None:
    with pytest.raises(errors.NotFound) as caught:
        if operation == "update":
            await backend.update("no-such-contact", ContactChanges(values={"display_name": "X"}))
        else:
            await backend.delete("no-such-contact")
    assert caught.value.backend == "routing"
    assert writes(sim) == []


async def test_a_failed_put_is_reported_and_never_retried(sim: GenesysSimulator, make_backend: BackendFactory) -> None:
    backend = make_backend(sim, retries=2)
    sim.state.inject(Fault("status", status=503, path_prefix=f"/api/v2/contacts/{CUSTOMER}"))
    try:
        with pytest.raises(errors.BackendUnavailable) as caught:
            await backend.update(CUSTOMER, ContactChanges(values={"display_name": "Renamed"}))
    finally:
        await backend.aclose()
    assert caught.value.backend == "routing"
    assert writes(sim) == ["PUT"]


async def test_a_status_code_on_a_create_answered_200_is_not_a_created_contact(
    backend: GenesysBackend, sim: GenesysSimulator
) -> None:
    count = len(sim.records)
    sim.state.inject(Fault("garbage", body=b'{"statusCode": 2, "statusMessage": "Invalid phoneNumber"}', times=1))
    with pytest.raises(errors.GatewayError) as caught:
        await backend.create(ContactChanges(values={"display_name": "Desk", "phones": ["312-555-0100"]}))
    assert caught.value.backend == "routing" and "Invalid phoneNumber" in caught.value.message
    assert len(sim.records) == count


async def test_a_deleted_contact_is_gone_from_get_and_list(backend: GenesysBackend, sim: GenesysSimulator) -> None:
    await backend.delete(CUSTOMER)
    assert writes(sim) == ["DELETE"]
    assert await backend.get(CUSTOMER) is None
    listed = await backend.scan(ContactFilter(kinds=frozenset({ContactKind.CUSTOM})), None, 100)
    assert CUSTOMER not in {c.native_id for c in listed.contacts}


# ---------------------------------------------------------------------------- through GraphQL


async def test_changing_the_kind_in_a_patch_is_refused_before_any_call(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["routing"])
    answer = await h.run(
        "mutation($id: ID!) { updateContact(id: $id, input: {kind: USER}) { id } }", {"id": f"routing:{CUSTOMER}"}
    )
    assert answer["errors"][0]["extensions"]["code"] == "NOT_SUPPORTED"
    assert answer["errors"][0]["extensions"]["backend"] == "routing"
    assert h.calls("routing") == 0


async def test_an_email_on_create_is_refused_with_the_field_named(make_harness: HarnessFactory) -> None:
    h = make_harness(only=["routing"])
    answer = await h.run(
        'mutation { createContact(backend: "routing",'
        ' input: {displayName: "Desk", emails: ["desk@example.com"], company: "Acme"}) { id } }'
    )
    extensions = answer["errors"][0]["extensions"]
    assert (extensions["code"], extensions["backend"]) == ("BAD_USER_INPUT", "routing")
    assert set(extensions["fields"]) == {"emails", "company"}
    assert h.calls("routing") == 0
