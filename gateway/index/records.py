"""Pure mapping between the gateway's `Contact` and an index row: what is stored to filter,
count and join on (normalised the way `gateway.filtering` compares), and the mapped record."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from gateway.filtering import normalize_phone, search_haystack
from gateway.model import Address, Contact, ContactIdentity, ContactKind, ExternalId, PhoneNumber, normalize_email

# Joined into `search_text`: a character no search needle can usefully contain.
SEARCH_SEPARATOR = "\x1f"


def folded(value: str | None) -> str | None:
    """The form the gateway compares names and company in (trimmed, case-folded)."""
    return None if value is None else value.strip().casefold()


def email_key(value: str) -> str:
    return "email:" + normalize_email(value)


def phone_key(e164: str) -> str:
    return "phone:" + e164


def external_key(system: str, value: str) -> str:
    return f"ext:{system.strip().casefold()}:{value}"


def contact_keys(contact: Contact, region: str) -> set[str]:
    """Every key this contact can be found or joined by: emails, E.164 phones, external ids."""
    found = {email_key(e) for e in contact.emails if normalize_email(e)}
    for phone in contact.phones:
        e164 = normalize_phone(phone, region)
        if e164 is not None:
            found.add(phone_key(e164))
    found |= {external_key(x.system, x.value) for x in contact.external_ids}
    return found


def contact_row(contact: Contact) -> dict[str, Any]:
    """The columns of `index_contacts` for `contact` (namespace, position and pass are the caller's)."""
    haystack = search_haystack(contact)
    return {
        "native_id": contact.native_id,
        "kind": contact.kind.value,
        "disabled": contact.disabled,
        "merged_into": contact.merged_into_native_id,
        "first_name_key": folded(contact.first_name),
        "last_name_key": folded(contact.last_name),
        "company_key": folded(contact.company),
        "search_text": SEARCH_SEPARATOR.join(h.casefold() for h in haystack if h is not None),
        "record": contact,  # stored as JSON by the engine's serializer (orjson writes dataclasses)
    }


def record_text(contact: Contact) -> str:
    """The stored record as JSON text. orjson: an order of magnitude faster than the standard
    json module, and it writes the `Contact` dataclass (times, enums) as it is."""
    return orjson.dumps(contact).decode()


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def to_contact(record: Mapping[str, Any]) -> Contact:
    """The `Contact` a stored record holds (the inverse of `contact_row`'s `record`)."""
    address = record.get("address")
    return Contact(
        backend=record["backend"],
        vendor=record["vendor"],
        native_id=record["native_id"],
        kind=ContactKind(record["kind"]),
        display_name=record.get("display_name"),
        first_name=record.get("first_name"),
        last_name=record.get("last_name"),
        emails=list(record.get("emails") or []),
        phones=list(record.get("phones") or []),
        phone_numbers=[PhoneNumber(**p) for p in record.get("phone_numbers") or []],
        company=record.get("company"),
        title=record.get("title"),
        alias=record.get("alias"),
        fax=record.get("fax"),
        description=record.get("description"),
        address=Address(**address) if isinstance(address, Mapping) else None,
        external_ids=[ExternalId(**x) for x in record.get("external_ids") or []],
        identities=[ContactIdentity(**i) for i in record.get("identities") or []],
        disabled=record.get("disabled"),
        created_at=_time(record.get("created_at")),
        updated_at=_time(record.get("updated_at")),
        merged_into_native_id=record.get("merged_into_native_id"),
        raw=dict(record.get("raw") or {}),
    )
