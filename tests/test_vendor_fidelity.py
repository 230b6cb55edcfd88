"""Vendor fidelity (issue 17): a pushed-down filter never drops a record the gateway keeps, and a
write never loses or invents a field. Each test runs against the vendor's strict simulator."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from gateway import errors
from gateway.backends.agentvoice import AgentVoiceBackend, AgentVoiceSettings
from gateway.backends.comm100 import Comm100Backend, Comm100Settings, apply_changes
from gateway.backends.genesys import GenesysBackend, GenesysSettings
from gateway.backends.motioncx import MotionCXBackend, MotionCXSettings
from gateway.backends.registry import settings_models
from gateway.config import ConfigError, parse_config
from gateway.model import ContactChanges, ContactFilter
from gateway.simulators import agentvoice, comm100, genesys, motioncx
from gateway.simulators.common import SimulatorTransport
from tests.conftest import Harness
from tests.test_comm100_mapping import DOC_RECORD

COMM100_URL = "http://comm100.test" + comm100.PREFIX
SAMPLE_ID = str(DOC_RECORD["id"])


def comm100_doc_sample() -> dict[str, Any]:
    """The document's own sample, not merged (its merge target does not exist here)."""
    return {**copy.deepcopy(DOC_RECORD), "mergeToContactId": None}


@pytest.fixture
def comm100_sim() -> comm100.Comm100Simulator:
    return comm100.Comm100Simulator(records=[comm100_doc_sample(), *comm100.sample_records()[:3]])


@pytest.fixture
async def comm100_backend(comm100_sim: comm100.Comm100Simulator) -> AsyncIterator[Comm100Backend]:
    settings = Comm100Settings.model_validate({**comm100.demo_backend_settings("http://comm100.test"), "retries": 0})
    made = Comm100Backend("support", settings, transport=SimulatorTransport(app=comm100_sim.app))
    yield made
    await made.aclose()


@pytest.fixture
def support(make_custom: Callable[..., Harness], comm100_sim: comm100.Comm100Simulator) -> Harness:
    return make_custom({"support": (comm100_sim, comm100.demo_backend_settings("http://comm100.test"))})


UPDATE = """mutation($id: ID!, $input: ContactPatch!) {
  updateContact(id: $id, input: $input) { emails address { line1 city region country } }
}"""


# ---------------------------------------------------------------------------- Comm100


async def test_an_email_kept_only_in_the_mailing_address_is_found_by_the_email_filter(
    comm100_backend: Comm100Backend,
) -> None:
    result = await comm100_backend.scan(ContactFilter(email="Andy@Comm100.com"), None, 10)
    assert [c.native_id for c in result.contacts] == [SAMPLE_ID]


async def test_an_address_patch_changes_only_the_parts_given_and_keeps_the_mailing_address_email(
    support: Harness, comm100_sim: comm100.Comm100Simulator
) -> None:
    answer = await support.run(UPDATE, {"id": f"support:{SAMPLE_ID}", "input": {"address": {"city": "Oslo"}}})
    assert "errors" not in answer, answer
    assert answer["data"]["updateContact"] == {
        "emails": ["andy@comm100.com"],
        "address": {"line1": None, "city": "Oslo", "region": "Seattle", "country": "NE"},
    }
    stored = comm100_sim.records[SAMPLE_ID]
    assert (stored["mailingAddress"], stored["stateOrProvince"], stored["postalOrZipCode"]) == (
        "andy@comm100.com",
        "Seattle",
        "54728",
    )


async def test_a_null_address_part_clears_only_that_part(
    support: Harness, comm100_sim: comm100.Comm100Simulator
) -> None:
    answer = await support.run(UPDATE, {"id": f"support:{SAMPLE_ID}", "input": {"address": {"region": None}}})
    assert answer["data"]["updateContact"]["address"] == {
        "line1": None,
        "city": "NewYork",
        "region": None,
        "country": "NE",
    }


async def test_an_address_line_written_over_a_mailing_address_email_keeps_the_email(
    support: Harness, comm100_sim: comm100.Comm100Simulator
) -> None:
    answer = await support.run(UPDATE, {"id": f"support:{SAMPLE_ID}", "input": {"address": {"line1": "9 Elm St"}}})
    assert answer["data"]["updateContact"]["emails"] == ["andy@comm100.com"]
    assert answer["data"]["updateContact"]["address"]["line1"] == "9 Elm St"
    assert comm100_sim.records[SAMPLE_ID]["mailingAddress"] == "9 Elm St"


@pytest.mark.parametrize("which", ["document sample", "email identities"])
async def test_an_empty_email_list_clears_every_email(
    support: Harness, comm100_sim: comm100.Comm100Simulator, which: str
) -> None:
    native = SAMPLE_ID if which == "document sample" else comm100.guid("customer-0")
    answer = await support.run(UPDATE, {"id": f"support:{native}", "input": {"emails": []}})
    assert answer["data"]["updateContact"]["emails"] == []
    after = await support.run("query($id: ID!) { contact(id: $id) { emails } }", {"id": f"support:{native}"})
    assert after["data"]["contact"]["emails"] == []


async def test_new_emails_replace_a_mailing_address_email(support: Harness) -> None:
    answer = await support.run(UPDATE, {"id": f"support:{SAMPLE_ID}", "input": {"emails": ["new@example.com"]}})
    assert answer["data"]["updateContact"]["emails"] == ["new@example.com"]


async def test_a_put_keeps_the_creation_time_as_read(
    comm100_backend: Comm100Backend, comm100_sim: comm100.Comm100Simulator
) -> None:
    before = comm100_sim.records[SAMPLE_ID]["createTime"]
    updated = await comm100_backend.update(SAMPLE_ID, ContactChanges({"title": "Director"}))
    assert comm100_sim.records[SAMPLE_ID]["createTime"] == before
    assert updated.created_at is not None and updated.created_at.year == 2021


def test_the_put_body_carries_the_times_as_read() -> None:
    body = apply_changes(comm100_doc_sample(), ContactChanges({"title": "Director"}))
    assert (body["createTime"], body["lastUpdatedTime"]) == (DOC_RECORD["createTime"], DOC_RECORD["lastUpdatedTime"])
    assert "id" not in body


# ---------------------------------------------------------------------------- Genesys

GWS_ROOT = "http://gws.test"
FREE_IDS = ["Some unique id", "a/b", "what?#now", "100%", "Ünïcode"]


def genesys_backend(sim: genesys.GenesysSimulator) -> GenesysBackend:
    raw = {**genesys.demo_backend_settings(GWS_ROOT), "retries": 0}
    return GenesysBackend("routing", GenesysSettings.model_validate(raw), transport=SimulatorTransport(app=sim.app))


@pytest.fixture
async def gws() -> AsyncIterator[tuple[GenesysBackend, genesys.GenesysSimulator]]:
    custom = [
        {"id": i, "name": f"Desk {n}", "type": "Custom", "phoneNumber": "312-555-0100"} for n, i in enumerate(FREE_IDS)
    ]
    sim = genesys.GenesysSimulator(records=[*genesys.sample_records(), *custom])
    made = genesys_backend(sim)
    yield made, sim
    await made.aclose()


async def test_a_genesys_put_sends_only_the_documented_writable_fields(
    gws: tuple[GenesysBackend, genesys.GenesysSimulator],
) -> None:
    backend, sim = gws
    updated = await backend.update("Some unique id", ContactChanges({"display_name": "Front Desk"}))
    assert updated.display_name == "Front Desk"
    assert sim.records["Some unique id"] == {
        "id": "Some unique id",
        "name": "Front Desk",
        "type": "Custom",
        "phoneNumber": "312-555-0100",
    }


async def test_a_genesys_create_without_a_phone_sends_no_null(
    gws: tuple[GenesysBackend, genesys.GenesysSimulator],
) -> None:
    backend, sim = gws
    created = await backend.create(ContactChanges({"display_name": "Parts Desk"}))
    assert created.phones == []
    assert sim.records[created.native_id] == {"id": created.native_id, "name": "Parts Desk", "type": "Custom"}


@pytest.mark.parametrize("native", FREE_IDS)
async def test_genesys_ids_are_free_strings_read_and_written_percent_encoded(
    gws: tuple[GenesysBackend, genesys.GenesysSimulator], native: str
) -> None:
    backend, sim = gws
    read = await backend.get(native)
    assert read is not None and read.native_id == native
    updated = await backend.update(native, ContactChanges({"phones": ["312-555-0199"]}))
    assert updated.phones == ["312-555-0199"] and sim.records[native]["phoneNumber"] == "312-555-0199"
    await backend.delete(native)
    assert native not in sim.records


@pytest.mark.parametrize("native", [".", ".."])
async def test_dot_segments_are_refused_as_ids_before_any_call(
    gws: tuple[GenesysBackend, genesys.GenesysSimulator], native: str
) -> None:
    backend, sim = gws
    with pytest.raises(errors.BadUserInput):
        await backend.get(native)
    with pytest.raises(errors.BadUserInput):
        await backend.delete(native)
    with pytest.raises(errors.BadUserInput):
        await backend.update(native, ContactChanges({"display_name": "X"}))
    assert sim.state.calls == []


async def test_a_free_string_genesys_id_works_as_a_global_id(make_custom: Callable[..., Harness]) -> None:
    sim = genesys.GenesysSimulator(records=[{"id": "Some unique id", "name": "Desk", "type": "Custom"}])
    harness = make_custom({"routing": (sim, genesys.demo_backend_settings(GWS_ROOT))})
    answer = await harness.run('{ contact(id: "routing:Some unique id") { nativeId displayName } }')
    assert answer == {"data": {"contact": {"nativeId": "Some unique id", "displayName": "Desk"}}}


# ---------------------------------------------------------------------------- AgentVoice


async def test_a_crm_upsert_of_an_existing_contact_keeps_its_first_name() -> None:
    sim = agentvoice.AgentVoiceSimulator()
    stored = dict(
        next(r for r in sim.records.values() if r["crm_source"] == "salesforce" and r["first_name"] != "Unknown")
    )
    settings = AgentVoiceSettings.model_validate(agentvoice.demo_backend_settings("http://agentvoice.test"))
    backend = AgentVoiceBackend("voice", settings, transport=httpx.ASGITransport(app=sim.app))
    try:
        contact = await backend.upsert_from_crm("salesforce", stored["crm_id"], ContactChanges({"company": "Moved"}))
    finally:
        await backend.aclose()
    assert (contact.first_name, contact.company) == (stored["first_name"], "Moved")
    assert sim.records[stored["id"]]["first_name"] == stored["first_name"]


async def test_the_webhook_defaults_a_missing_first_name_on_update_too() -> None:
    """The document's default ("Unknown" when not provided) is not limited to creation."""
    sim = agentvoice.AgentVoiceSimulator()
    stored = next(r for r in sim.records.values() if r["crm_source"] == "salesforce" and r["first_name"] != "Unknown")
    headers = {"x-api-key": agentvoice.DEMO_API_KEY, "x-organization-id": agentvoice.DEMO_ORGANIZATION_ID}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://av.test") as client:
        answer = await client.post(
            "/api/webhook/crm",
            json={"source": "salesforce", "data": {"crm_id": stored["crm_id"], "company": "Moved"}},
            headers=headers,
        )
    assert answer.status_code == 200
    assert answer.json()["contact"]["first_name"] == "Unknown"


# ---------------------------------------------------------------------------- assumptions an operator can change


@pytest.mark.parametrize(("configured", "works"), [(None, False), ("Token", True)])
async def test_the_motioncx_auth_scheme_is_an_assumption_the_config_can_change(
    configured: str | None, works: bool
) -> None:
    sim = motioncx.MotionCXSimulator(auth_scheme="Token")
    extra = {} if configured is None else {"auth_scheme": configured}
    settings = MotionCXSettings.model_validate({**motioncx.demo_backend_settings("http://mcx.test"), **extra})
    backend = MotionCXBackend("agents", settings, transport=SimulatorTransport(app=sim.app))
    try:
        if works:
            assert (await backend.scan(ContactFilter(), None, 5)).contacts
        else:
            with pytest.raises(errors.BackendUnauthorized):
                await backend.scan(ContactFilter(), None, 5)
    finally:
        await backend.aclose()
    assert sim.state.calls[-1].headers["authorization"].startswith(f"{configured or 'apikey'} ")


def test_a_bad_auth_scheme_or_page_size_is_refused_at_start_with_the_key_path() -> None:
    backends = {
        "agents": {**motioncx.demo_backend_settings("http://mcx.test"), "auth_scheme": "two words"},
        "support": {**comm100.demo_backend_settings("http://comm100.test"), "page_size": 101},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(orjson.dumps({"backends": backends}).decode(), settings_models(), env={})
    problems = "\n".join(caught.value.problems)
    assert "backends.agents.auth_scheme" in problems and "backends.support.page_size" in problems
