"""The gateway's own, vendor-neutral contact record, filter and write input.

Backends map vendor records into `Contact`; the schema layer exposes it. Nothing here knows
HTTP, GraphQL or any vendor.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from typing_extensions import dataclass_transform

# Comm100 (and others) write this GUID for "no merge target".
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def value_object(cls: type[T]) -> type[T]:
    """A small immutable value (an address, an identity, a phone number): frozen for the type
    checker, which refuses any assignment to one, and a plain slotted dataclass at run time, as a
    frozen dataclass sets each field through `object.__setattr__` (2.4 us for an identity against
    0.5 us; a page of 1,000 Comm100 contacts makes ~5,000 of them). Compared and hashed by value."""
    return dataclass(slots=True, unsafe_hash=True)(cls)


class ContactKind(enum.Enum):
    PERSON = "PERSON"
    AGENT = "AGENT"
    QUEUE = "QUEUE"
    USER = "USER"
    CUSTOM = "CUSTOM"


@value_object
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    def is_empty(self) -> bool:
        return not any((self.line1, self.line2, self.city, self.region, self.postal_code, self.country))


@value_object
class ExternalId:
    system: str
    value: str


@value_object
class ContactIdentity:
    type: str
    value: str | None = None
    name: str | None = None
    screen_name: str | None = None
    avatar_url: str | None = None
    url: str | None = None


@value_object
class PhoneNumber:
    """One phone number as the vendor keeps it: `raw` as written, `type` the kind of number
    ("phone", or the channel of a Comm100 identity such as "WhatsApp"), `source` the vendor field
    or identity list it came from."""

    raw: str
    type: str
    source: str


@dataclass(slots=True)
class Contact:
    """One vendor record in the unified shape; `raw` is the record as the vendor sent it."""

    backend: str
    vendor: str
    native_id: str
    kind: ContactKind = ContactKind.PERSON
    display_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    # Every number with where it came from (`phones` holds their distinct texts).
    phone_numbers: list[PhoneNumber] = field(default_factory=list)
    company: str | None = None
    title: str | None = None
    alias: str | None = None
    fax: str | None = None
    description: str | None = None
    address: Address | None = None
    external_ids: list[ExternalId] = field(default_factory=list)
    identities: list[ContactIdentity] = field(default_factory=list)
    disabled: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    merged_into_native_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return make_global_id(self.backend, self.native_id)

    @property
    def distinct_emails(self) -> list[str]:
        """Each email once (`distinct_emails`)."""
        return distinct_emails(self.emails)

    @property
    def merged_into_id(self) -> str | None:
        if self.merged_into_native_id is None:
            return None
        return make_global_id(self.backend, self.merged_into_native_id)


def normalize_email(value: str) -> str:
    """An email as compared: without case or surrounding spaces."""
    return value.strip().casefold()


def distinct_emails(emails: Iterable[str]) -> list[str]:
    """Each email once, compared without case (`normalize_email`); the first spelling is kept."""
    seen: dict[str, str] = {}
    for email in emails:
        if email.strip():
            seen.setdefault(normalize_email(email), email.strip())
    return list(seen.values())


def make_global_id(backend: str, native_id: str) -> str:
    """`<backend>:<nativeId>`: readable, so an analyst can type one."""
    return f"{backend}:{native_id}"


def split_global_id(global_id: str) -> tuple[str, str] | None:
    """The (backend, native id) of a global id, or None when it is not of that form."""
    backend, sep, native = global_id.partition(":")
    if not sep or not backend or not native or native != native.strip():
        return None
    return backend, native


@value_object
class ExternalIdFilter:
    system: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class ContactFilter:
    """What a client asked for; every field is ANDed, None means "any"."""

    search: str | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    kinds: frozenset[ContactKind] | None = None
    external_id: ExternalIdFilter | None = None
    disabled: bool | None = None  # False also keeps contacts whose vendor has no such flag

    def is_empty(self) -> bool:
        return self == EMPTY_FILTER


EMPTY_FILTER = ContactFilter()

# The writable fields of ContactInput / ContactPatch, by their Python names.
WRITABLE_FIELDS = (
    "display_name",
    "first_name",
    "last_name",
    "emails",
    "phones",
    "company",
    "title",
    "alias",
    "address",
    "external_ids",
    "kind",
)


ADDRESS_PARTS = ("line1", "line2", "city", "region", "postal_code", "country")


@dataclass(frozen=True, slots=True)
class ContactChanges:
    """The fields a client gave in a create or a patch; a field absent here was not mentioned.

    `address_parts` names the parts of `address` the client wrote (null included), so a patch of
    the city leaves the rest of the address alone; None means the address is given whole.
    """

    values: Mapping[str, Any]
    address_parts: frozenset[str] | None = None

    def address_given(self) -> frozenset[str]:
        """The address parts this change writes: none unless `address` is given; all of them when
        it is given whole or cleared (null)."""
        if not self.has("address"):
            return frozenset()
        if self.address_parts is None or self.values["address"] is None:
            return frozenset(ADDRESS_PARTS)
        return self.address_parts

    def has(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)
