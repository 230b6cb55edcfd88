"""Comm100 record -> Contact: every field of the vendor document, and odd records."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.backends.comm100 import merge_target, pushdown, to_contact
from gateway.model import ZERO_GUID, Address, ContactFilter, ContactIdentity, ContactKind

# The document's own example record.
DOC_RECORD = {
    "id": "dc485cf6-9655-4e5e-bdd2-8c86515c9b94",
    "name": "Vincent",
    "description": "",
    "firstName": "Vincent",
    "lastName": "Crabbe",
    "alias": "Vinc",
    "title": "Manager",
    "company": "Comm100",
    "fax": "55666857",
    "phone": "13970857965",
    "mailingAddress": "andy@comm100.com",
    "city": "NewYork",
    "stateOrProvince": "Seattle",
    "countryOrRegion": "NE",
    "postalOrZipCode": "54728",
    "createTime": "2021-04-16T10:05:38.7593288Z",
    "lastUpdatedTime": "2021-04-16T10:05:38.7593288Z",
    "mergeToContactId": "f0132c8c-10ab-4804-b7ec-233e9ef82738",
    "contactIdentities": [
        {
            "id": "b5333222-094e-4cb9-b190-9dccccb37c70",
            "contactId": "1d090a45-14cf-4613-a7f8-c07ee90a2f5f",
            "contactIdentityType": "Twitter",
            "name": "Vincent",
            "value": "1361654692588728354",
            "avatarUrl": "https://dash11.comm100.com/api/v4/chatbot/images/42dwdaww",
            "infoUrl": "https://dash17.comm100.io/api/twitterapp/platform/users?uid=1831584982944736245",
            "screenName": "@Comm100Corp",
            "originalContactPageUrl": "https://twitter.com/Vincent42",
        }
    ],
}


def test_document_example_maps_every_field() -> None:
    contact = to_contact(DOC_RECORD, "support")
    assert contact.id == "support:dc485cf6-9655-4e5e-bdd2-8c86515c9b94"
    assert contact.vendor == "comm100"
    assert contact.kind is ContactKind.PERSON
    assert contact.display_name == "Vincent"
    assert (contact.first_name, contact.last_name) == ("Vincent", "Crabbe")
    assert (contact.alias, contact.title, contact.company) == ("Vinc", "Manager", "Comm100")
    assert contact.fax == "55666857"
    assert contact.description is None  # empty string means nothing
    assert contact.phones == ["13970857965"]
    # The document's sample holds an email in mailingAddress: it is used as the email it is.
    assert contact.emails == ["andy@comm100.com"]
    assert contact.address == Address(city="NewYork", region="Seattle", postal_code="54728", country="NE")
    assert contact.created_at == datetime(2021, 4, 16, 10, 5, 38, 759328, tzinfo=UTC)
    assert contact.updated_at == contact.created_at
    assert contact.merged_into_native_id == "f0132c8c-10ab-4804-b7ec-233e9ef82738"
    assert contact.merged_into_id == "support:f0132c8c-10ab-4804-b7ec-233e9ef82738"
    assert contact.identities == [
        ContactIdentity(
            type="Twitter",
            value="1361654692588728354",
            name="Vincent",
            screen_name="@Comm100Corp",
            avatar_url="https://dash11.comm100.com/api/v4/chatbot/images/42dwdaww",
            url="https://twitter.com/Vincent42",
        )
    ]
    assert contact.raw == DOC_RECORD


def test_postal_mailing_address_goes_to_address_line1() -> None:
    contact = to_contact({**DOC_RECORD, "mailingAddress": "1 Market St"}, "s")
    assert contact.address is not None and contact.address.line1 == "1 Market St"
    assert contact.emails == []


def test_email_and_phone_identities_feed_emails_and_phones() -> None:
    record = {
        "id": "a",
        "phone": "+1 415 555 0100",
        "contactIdentities": [
            {"contactIdentityType": "Email", "value": "x@example.com"},
            {"contactIdentityType": "email", "value": "y@example.com"},
            {"contactIdentityType": "SMS", "value": "+14155550101"},
            {"contactIdentityType": "WhatsApp", "value": "+14155550102"},
            {"contactIdentityType": "Facebook", "value": "fb-1"},
        ],
    }
    contact = to_contact(record, "s")
    assert contact.emails == ["x@example.com", "y@example.com"]
    assert contact.phones == ["+1 415 555 0100", "+14155550101", "+14155550102"]
    assert [i.type for i in contact.identities] == ["Email", "email", "SMS", "WhatsApp", "Facebook"]


def test_null_and_zero_guid_both_mean_not_merged() -> None:
    assert merge_target(None) is None
    assert merge_target(ZERO_GUID) is None
    assert merge_target("") is None
    assert to_contact({**DOC_RECORD, "mergeToContactId": ZERO_GUID}, "s").merged_into_id is None


def test_display_name_falls_back_to_first_and_last() -> None:
    contact = to_contact({"id": "a", "name": "", "firstName": "Ada", "lastName": "Lovelace"}, "s")
    assert contact.display_name == "Ada Lovelace"


def test_odd_record_maps_without_crashing() -> None:
    odd = {
        "id": 12345,
        "name": ["not", "a", "string"],
        "firstName": None,
        "phone": 4155550100,
        "createTime": "yesterday",
        "contactIdentities": "nope",
        "mergeToContactId": {"x": 1},
        "city": True,
    }
    contact = to_contact(odd, "s")
    assert contact.native_id == "12345"
    assert contact.display_name is None
    assert contact.phones == ["4155550100"]
    assert contact.created_at is None
    assert contact.identities == []
    assert contact.merged_into_id is None
    assert contact.address is None
    assert contact.raw == odd


def test_identity_without_a_type_is_kept_as_unknown() -> None:
    contact = to_contact({"id": "a", "contactIdentities": [{"value": "v"}, "junk"]}, "s")
    assert contact.identities == [ContactIdentity(type="Unknown", value="v")]


def test_no_filter_is_pushed_to_comm100() -> None:
    # An email may live in mailingAddress, where the identity filter cannot see it, and the
    # document does not say whether keywords or identity values match without case: nothing is sent.
    assert pushdown(ContactFilter(email=" A@B.example ", company="Acme")) == {}
    # search also covers emails, which contactKeywords does not.
    assert pushdown(ContactFilter(search="ava", phone="4155550100")) == {}
