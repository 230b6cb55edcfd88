"""`people`: the same person across vendors. Contacts of every visible backend are joined when they
share a normalised email (case-folded, trimmed), an E.164 phone or an external id (system and
value); joins are transitive (union-find). Merged-away Comm100 records are left out first: their
survivors stand for them. Never joined on names alone, so namesakes stay apart.

A person's id is `person~<contact id>` of its first contact in configured backend order: stable
across requests while that contact exists, readable, and never mistaken for a contact id.

Once every visible backend's index has a completed pass, people come from the index (its
identity groups are kept in the database, so ids are the same on every instance and after a
restart); until then they are computed live, here, and the response says so.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway import errors
from gateway.backends.protocol import Backend
from gateway.filtering import matches, normalize_phone
from gateway.model import EMPTY_FILTER, Contact, ContactFilter, distinct_emails, normalize_email
from resolvers import indexed
from resolvers.contacts import Edge, Page, check_page_size, guarded, read_contacts
from resolvers.context import RequestContext
from resolvers.cursor import Cursor, decode_cursor, query_fingerprint
from resolvers.indexed import POSITION_PREFIX, indexed_names, is_index_position

PERSON_PREFIX = "person~"
# People are built from whole backends; this bounds one request's walk of a backend.
MAX_CONTACTS_PER_BACKEND = 20_000


@dataclass(slots=True)
class Person:
    id: str
    contacts: list[Contact]
    display_name: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


class UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)  # the earlier contact leads


def identity_keys(contact: Contact, region: str) -> Iterable[str]:
    """What may join this contact to others: emails, phones, external ids (never names)."""
    for email in contact.emails:
        if normalize_email(email):
            yield "email:" + normalize_email(email)
    for phone in contact.phones:
        e164 = normalize_phone(phone, region)
        if e164 is not None:
            yield "phone:" + e164
    for ext in contact.external_ids:
        yield f"ext:{ext.system.strip().casefold()}:{ext.value.strip()}"


def group_people(contacts: Sequence[Contact], region: str) -> list[Person]:
    """Group contacts (already in configured order) into people, in order of first contact."""
    links = UnionFind(len(contacts))
    first_with: dict[str, int] = {}
    for index, contact in enumerate(contacts):
        for key in identity_keys(contact, region):
            if key in first_with:
                links.union(first_with[key], index)
            else:
                first_with[key] = index
    groups: dict[int, list[Contact]] = {}
    for index, contact in enumerate(contacts):
        groups.setdefault(links.find(index), []).append(contact)
    return [describe(members, region) for _, members in sorted(groups.items())]


def describe(members: list[Contact], region: str) -> Person:
    phones: dict[str, str] = {}
    for contact in members:
        for phone in contact.phones:
            e164 = normalize_phone(phone, region)
            if e164 is not None:
                phones.setdefault(e164, e164)
    name = next((c.display_name for c in members if c.display_name), None)
    emails = distinct_emails(email for contact in members for email in contact.emails)
    return Person(PERSON_PREFIX + members[0].id, members, name, emails, list(phones.values()))


async def everyone(ctx: RequestContext, info: Any) -> list[Person]:
    """Every person the caller can see; computed once per request."""
    cached: list[Person] | None = ctx.loaders.get("people")
    if cached is not None:
        return cached
    backends = ctx.visible_backends()
    scans = await asyncio.gather(
        *(guarded(ctx, info, b, b.scan(EMPTY_FILTER, None, MAX_CONTACTS_PER_BACKEND)) for b in backends)
    )
    contacts = [c for scan in scans if scan is not None for c in read_contacts(ctx, info, scan.contacts) or ()]
    people = group_people(contacts, ctx.gateway.settings.server.default_region)
    ctx.loaders["people"] = people
    return people


async def from_index(ctx: RequestContext) -> list[Backend] | None:
    """The visible backends when the index can answer for all of them; else None, and the
    response says which ones are answered live."""
    backends = ctx.visible_backends()
    in_index = await indexed_names(ctx, backends)
    missing = [b.name for b in backends if b.name not in in_index]
    if missing or not backends:
        ctx.answered_live(missing)
        return None
    return backends


async def list_people(
    ctx: RequestContext, info: Any, flt: ContactFilter, first: int, after: str | None
) -> Page[Person]:
    """People having at least one contact that matches `flt`, paged like contacts."""
    check_page_size(first, ctx)
    fingerprint = query_fingerprint("people", flt)
    position = decode_cursor(after, fingerprint).position if after is not None else None
    backends = await from_index(ctx)
    if backends is not None and (position is None or is_index_position(position)):
        return await _people_from_index(ctx, backends, flt, first, position, fingerprint)
    return await _people_live(ctx, info, flt, first, position, fingerprint)


async def _people_from_index(
    ctx: RequestContext,
    backends: list[Backend],
    flt: ContactFilter,
    first: int,
    position: str | None,
    fingerprint: str,
) -> Page[Person]:
    number = position.removeprefix(POSITION_PREFIX) if position is not None else None
    if number is not None and not re.fullmatch(r"[0-9]{1,19}", number, re.ASCII):
        raise errors.BadUserInput("the cursor 'after' is not valid", fields={"after": "invalid"})
    after = int(number) if number is not None else None
    region = ctx.gateway.settings.server.default_region
    page, total = await indexed.people_page(ctx, backends, flt, after, first + 1)
    edges = [
        Edge(Cursor("people", f"{POSITION_PREFIX}{ordinal}"), fingerprint, describe(members, region))
        for ordinal, members in page[:first]
        if members
    ]
    return Page(edges, len(page) > first, position is not None, total)


async def _people_live(
    ctx: RequestContext, info: Any, flt: ContactFilter, first: int, position: str | None, fingerprint: str
) -> Page[Person]:
    region = ctx.gateway.settings.server.default_region
    if position is not None and not re.fullmatch(r"[0-9]{1,15}", position, re.ASCII):
        raise errors.BadUserInput("the cursor 'after' is not valid", fields={"after": "invalid"})
    start = int(position) if position is not None else 0
    chosen = [p for p in await everyone(ctx, info) if any(matches(c, flt, region) for c in p.contacts)]
    window = chosen[start : start + first]
    edges = [Edge(Cursor("people", str(start + i + 1)), fingerprint, person) for i, person in enumerate(window)]
    return Page(edges, start + first < len(chosen), start > 0, len(chosen))


async def find_person(ctx: RequestContext, info: Any, person_id: str) -> Person | None:
    """The person whose group holds the contact named in `person_id` (its anchor)."""
    anchor = person_id.removeprefix(PERSON_PREFIX)
    backend, native_id = ctx.locate(anchor)  # a malformed or foreign id is BAD_USER_INPUT before any call
    backends = await from_index(ctx)
    if backends is not None:
        members = await indexed.members(ctx, backends, Contact(backend.name, backend.vendor, native_id))
        return describe(members, ctx.gateway.settings.server.default_region) if members else None
    for person in await everyone(ctx, info):
        if any(c.id == anchor for c in person.contacts):
            return person
    return None


async def person_of(ctx: RequestContext, info: Any, contact: Contact) -> Person | None:
    backends = await from_index(ctx)
    if backends is not None:
        region = ctx.gateway.settings.server.default_region
        members = await indexed.members(ctx, backends, contact)
        if members:
            return describe(members, region)
        # Not grouped in the index: merged away (its survivor stands for it), or newer than the
        # last pass and not written through the gateway: a person of its own until the next pass.
        return None if contact.merged_into_native_id is not None else describe([contact], region)
    for person in await everyone(ctx, info):
        if any(c.id == contact.id for c in person.contacts):
            return person
    return None


def is_person_id(global_id: str) -> bool:
    return global_id.startswith(PERSON_PREFIX)
