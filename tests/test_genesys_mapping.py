"""Genesys GWS pure mapping: records of every type and odd field types, the filters pushed down,
the whole Custom record a write sends, and the settings. No I/O (tests/test_genesys.py has the
document's example; this adds what it leaves out)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.backends.genesys import GenesysSettings, custom_body, pushdown, to_contact, write_problems
from gateway.filtering import matches
from gateway.model import ContactChanges, ContactFilter, ContactKind, ExternalId, ExternalIdFilter

USER = {
    "id": "8e1d6c0a",
    "name": "Grace Hopper",
    "type": "User",
    "phoneNumber": "415-555-8000",
    "userName": "ghopper",
    "firstName": "Grace",
    "lastName": "Hopper",
    "employeeId": "E1000",
}
QUEUE = {"id": "q-1", "name": "Support Queue", "type": "Queue", "phoneNumber": "+14155550900"}


# ---------------------------------------------------------------------------- records


def test_every_user_attribute_lands_in_its_field() -> None:
    contact = to_contact(USER, "routing")
    assert (contact.id, contact.backend, contact.vendor, contact.native_id) == (
        "routing:8e1d6c0a",
        "routing",
        "genesys",
        "8e1d6c0a",
    )
    assert contact.kind is ContactKind.USER
    assert (contact.display_name, contact.first_name, contact.last_name) == ("Grace Hopper", "Grace", "Hopper")
    assert contact.phones == ["415-555-8000"]
    assert contact.alias == "ghopper"
    assert contact.external_ids == [ExternalId("employeeId", "E1000")]
    # GWS contacts hold none of these.
    assert (contact.emails, contact.company, contact.title, contact.address) == ([], None, None, None)
    assert (contact.disabled, contact.created_at, contact.merged_into_native_id) == (None, None, None)
    assert contact.raw == USER


def test_a_queue_has_a_name_and_a_number_only() -> None:
    contact = to_contact(QUEUE, "routing")
    assert contact.kind is ContactKind.QUEUE
    assert (contact.display_name, contact.phones) == ("Support Queue", ["+14155550900"])
    assert (contact.first_name, contact.last_name, contact.alias, contact.external_ids) == (None, None, None, [])


@pytest.mark.parametrize(
    ("vendor_type", "kind"),
    [
        ("Custom", ContactKind.CUSTOM),
        ("custom", ContactKind.CUSTOM),
        ("QUEUE", ContactKind.QUEUE),
        (" User ", ContactKind.USER),
    ],
)
def test_type_is_read_without_case_or_padding(vendor_type: str, kind: ContactKind) -> None:
    assert to_contact({**QUEUE, "type": vendor_type}, "routing").kind is kind


def test_attributes_the_document_does_not_list_are_kept_in_raw() -> None:
    record = {**USER, "extension": "8000", "skills": [{"name": "billing", "level": 3}]}
    contact = to_contact(record, "routing")
    assert contact.raw["extension"] == "8000"
    assert contact.raw["skills"] == [{"name": "billing", "level": 3}]


def test_numbers_where_text_was_expected_still_read_as_text() -> None:
    record = {"id": 1042, "name": "Night Line", "type": "Custom", "phoneNumber": 4155550123, "employeeId": 77}
    contact = to_contact(record, "routing")
    assert (contact.native_id, contact.id) == ("1042", "routing:1042")
    assert contact.phones == ["4155550123"]
    assert contact.external_ids == [ExternalId("employeeId", "77")]


@pytest.mark.parametrize(
    "odd",
    [
        {"firstName": ["Grace"], "lastName": {"value": "Hopper"}},
        {"firstName": True, "lastName": None},
        {"userName": 3.5, "employeeId": ""},
        {"phoneNumber": ["415-555-8000"], "name": {"en": "Grace"}},
    ],
)
def test_odd_attribute_types_never_crash_the_mapping(odd: dict[str, Any]) -> None:
    contact = to_contact({**USER, **odd}, "routing")
    assert contact.native_id == USER["id"]
    assert contact.raw == {**USER, **odd}


def test_a_user_without_a_name_is_shown_by_first_and_last_name() -> None:
    assert to_contact({**USER, "name": "   "}, "routing").display_name == "Grace Hopper"
    assert to_contact({**USER, "name": None, "lastName": None}, "routing").display_name == "Grace"
    nameless = {"id": "c-9", "type": "Custom", "phoneNumber": "415-555-0101"}
    assert to_contact(nameless, "routing").display_name is None


def test_blank_fields_are_absent_not_empty_strings() -> None:
    record = {"id": "c-1", "name": "Hotline", "type": "Custom", "phoneNumber": "  ", "employeeId": " "}
    contact = to_contact(record, "routing")
    assert (contact.phones, contact.external_ids, contact.alias) == ([], [], None)


def test_a_search_finds_a_user_by_user_name() -> None:
    assert matches(to_contact(USER, "routing"), ContactFilter(search="ghop"))


def test_a_phone_filter_finds_the_number_in_any_spelling() -> None:
    contact = to_contact(USER, "routing")
    assert matches(contact, ContactFilter(phone="(415) 555-8000"))
    assert matches(contact, ContactFilter(phone="+1 415 555 8000"))


# ---------------------------------------------------------------------------- pushdown


@pytest.mark.parametrize(
    ("flt", "params"),
    [
        (ContactFilter(kinds=frozenset({ContactKind.CUSTOM})), {"type": "Custom"}),
        (ContactFilter(kinds=frozenset({ContactKind.USER})), {"type": "User"}),
        # The document does not say names or employee ids match without case: not sent.
        (ContactFilter(last_name="Hopper"), {}),
        (ContactFilter(external_id=ExternalIdFilter(None, "E1000")), {}),
        (
            ContactFilter(external_id=ExternalIdFilter("employeeid", "E1000"), kinds=frozenset({ContactKind.USER})),
            {"type": "User"},
        ),
    ],
)
def test_pushdown_uses_the_documents_attribute_names(flt: ContactFilter, params: dict[str, str]) -> None:
    assert pushdown(flt) == params


@pytest.mark.parametrize(
    "flt",
    [
        # Phone numbers are free text at the vendor: "415-555-8000" would not match "(415) 555-8000".
        ContactFilter(phone="(415) 555-8000"),
        # A substring search has no vendor equivalent (the vendor matches whole values).
        ContactFilter(search="hop"),
        # PERSON is the gateway's kind for a record of unknown type: no vendor type selects it.
        ContactFilter(kinds=frozenset({ContactKind.PERSON, ContactKind.QUEUE})),
        ContactFilter(kinds=frozenset({ContactKind.CUSTOM, ContactKind.USER})),
        ContactFilter(first_name="   ", last_name=""),
        ContactFilter(external_id=ExternalIdFilter("employeeId", None)),
        ContactFilter(external_id=ExternalIdFilter("employeeId", "  ")),
    ],
)
def test_filters_the_vendor_cannot_apply_exactly_are_left_to_the_gateway(flt: ContactFilter) -> None:
    assert pushdown(flt) == {}


# ---------------------------------------------------------------------------- writes


def test_a_patch_of_the_name_keeps_the_stored_phone_number() -> None:
    current = {"id": "c-1", "name": "Old", "type": "Custom", "phoneNumber": "415-555-0101"}
    body = custom_body(current, ContactChanges(values={"display_name": "New"}))
    assert body == {"name": "New", "phoneNumber": "415-555-0101"}  # type is GET-only: never sent


def test_a_patch_of_the_phone_keeps_the_stored_name() -> None:
    current = {"id": "c-1", "name": "Old", "type": "Custom", "phoneNumber": "415-555-0101"}
    body = custom_body(current, ContactChanges(values={"phones": ["206-555-0123"]}))
    assert body == {"name": "Old", "phoneNumber": "206-555-0123"}


def test_an_empty_phone_list_clears_the_number() -> None:
    current = {"id": "c-1", "name": "Old", "type": "Custom", "phoneNumber": "415-555-0101"}
    # Left out, not sent as null: the PUT replaces the record, so the number is gone.
    assert custom_body(current, ContactChanges(values={"phones": []})) == {"name": "Old"}


def test_every_field_a_custom_contact_cannot_hold_is_listed_at_once() -> None:
    changes = ContactChanges(
        values={
            "display_name": "Front Desk",
            "first_name": "Front",
            "emails": ["desk@example.com"],
            "company": "Acme",
            "title": "Desk",
            "alias": "fd",
            "external_ids": [ExternalId("employeeId", "E1")],
        }
    )
    problems = write_problems(changes, "routing", "US")
    assert set(problems) == {"firstName", "emails", "company", "title", "alias", "externalIds"}
    assert all("name and one phoneNumber" in why for why in problems.values())


def test_fields_given_as_empty_are_not_refused() -> None:
    changes = ContactChanges(values={"display_name": "Front Desk", "emails": [], "company": None, "title": ""})
    assert write_problems(changes, "routing", "US") == {}


# ---------------------------------------------------------------------------- settings


def test_basic_settings_keep_the_password_out_of_their_printed_form() -> None:
    settings = GenesysSettings.model_validate(
        {"vendor": "genesys", "url": "https://gws.example.com/api/v2", "username": "svc", "password": "s3cret-pw"}
    )
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings.model_dump())


def test_token_settings_keep_the_token_out_of_their_printed_form() -> None:
    settings = GenesysSettings.model_validate(
        {"vendor": "genesys", "url": "https://gws.example.com/api/v2", "token": "tok-123456"}
    )
    assert "tok-123456" not in repr(settings) and "tok-123456" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"password": "p"}, "both are required"),
        ({"username": "   ", "password": "p"}, "both are required"),
        ({"password": "p", "token": "t"}, "not both"),
    ],
)
def test_half_given_credentials_are_refused_with_a_clear_message(extra: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        GenesysSettings.model_validate({"vendor": "genesys", "url": "https://gws.example.com/api/v2", **extra})


def test_an_operator_may_supply_the_authorization_header_instead() -> None:
    settings = GenesysSettings.model_validate(
        {"vendor": "genesys", "url": "https://gws.example.com/api/v2", "headers": {"Authorization": "Negotiate abc"}}
    )
    assert settings.username is None and settings.token is None
