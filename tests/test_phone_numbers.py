"""One contact shows each number and each email once (issue 17): `phones` in E.164 where it can be
read, in the vendor's order; `phoneNumbers` keeps every vendor spelling and where it came from."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from gateway.distinct import distinct_phones
from gateway.model import Contact
from gateway.simulators import comm100, genesys
from tests.conftest import Harness
from tests.test_comm100_mapping import DOC_RECORD

CONTACT = """query($id: ID!) {
  contact(id: $id, followMerges: false) { emails phones phoneNumbers { number e164 raw type source } }
}"""


def comm100_record() -> dict[str, Any]:
    """The document's sample with the demo's case: one number in `phone` and in a WhatsApp
    identity, and one email both in an Email identity (other case) and in mailingAddress."""
    record: dict[str, Any] = copy.deepcopy(DOC_RECORD)
    record["phone"] = "(415) 555-0000"
    record["mergeToContactId"] = None
    identities = record["contactIdentities"]
    assert isinstance(identities, list)
    identities += [
        {"contactIdentityType": "WhatsApp", "value": "+14155550000"},
        {"contactIdentityType": "Email", "value": "Andy@Comm100.com"},
        {"contactIdentityType": "SMS", "value": "+44 20 7946 0000"},
    ]
    return record


async def test_a_number_kept_twice_is_shown_once_and_an_email_once(make_custom: Callable[..., Harness]) -> None:
    sim = comm100.Comm100Simulator(records=[comm100_record()])
    harness = make_custom({"support": (sim, comm100.demo_backend_settings("http://comm100.test"))})
    answer = await harness.run(CONTACT, {"id": f"support:{DOC_RECORD['id']}"})
    contact = answer["data"]["contact"]
    assert contact["phones"] == ["+14155550000", "+442079460000"]
    assert contact["emails"] == ["Andy@Comm100.com"]
    assert contact["phoneNumbers"] == [
        {"number": "+14155550000", "e164": "+14155550000", "raw": "(415) 555-0000", "type": "phone", "source": "phone"},
        {
            "number": "+14155550000",
            "e164": "+14155550000",
            "raw": "+14155550000",
            "type": "WhatsApp",
            "source": "contactIdentities",
        },
        {
            "number": "+442079460000",
            "e164": "+442079460000",
            "raw": "+44 20 7946 0000",
            "type": "SMS",
            "source": "contactIdentities",
        },
    ]


async def test_numbers_without_a_country_code_are_read_in_the_configured_region(
    make_custom: Callable[..., Harness],
) -> None:
    record = {"id": "uk-desk", "name": "UK Desk", "type": "Custom", "phoneNumber": "020 7946 0000"}
    sim = genesys.GenesysSimulator(
        records=[record, {"id": "odd", "name": "Odd", "type": "Custom", "phoneNumber": "xxx"}]
    )
    harness = make_custom(
        {"routing": (sim, genesys.demo_backend_settings("http://gws.test"))}, server={"default_region": "GB"}
    )
    uk = (await harness.run(CONTACT, {"id": "routing:uk-desk"}))["data"]["contact"]
    assert uk["phones"] == ["+442079460000"]
    assert uk["phoneNumbers"] == [
        {
            "number": "+442079460000",
            "e164": "+442079460000",
            "raw": "020 7946 0000",
            "type": "phone",
            "source": "phoneNumber",
        }
    ]
    odd = (await harness.run(CONTACT, {"id": "routing:odd"}))["data"]["contact"]
    assert odd["phones"] == ["xxx"] and odd["phoneNumbers"][0]["e164"] is None


def test_distinct_values_keep_the_vendors_order_and_first_spelling() -> None:
    assert distinct_phones(["415-555-0101", "xxx", "+1 415 555 0100", "(415) 555-0101", " xxx "], "US") == [
        "+14155550101",
        "xxx",
        "+14155550100",
    ]
    contact = Contact("b", "comm100", "1", emails=["B@x.example", "a@x.example", " b@X.example ", ""])
    assert contact.distinct_emails == ["B@x.example", "a@x.example"]
