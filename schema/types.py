"""The GraphQL types of the contract. Types and inputs only: what a field means lives in `resolvers`.

Object types are views over the gateway's own model (`gateway.model`): a resolver returns a model
`Contact` and the fields below read it, so nothing is copied per request.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.enum import has_enum_definition

from gateway import model
from gateway.backends.protocol import Capability as CapabilityModel
from gateway.backends.registry import VENDORS
from gateway.distinct import distinct_phones
from gateway.filtering import checked
from gateway.index import IndexState as IndexStateModel
from resolvers import merges, people
from resolvers.contacts import Page
from resolvers.context import RequestContext
from schema.phone_numbers import PhoneNumber
from schema.views import CONTACT, PAGE_INFO, PERSON

Info = strawberry.Info[RequestContext, None]


def _describe_values(enum_type: type[enum.Enum], descriptions: Mapping[str, str]) -> None:
    """Give each value of a strawberry enum built from a model enum its description."""
    if not has_enum_definition(enum_type):
        raise TypeError(f"{enum_type.__name__} is not a strawberry enum")
    for value in enum_type.__strawberry_definition__.values:
        value.description = descriptions[value.name]


ContactKind = model.ContactKind
strawberry.enum(ContactKind, name="ContactKind", description="What a contact is.")
_describe_values(
    ContactKind,
    {
        "PERSON": "A customer or other person (Comm100, AgentVoice, MotionCX non-agents).",
        "AGENT": "A contact-center agent (MotionCX isAgent).",
        "QUEUE": "A Genesys queue.",
        "USER": "A Genesys user.",
        "CUSTOM": "A Genesys custom contact (the only kind Genesys lets you write).",
    },
)
Capability = CapabilityModel
strawberry.enum(Capability, name="Capability", description="An operation a backend supports.")
_describe_values(
    Capability,
    {
        "READ": "List and fetch contacts.",
        "CREATE": "createContact.",
        "UPDATE": "updateContact (partial: only the fields given change).",
        "DELETE": "deleteContact.",
        "CRM_UPSERT": "upsertContactFromCrm (create or update by CRM id).",
    },
)

if TYPE_CHECKING:
    from schema.people import Person

    Vendor = enum.Enum
else:
    # Built from the registry, so adding a vendor module adds its enum value, described by the
    # first paragraph of the vendor module's docstring.
    Vendor = strawberry.enum(
        enum.Enum("Vendor", {key.upper(): key for key in VENDORS}),
        name="Vendor",
        description="The vendor API a backend talks to.",
    )
    _describe_values(
        Vendor,
        {
            key.upper(): " ".join((sys.modules[backend.__module__].__doc__ or key).strip().split("\n\n")[0].split())
            for key, backend in VENDORS.items()
        },
    )


@strawberry.type(description="A postal address, as far as the vendor records one.")
class Address:
    line1: str | None = strawberry.field(description="First address line.")
    line2: str | None = strawberry.field(description="Second address line.")
    city: str | None = strawberry.field(description="City.")
    region: str | None = strawberry.field(description="State, province or region.")
    postal_code: str | None = strawberry.field(description="Postal or ZIP code.")
    country: str | None = strawberry.field(description="Country or region code or name.")


@strawberry.type(description="An id of this contact in another system (a CRM, an HR system).")
class ExternalId:
    system: str = strawberry.field(description="The system the id belongs to, e.g. 'salesforce'.")
    value: str = strawberry.field(description="The id in that system.")


@strawberry.type(description="A channel identity of a Comm100 contact (email, Twitter, WhatsApp...).")
class ContactIdentity:
    type: str = strawberry.field(description="The channel, as Comm100 names it (contactIdentityType).")
    value: str | None = strawberry.field(description="The address or id on that channel.")
    name: str | None = strawberry.field(description="The name shown on that channel.")
    screen_name: str | None = strawberry.field(description="The screen name (e.g. '@handle').")
    avatar_url: str | None = strawberry.field(description="The avatar picture's URL.")
    url: str | None = strawberry.field(description="The profile page (originalContactPageUrl).")


@strawberry.interface(description="An object with a global id, findable with Query.node.")
class Node:
    id: strawberry.ID = strawberry.field(description="The global id.")


@strawberry.type(
    description=(
        "One contact record of one backend, mapped into one shape whatever the vendor. "
        "Fields a vendor does not record are null or empty, never invented."
    )
)
class Contact(Node):
    id: strawberry.ID = strawberry.field(description="Global id `<backend>:<nativeId>`, e.g. `support:dc485cf6-...`.")
    backend: str = strawberry.field(description="The configured backend this record came from.")
    native_id: str = strawberry.field(description="The record's id in the vendor's own API.")
    kind: ContactKind = strawberry.field(description="What the contact is.")
    display_name: str | None = strawberry.field(
        description="The name to show: the vendor's display name or `name`, else first + last."
    )
    first_name: str | None = strawberry.field(description="Given name.")
    last_name: str | None = strawberry.field(description="Family name.")
    company: str | None = strawberry.field(description="Company or organization.")
    title: str | None = strawberry.field(description="Job title.")
    alias: str | None = strawberry.field(description="Alias (MotionCX: hides an agent's real name).")
    fax: str | None = strawberry.field(description="Fax number (Comm100).")
    description: str | None = strawberry.field(description="Free-text description (Comm100).")
    address: Address | None = strawberry.field(description="Postal address, when recorded.")
    external_ids: list[ExternalId] = strawberry.field(
        description="Ids in other systems: AgentVoice crm_source/crm_id, MotionCX externalId, Genesys employeeId."
    )
    identities: list[ContactIdentity] = strawberry.field(description="Comm100 channel identities (contactIdentities).")
    disabled: bool | None = strawberry.field(description="Whether the vendor marks it inactive.")
    created_at: datetime | None = strawberry.field(description="When the vendor created it.")
    updated_at: datetime | None = strawberry.field(description="When the vendor last changed it.")
    merged_into_id: strawberry.ID | None = strawberry.field(
        description="Comm100: the id this record was merged into (mergeToContactId); null when not merged."
    )

    distinct_emails: list[str] = strawberry.field(
        name="emails",
        description=(
            "Email addresses, each once (compared without case; the vendor's first spelling is kept). "
            "Comm100: Email identities, and an email kept in mailingAddress."
        ),
    )

    @strawberry.field(
        description=(
            "Phone numbers, each once, in the vendor's order: in E.164 where the number can be read "
            "(numbers without a country code read in server.default_region), else as the vendor wrote it. "
            "Comm100: phone and Phone/SMS/WhatsApp/Voice identities. See phoneNumbers for the vendor's spellings."
        )
    )
    def phones(self, root: strawberry.Parent[model.Contact], info: Info) -> list[str]:
        return distinct_phones(root.phones, info.context.gateway.settings.server.default_region)

    @strawberry.field(
        description=(
            "Every phone number the vendor keeps for this contact, with its own spelling and where it came "
            "from; one number kept in two places (say phone and a WhatsApp identity) is listed twice here "
            "and once in phones."
        )
    )
    def phone_numbers(self, root: strawberry.Parent[model.Contact], info: Info) -> list[PhoneNumber]:
        region = info.context.gateway.settings.server.default_region
        return [PhoneNumber.of(n, region) for n in root.phone_numbers]

    @strawberry.field(description="The vendor API this record came from.")
    def vendor(self, root: strawberry.Parent[model.Contact]) -> Vendor:
        return Vendor(root.vendor)

    @strawberry.field(description="The record as the vendor sent it.")
    def raw(self, root: strawberry.Parent[model.Contact]) -> JSON:
        return JSON(root.raw)

    @strawberry.field(description="Comm100: the next record in the merge chain (one hop), if merged.")
    async def merged_into(
        self, root: strawberry.Parent[model.Contact], info: Info
    ) -> Annotated[Contact, strawberry.lazy("schema.types")] | None:
        return CONTACT.optional(await merges.next_hop(info.context, info, root))

    @strawberry.field(
        description="The end of the merge chain: the record that survived all merges; itself when not merged."
    )
    async def survivor(
        self, root: strawberry.Parent[model.Contact], info: Info
    ) -> Annotated[Contact, strawberry.lazy("schema.types")]:
        return CONTACT(await merges.survivor_of(info.context, info, root))

    @strawberry.field(description="The person this contact belongs to across vendors (see Query.people).")
    async def person(
        self, root: strawberry.Parent[model.Contact], info: Info
    ) -> Annotated[Person, strawberry.lazy("schema.people")] | None:
        return PERSON.optional(await people.person_of(info.context, info, root))

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, model.Contact | cls)


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More contacts follow this page.")
    has_previous_page: bool = strawberry.field(description="Contacts precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge: pass it as `after`.")


@strawberry.type(description="One contact in a page, with its cursor.")
class ContactEdge:
    cursor: str = strawberry.field(description="Opaque position of this contact; pass it as `after`.")
    node: Contact = strawberry.field(description="The contact.")


@strawberry.type(description="A page of contacts across backends (configured backend order, then vendor order).")
class ContactConnection:
    edges: list[ContactEdge] = strawberry.field(description="The contacts of this page.")

    @strawberry.field(
        description=(
            "Matching contacts in all selected backends; null when a backend cannot say. "
            "It waits for every backend; the page does not (under @defer it comes first)."
        )
    )
    async def total_count(self, root: strawberry.Parent[Page[Any]]) -> int | None:
        return await root.total()

    @strawberry.field(description="Where this page stands.")
    def page_info(self, root: strawberry.Parent[Page[Any]]) -> PageInfo:
        return PAGE_INFO(root)


IndexState = IndexStateModel
strawberry.enum(IndexState, name="IndexState", description="How far a backend's contact index is.")
_describe_values(
    IndexState,
    {
        "NOT_SYNCED": "No full sync pass has completed yet: queries on it are answered live.",
        "SYNCED": "Its last pass completed; the index answers.",
        "FAILED": "Its last pass failed (see lastError); the previous index, if any, still answers.",
    },
)


@strawberry.type(description="A backend's contact index: what people, counts and unpushable filters read.")
class BackendIndex:
    state: IndexState = strawberry.field(description="How far its index is.")
    synced_at: datetime | None = strawberry.field(description="When its last full pass completed.")
    records: int = strawberry.field(description="Contacts in its index.")
    last_error: str | None = strawberry.field(description="Why its last pass failed, if it did.")


@strawberry.type(description="A configured backend and its state.")
class Backend:
    name: str = strawberry.field(description="The name it has in the config.")
    healthy: bool = strawberry.field(description="False while its circuit breaker is open.")
    capabilities: list[Capability] = strawberry.field(description="What it supports.")
    writable_kinds: list[ContactKind] = strawberry.field(description="Kinds it can create or change.")
    notes: list[str] = strawberry.field(description="Limits worth knowing (e.g. writes only CUSTOM).")
    url: str = strawberry.field(description="The vendor base URL (without credentials).")
    timeout_s: float = strawberry.field(description="Per-call timeout in seconds.")
    ttl_s: float = strawberry.field(description="Cache lifetime of its reads in seconds (0: not cached).")
    last_error: str | None = strawberry.field(description="The last failure's code, if any.")
    index: BackendIndex | None = strawberry.field(
        description="Its contact index; null when the index is off (index: false)."
    )

    @strawberry.field(description="The vendor API it talks to.")
    def vendor(self, root: strawberry.Parent[Any]) -> Vendor:
        return Vendor(root.vendor)


@strawberry.input(description="An id in another system to look for.")
class ExternalIdFilter:
    system: str | None = strawberry.field(default=None, description="The system, e.g. 'salesforce'.")
    value: str | None = strawberry.field(default=None, description="The id in that system.")


@strawberry.input(
    description=(
        "Which contacts to return; every given field must hold (AND). Means the same on every "
        "vendor: pushed down where the vendor can apply it, applied by the gateway otherwise."
    )
)
class ContactFilter:
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive text in the names, company, alias or emails."
    )
    email: str | None = strawberry.field(default=None, description="An email, any case.")
    phone: str | None = strawberry.field(default=None, description="A phone number in any format; compared as E.164.")
    first_name: str | None = strawberry.field(default=None, description="Given name, any case.")
    last_name: str | None = strawberry.field(default=None, description="Family name, any case.")
    company: str | None = strawberry.field(default=None, description="Company, any case.")
    kinds: list[ContactKind] | None = strawberry.field(default=None, description="Any of these kinds.")
    external_id: ExternalIdFilter | None = strawberry.field(
        default=None, description="An id in another system (system and/or value)."
    )
    disabled: bool | None = strawberry.field(
        default=None,
        description=(
            "true: only contacts the vendor marks disabled (MotionCX `isDisabled`); false: the others,"
            " including contacts of vendors that have no such flag."
        ),
    )

    def to_model(self) -> model.ContactFilter:
        ext = self.external_id
        return checked(
            model.ContactFilter(
                search=self.search,
                email=self.email,
                phone=self.phone,
                first_name=self.first_name,
                last_name=self.last_name,
                company=self.company,
                kinds=frozenset(self.kinds) if self.kinds is not None else None,
                external_id=model.ExternalIdFilter(ext.system, ext.value) if ext is not None else None,
                disabled=self.disabled,
            )
        )


@strawberry.input(description="A postal address to write. In a patch only the parts given change; null clears a part.")
class AddressInput:
    line1: str | None = strawberry.field(default=strawberry.UNSET, description="First address line.")
    line2: str | None = strawberry.field(default=strawberry.UNSET, description="Second address line.")
    city: str | None = strawberry.field(default=strawberry.UNSET, description="City.")
    region: str | None = strawberry.field(default=strawberry.UNSET, description="State, province or region.")
    postal_code: str | None = strawberry.field(default=strawberry.UNSET, description="Postal or ZIP code.")
    country: str | None = strawberry.field(default=strawberry.UNSET, description="Country or region.")

    def given(self) -> frozenset[str]:
        """The parts the client wrote (null included)."""
        return frozenset(p for p in model.ADDRESS_PARTS if getattr(self, p) is not strawberry.UNSET)

    def to_model(self) -> model.Address:
        return model.Address(**{p: getattr(self, p) or None for p in model.ADDRESS_PARTS})


@strawberry.input(description="An id in another system to write (AgentVoice: crm_source and crm_id).")
class ExternalIdInput:
    system: str = strawberry.field(description="The system, e.g. 'salesforce'.")
    value: str = strawberry.field(description="The id in that system.")


def _changes(given: Any) -> model.ContactChanges:
    """Only the fields the client wrote (null included); an omitted field is not in the result."""
    values: dict[str, Any] = {}
    address_parts: frozenset[str] | None = None
    for name in model.WRITABLE_FIELDS:
        value = getattr(given, name)
        if value is strawberry.UNSET:
            continue
        if isinstance(value, AddressInput):
            address_parts = value.given()
            value = value.to_model()
        elif name == "external_ids" and value is not None:
            value = [model.ExternalId(x.system, x.value) for x in value]
        values[name] = value
    return model.ContactChanges(values, address_parts)


_WRITE_NOTE = "Checked per vendor: a vendor without a place for a field refuses it with BAD_USER_INPUT."


@strawberry.input(description="A new contact. " + _WRITE_NOTE)
class ContactInput:
    display_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Name to show (Comm100 name, Genesys name)."
    )
    first_name: str | None = strawberry.field(default=strawberry.UNSET, description="Given name.")
    last_name: str | None = strawberry.field(default=strawberry.UNSET, description="Family name.")
    emails: list[str] | None = strawberry.field(default=strawberry.UNSET, description="Email addresses.")
    phones: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Phone numbers (Genesys: phones[0] is phoneNumber)."
    )
    company: str | None = strawberry.field(default=strawberry.UNSET, description="Company.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Job title.")
    alias: str | None = strawberry.field(default=strawberry.UNSET, description="Alias.")
    address: AddressInput | None = strawberry.field(default=strawberry.UNSET, description="Postal address.")
    external_ids: list[ExternalIdInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Ids in other systems (AgentVoice: externalIds[0] is crm_source/crm_id)."
    )
    kind: ContactKind | None = strawberry.field(
        default=strawberry.UNSET, description="What it is; a vendor writes only the kinds in Backend.writableKinds."
    )

    def to_changes(self) -> model.ContactChanges:
        return _changes(self)


@strawberry.input(description="Changes to a contact: only the fields given change; null clears. " + _WRITE_NOTE)
class ContactPatch:
    display_name: str | None = strawberry.field(default=strawberry.UNSET, description="Name to show.")
    first_name: str | None = strawberry.field(default=strawberry.UNSET, description="Given name.")
    last_name: str | None = strawberry.field(default=strawberry.UNSET, description="Family name.")
    emails: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Email addresses (replaces the list)."
    )
    phones: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Phone numbers (replaces the list)."
    )
    company: str | None = strawberry.field(default=strawberry.UNSET, description="Company.")
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Job title.")
    alias: str | None = strawberry.field(default=strawberry.UNSET, description="Alias.")
    address: AddressInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="Postal address: only the parts given change, null clears a part; null clears the address.",
    )
    external_ids: list[ExternalIdInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Ids in other systems (replaces the list)."
    )
    kind: ContactKind | None = strawberry.field(default=strawberry.UNSET, description="What it is.")

    def to_changes(self) -> model.ContactChanges:
        return _changes(self)
