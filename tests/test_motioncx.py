"""MotionCX: the mapping of its records (odd ones included), and the backend against its simulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import ValidationError

from gateway import errors
from gateway.backends.base import HttpBackend
from gateway.backends.motioncx import MotionCXBackend, MotionCXSettings, pushdown, to_contact
from gateway.model import Address, ContactChanges, ContactFilter, ContactKind, ExternalId, ExternalIdFilter
from gateway.simulators.common import Fault
from gateway.simulators.motioncx import DEMO_TENANT_ID, DEMO_TOKEN, HELD_CUSTOMERS, MotionCXSimulator
from gateway.simulators.people import CUSTOMERS
from tests.conftest import BackendFactory

pytestmark = pytest.mark.vendor("motioncx", retries=0)
ROOT = "http://motioncx.test"
# The document's example, malformed as published: `displayName` holds an array of records.
DOCUMENT_EXAMPLE: dict[str, Any] = {
    "id": 13722,
    "tenantId": 2,
    "relatedUserId": None,
    "createdAt": "2022-07-11T15:13:42.2566667",
    "email": "test.agent@example.com",
    "firstName": "Test",
    "lastName": "Agent",
    "address1": None,
    "address2": None,
    "city": None,
    "state": None,
    "postCode": None,
    "phone": None,
    "name": "Test Agent",
    "displayName": [{"id": 13722, "name": "Test Agent", "displayName": "Test Agent", "isAgent": True}],
    "isAgent": True,
    "organization": "",
    "title": "",
    "alias": "",
    "externalId": None,
    "isDisabled": False,
}


# ---------------------------------------------------------------------------- mapping


def test_the_documents_own_malformed_example_maps_sensibly() -> None:
    contact = to_contact(DOCUMENT_EXAMPLE, "agents")
    assert contact.id == "agents:13722"
    assert contact.display_name == "Test Agent"
    assert contact.kind is ContactKind.AGENT
    assert (contact.first_name, contact.last_name, contact.emails) == ("Test", "Agent", ["test.agent@example.com"])
    assert contact.company is None and contact.title is None and contact.alias is None  # "" is nothing
    assert contact.address is None and contact.phones == [] and contact.external_ids == []
    assert contact.disabled is False
    assert contact.created_at == datetime(2022, 7, 11, 15, 13, 42, 256666, tzinfo=UTC)
    assert contact.raw == DOCUMENT_EXAMPLE


def test_every_field_of_a_full_record_is_mapped() -> None:
    record = {
        **DOCUMENT_EXAMPLE,
        "id": 7,
        "displayName": "Dee Customer",
        "isAgent": False,
        "isDisabled": True,
        "phone": "415-555-0101",
        "organization": "Acme Corp",
        "title": "Buyer",
        "alias": "DC",
        "externalId": "EXT-1",
        "address1": "1 Main St",
        "address2": "Suite 4",
        "city": "Austin",
        "state": "TX",
        "postCode": "73301",
    }
    contact = to_contact(record, "agents")
    assert contact.kind is ContactKind.PERSON and contact.disabled is True
    assert contact.display_name == "Dee Customer" and contact.phones == ["415-555-0101"]
    assert (contact.company, contact.title, contact.alias) == ("Acme Corp", "Buyer", "DC")
    assert contact.external_ids == [ExternalId("external", "EXT-1")]
    assert contact.address == Address("1 Main St", "Suite 4", "Austin", "TX", "73301")


@pytest.mark.parametrize(
    ("odd", "name"),
    [
        ({"displayName": [], "name": None}, "Test Agent"),
        ({"displayName": [None, 3, "First Text"]}, "First Text"),
        ({"displayName": {"nested": True}, "name": "From Name"}, "From Name"),
        ({"displayName": None, "name": ["x"], "firstName": None, "lastName": "Only"}, "Only"),
        ({"displayName": 42}, "42"),
    ],
)
def test_odd_display_names_never_crash(odd: dict[str, Any], name: str) -> None:
    assert to_contact({**DOCUMENT_EXAMPLE, **odd}, "agents").display_name == name


def test_odd_types_become_nothing_and_stay_in_raw() -> None:
    record = {"id": 5, "isAgent": "maybe", "isDisabled": "1", "createdAt": "yesterday", "email": 12, "phone": {}}
    contact = to_contact(record, "agents")
    assert contact.kind is ContactKind.PERSON and contact.disabled is True
    assert contact.created_at is None and contact.emails == ["12"] and contact.phones == []
    assert contact.raw == record


def test_pushdown_uses_the_documents_parameter_names() -> None:
    flt = ContactFilter(
        email=" Ava@Acme.Example ",
        first_name="ava",
        last_name="Nguyen",
        company="Acme Corp",
        kinds=frozenset({ContactKind.AGENT}),
        external_id=ExternalIdFilter(None, "EXT-1"),
        phone="415 555 0101",
        search="ava",
        disabled=False,
    )
    # Text is never sent (the document does not say it matches without case); flags are.
    assert pushdown(flt) == {
        "IsAgent": "true",
        "IsDidabled": "false",  # sic: the document's spelling
    }
    assert pushdown(ContactFilter(kinds=frozenset({ContactKind.PERSON, ContactKind.AGENT}))) == {}
    assert pushdown(ContactFilter(external_id=ExternalIdFilter("salesforce", "EXT-1"))) == {}


def test_settings_need_a_token_unless_a_header_carries_one() -> None:
    with pytest.raises(ValidationError, match="token"):
        MotionCXSettings.model_validate({"vendor": "motioncx", "url": ROOT, "tenant_id": 2})
    own = MotionCXSettings.model_validate(
        {"vendor": "motioncx", "url": ROOT, "tenant_id": 2, "headers": {"Authorization": "apikey other"}}
    )
    assert own.token is None


# ---------------------------------------------------------------------------- against the simulator


async def failure(backend: HttpBackend) -> errors.GatewayError:
    """The coded error a list through `backend` fails with (the backend is closed after)."""
    try:
        with pytest.raises(errors.GatewayError) as caught:
            await backend.scan(ContactFilter(), None, 10)
    finally:
        await backend.aclose()
    return caught.value


def sent(sim: MotionCXSimulator) -> dict[str, list[str]]:
    return parse_qs(sim.state.calls[-1].query)


async def test_list_sends_the_tenant_and_the_apikey_header(backend: MotionCXBackend, sim: MotionCXSimulator) -> None:
    result = await backend.scan(ContactFilter(), None, 1000)
    assert len(result.contacts) == len(sim.records) == result.total
    [call] = sim.state.calls
    assert call.path == "/crm/external/v1/contacts"
    assert call.headers["authorization"] == f"apikey {DEMO_TOKEN}"
    assert sent(sim) == {"TenantID": [str(DEMO_TENANT_ID)]}
    kinds = {c.kind for c in result.contacts}
    assert kinds == {ContactKind.AGENT, ContactKind.PERSON}
    assert any(c.disabled for c in result.contacts)


async def test_get_uses_the_id_filter(backend: MotionCXBackend, sim: MotionCXSimulator) -> None:
    record = sim.records[12]
    found = await backend.get(str(record["id"]))
    assert found is not None and found.native_id == str(record["id"])
    assert sent(sim) == {"TenantID": ["2"], "ID": [str(record["id"])]}
    assert await backend.get("999999") is None


async def test_a_non_integer_id_is_refused_before_any_call(backend: MotionCXBackend, sim: MotionCXSimulator) -> None:
    with pytest.raises(errors.BadUserInput, match="not a valid motioncx id"):
        await backend.get("abc-1")
    assert sim.state.calls == []


async def test_filters_go_to_the_vendor_and_the_answer_matches_the_gateways_rule(
    backend: MotionCXBackend, sim: MotionCXSimulator
) -> None:
    person = CUSTOMERS[HELD_CUSTOMERS[1]]  # written in upper case by the simulator
    result = await backend.scan(
        ContactFilter(email=person.email.upper(), kinds=frozenset({ContactKind.PERSON})), None, 10
    )
    assert [c.display_name for c in result.contacts] == [person.name]
    assert sent(sim) == {"TenantID": ["2"], "IsAgent": ["false"]}
    agents = await backend.scan(ContactFilter(kinds=frozenset({ContactKind.AGENT})), None, 100)
    assert agents.contacts and all(c.kind is ContactKind.AGENT for c in agents.contacts)
    assert sent(sim)["IsAgent"] == ["true"]


async def test_phone_is_filtered_by_the_gateway_whatever_the_spelling(
    backend: MotionCXBackend, sim: MotionCXSimulator
) -> None:
    person = CUSTOMERS[HELD_CUSTOMERS[2]]
    result = await backend.scan(ContactFilter(phone=person.phone), None, 10)
    assert [c.display_name for c in result.contacts] == [person.name]
    assert "Phone" not in sent(sim)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"token": "wrong-token"}, "BACKEND_UNAUTHORIZED"),
        ({"tenant_id": 3}, "FORBIDDEN"),
    ],
)
async def test_auth_refusals_are_coded_and_name_the_backend(
    sim: MotionCXSimulator, change: dict[str, Any], code: str, make_backend: BackendFactory
) -> None:
    caught = await failure(make_backend(sim, **change))
    assert caught.code == code and caught.backend == "agents"
    assert "wrong-token" not in caught.message


async def test_the_simulator_is_strict_about_parameter_names(sim: MotionCXSimulator) -> None:
    headers = {"authorization": f"apikey {DEMO_TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url=ROOT) as client:
        wrong = await client.get(
            "/crm/external/v1/contacts", params={"TenantID": 2, "IsDisabled": "true"}, headers=headers
        )
        right = await client.get(
            "/crm/external/v1/contacts", params={"TenantID": 2, "IsDidabled": "true"}, headers=headers
        )
    assert wrong.status_code == 400 and "IsDisabled" in wrong.json()["message"]
    assert right.status_code == 200 and right.json() and all(r["isDisabled"] for r in right.json())


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("status", status=500), "BACKEND_UNAVAILABLE"),
        (Fault("garbage", body=b"<html>oops</html>"), "BACKEND_BAD_RESPONSE"),
        (Fault("hang", seconds=5), "BACKEND_TIMEOUT"),
    ],
)
async def test_vendor_failures_are_coded(
    sim: MotionCXSimulator, fault: Fault, code: str, make_backend: BackendFactory
) -> None:
    sim.state.inject(fault)
    caught = await failure(make_backend(sim, timeout_s=0.3))
    assert caught.code == code and caught.backend == "agents"


async def test_an_object_instead_of_the_array_is_a_bad_response(
    sim: MotionCXSimulator, make_backend: BackendFactory
) -> None:
    backend = make_backend(sim)
    sim.state.inject(Fault("garbage", body=b'{"contacts": []}'))
    try:
        with pytest.raises(errors.BackendBadResponse):
            await backend.scan(ContactFilter(), None, 10)
    finally:
        await backend.aclose()


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
async def test_writes_are_not_supported_and_make_no_call(
    backend: MotionCXBackend, sim: MotionCXSimulator, operation: str
) -> None:
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "create": lambda: backend.create(ContactChanges(values={"first_name": "New"})),
        "update": lambda: backend.update("13722", ContactChanges(values={"first_name": "New"})),
        "delete": lambda: backend.delete("13722"),
    }
    with pytest.raises(errors.NotSupported, match="read-only") as caught:
        await calls[operation]()
    assert caught.value.backend == "agents"
    assert sim.state.calls == []


async def test_disabled_agents_are_asked_for_with_the_documents_spelling(
    backend: MotionCXBackend, sim: MotionCXSimulator
) -> None:
    result = await backend.scan(ContactFilter(disabled=True), None, 100)
    assert result.contacts and all(c.disabled for c in result.contacts)
    assert len(result.contacts) == sum(1 for r in sim.records if r["isDisabled"])
    assert sent(sim)["IsDidabled"] == ["true"]
