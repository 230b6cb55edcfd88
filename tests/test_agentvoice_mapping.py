"""AgentVoice record -> Contact and the write payloads: every documented field, and odd records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.backends.agentvoice import (
    AgentVoiceSettings,
    patch_needs_record,
    required_problems,
    to_contact,
    to_vendor,
    webhook_body,
    write_problems,
)
from gateway.model import (
    Address,
    ContactChanges,
    ContactKind,
    ExternalId,
)

# The document's own example record (with real UUIDs in place of "uuid").
DOC_RECORD = {
    "id": "3f2c8a9e-1b4d-4c6e-8f0a-2b3c4d5e6f70",
    "user_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
    "first_name": "John",
    "last_name": "Doe",
    "email": "john@example.com",
    "phone": "+1234567890",
    "company": "Example Corp",
    "created_at": "2023-01-01T00:00:00Z",
    "updated_at": "2023-01-02T00:00:00Z",
    "last_task_run": None,
    "total_tasks_run": 0,
    "organization_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "crm_id": "CRM123",
    "crm_source": "salesforce",
}


def test_document_example_maps_every_field() -> None:
    contact = to_contact(DOC_RECORD, "voice")
    assert contact.id == "voice:3f2c8a9e-1b4d-4c6e-8f0a-2b3c4d5e6f70"
    assert (contact.backend, contact.vendor, contact.native_id) == (
        "voice",
        "agentvoice",
        "3f2c8a9e-1b4d-4c6e-8f0a-2b3c4d5e6f70",
    )
    assert contact.kind is ContactKind.PERSON
    assert (contact.first_name, contact.last_name) == ("John", "Doe")
    assert contact.display_name == "John Doe"
    assert contact.emails == ["john@example.com"]
    assert contact.phones == ["+1234567890"]
    assert contact.company == "Example Corp"
    assert contact.created_at == datetime(2023, 1, 1, tzinfo=UTC)
    assert contact.updated_at == datetime(2023, 1, 2, tzinfo=UTC)
    assert contact.external_ids == [ExternalId(system="salesforce", value="CRM123")]


def test_vendor_only_fields_stay_in_raw() -> None:
    contact = to_contact(DOC_RECORD, "voice")
    assert contact.raw == DOC_RECORD
    for field in ("user_id", "organization_id", "last_task_run", "total_tasks_run"):
        assert field in contact.raw
    assert (contact.title, contact.alias, contact.address, contact.disabled) == (None, None, None, None)
    assert contact.merged_into_id is None and contact.identities == []


def test_display_name_is_whichever_names_exist() -> None:
    base = {"id": DOC_RECORD["id"]}
    assert to_contact({**base, "first_name": "Jane"}, "v").display_name == "Jane"
    assert to_contact({**base, "last_name": "Smith"}, "v").display_name == "Smith"
    assert to_contact({**base, "first_name": "Lee", "last_name": "Lee"}, "v").display_name == "Lee Lee"
    assert to_contact({**base, "first_name": "  ", "last_name": None}, "v").display_name is None


def test_record_with_only_an_id_maps_to_an_empty_person() -> None:
    contact = to_contact({"id": DOC_RECORD["id"]}, "voice")
    assert contact.kind is ContactKind.PERSON
    assert (contact.display_name, contact.first_name, contact.company) == (None, None, None)
    assert contact.emails == [] and contact.phones == [] and contact.external_ids == []
    assert contact.created_at is None and contact.updated_at is None


def test_webhook_contact_without_task_counters_maps() -> None:
    hooked = {k: v for k, v in DOC_RECORD.items() if k not in ("last_task_run", "total_tasks_run")}
    contact = to_contact(hooked, "voice")
    assert contact.display_name == "John Doe" and contact.external_ids


def test_odd_record_takes_what_makes_sense() -> None:
    odd = {
        "id": DOC_RECORD["id"],
        "first_name": ["Ann", "Anna"],
        "last_name": {"value": "Lee"},
        "email": ["a@example.com", "", "a@example.com", "b@example.com"],
        "phone": 4155550100,
        "company": True,
        "created_at": "yesterday",
        "updated_at": 1700000000,
        "total_tasks_run": "many",
        "crm_id": 51234,
        "crm_source": ["hubspot"],
    }
    contact = to_contact(odd, "voice")
    assert contact.first_name == "Ann" and contact.last_name is None
    assert contact.display_name == "Ann"
    assert contact.emails == ["a@example.com", "b@example.com"]
    assert contact.phones == ["4155550100"]
    assert contact.company is None
    assert contact.created_at is None and contact.updated_at is None
    assert contact.external_ids == [ExternalId("hubspot", "51234")]
    assert contact.raw == odd


def test_crm_id_without_source_is_no_external_id() -> None:
    contact = to_contact({"id": DOC_RECORD["id"], "crm_id": "CRM9", "crm_source": None}, "voice")
    assert contact.external_ids == []
    assert contact.raw["crm_id"] == "CRM9"


def test_timestamp_without_zone_is_utc() -> None:
    contact = to_contact({"id": DOC_RECORD["id"], "created_at": "2024-05-01T10:00:00.123"}, "voice")
    assert contact.created_at == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)


# ---------------------------------------------------------------------------- filters


# ---------------------------------------------------------------------------- writes


def test_to_vendor_sends_only_the_fields_given() -> None:
    changes = ContactChanges({"last_name": "Smith", "company": None})
    assert to_vendor(changes, "US") == {"last_name": "Smith", "company": None}


def test_to_vendor_maps_every_writable_field() -> None:
    changes = ContactChanges(
        {
            "first_name": " Jane ",
            "last_name": "Smith",
            "emails": ["jane@example.com"],
            "phones": ["(415) 555-0100"],
            "company": "New Corp",
            "external_ids": [ExternalId("hubspot", "CRM456")],
            "kind": ContactKind.PERSON,
        }
    )
    assert to_vendor(changes, "US") == {
        "first_name": "Jane",
        "last_name": "Smith",
        "email": "jane@example.com",
        "phone": "+14155550100",
        "company": "New Corp",
        "crm_source": "hubspot",
        "crm_id": "CRM456",
    }


def test_empty_lists_clear_email_phone_and_crm_id() -> None:
    changes = ContactChanges({"emails": [], "phones": None, "external_ids": []})
    assert to_vendor(changes, "US") == {"email": None, "phone": None, "crm_source": None, "crm_id": None}


def test_fields_agentvoice_cannot_store_are_listed_together() -> None:
    changes = ContactChanges(
        {
            "display_name": "Jane Smith",
            "title": "CTO",
            "alias": "JS",
            "address": Address(city="Oslo"),
            "kind": ContactKind.QUEUE,
            "emails": ["a@example.com", "b@example.com"],
            "phones": ["+14155550100", "+14155550101"],
            "external_ids": [ExternalId("hubspot", "1"), ExternalId("salesforce", "2")],
        }
    )
    problems = write_problems(changes, "voice", "US")
    assert set(problems) == {
        "displayName",
        "title",
        "alias",
        "address",
        "kind",
        "emails",
        "phones",
        "externalIds",
    }
    assert "first_name" in problems["displayName"]
    assert "(email)" in problems["emails"] and "(phone)" in problems["phones"]
    assert "crm_source/crm_id" in problems["externalIds"]


def test_cleared_unsupported_fields_and_person_kind_are_fine() -> None:
    changes = ContactChanges({"display_name": None, "title": "", "kind": ContactKind.PERSON, "first_name": "A"})
    assert write_problems(changes, "voice", "US") == {}


def test_malformed_email_phone_and_blank_crm_parts_are_problems() -> None:
    changes = ContactChanges({"emails": ["nope"], "phones": ["12"], "external_ids": [ExternalId(" ", "")]})
    assert set(write_problems(changes, "voice", "US")) == {
        "emails.0",
        "phones.0",
        "externalIds.0.system",
        "externalIds.0.value",
    }


def test_first_name_is_required_unless_crm_id_and_source() -> None:
    assert set(required_problems({"last_name": "Smith"})) == {"firstName"}
    assert required_problems({"crm_id": "C1", "crm_source": "hubspot"}) == {}
    assert required_problems({"first_name": "Jane"}) == {}
    assert set(required_problems({"first_name": "Jane", "crm_id": "C1"})) == {"externalIds"}
    assert set(required_problems({"crm_id": "C1", "crm_source": ""})) == {"externalIds", "firstName"}


def test_patch_needs_the_stored_record_only_when_it_clears_one_side_alone() -> None:
    assert patch_needs_record({"first_name": None})
    assert patch_needs_record({"crm_id": None, "crm_source": None})
    assert not patch_needs_record({"first_name": None, "crm_id": "C1", "crm_source": "hubspot"})
    assert not patch_needs_record({"crm_id": None, "crm_source": None, "first_name": "Jane"})
    assert not patch_needs_record({"last_name": None, "first_name": "Jane"})


def test_webhook_body_uses_canonical_names_and_omits_a_null_first_name() -> None:
    changes = ContactChanges(
        {"first_name": None, "last_name": "Doe", "emails": ["john@example.com"], "phones": ["+1 415 555 0100"]}
    )
    assert webhook_body("salesforce", "CRM123", changes, "US") == {
        "source": "salesforce",
        "data": {"crm_id": "CRM123", "last_name": "Doe", "email": "john@example.com", "phone": "+14155550100"},
    }


def test_settings_need_api_key_and_organization_id() -> None:
    with pytest.raises(ValueError, match="organization_id"):
        AgentVoiceSettings.model_validate({"vendor": "agentvoice", "url": "https://a.example/api", "api_key": "k"})
    with pytest.raises(ValueError, match="api_key"):
        AgentVoiceSettings.model_validate(
            {"vendor": "agentvoice", "url": "https://a.example/api", "api_key": " ", "organization_id": "o"}
        )
    settings = AgentVoiceSettings.model_validate(
        {"vendor": "agentvoice", "url": "https://a.example/api", "api_key": "k-1", "organization_id": "org"}
    )
    assert settings.secrets() == ["k-1"]
