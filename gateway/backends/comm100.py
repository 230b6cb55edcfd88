"""Comm100 Live Chat v4 contacts: `global/contacts` under a base such as `https://api15.comm100.io/v4`.

GUID ids; records may carry `mergeToContactId` (null or the all-zero GUID mean "not merged").
Lists page with `pageIndex`/`pageSize` (1-based): the first page by index, every later one by the
absolute `nextPage` URL the vendor returns (same origin only, always advancing), until it is null.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from gateway import errors, validation
from gateway.backends.base import HttpBackend, basic_auth, bearer_auth
from gateway.backends.fields import GUID, PHONE_TYPE, phone_numbers, raw_phones, text, texts, timestamp
from gateway.backends.index_reads import Pace, SyncPage, read_for_sync
from gateway.backends.paging import PageRequest, PageWalk, PagingError
from gateway.backends.protocol import Capability, ScanResult
from gateway.config import BackendSettings
from gateway.model import (
    ZERO_GUID,
    Address,
    Contact,
    ContactChanges,
    ContactFilter,
    ContactIdentity,
    ContactKind,
)

VENDOR = "comm100"
LIST_PATH = "global/contacts"
RECORD_PATH = "global/contacts/{id}"
INCLUDE_IDENTITIES = {"include": "contactIdentity"}
PARAM_KEYWORDS = "contactKeywords"
PARAM_IDENTITY_TYPE = "contactIdentityType"
PARAM_IDENTITY_VALUE = "contactIdentityValue"
# Assumption (the document shows `nextPage`/`previousPage`/`total` in a list answer but names no
# paging parameters): the first page is asked for with `pageIndex` (1-based) and `pageSize`.
PARAM_PAGE_INDEX = "pageIndex"
PARAM_PAGE_SIZE = "pageSize"
FIRST_PAGE = 1
# The most pages of one list asked for at the same time (an unfiltered list reads ahead when it
# knows from `total` that more pages are needed); the rate limit, if configured, still applies.
PAGES_AT_ONCE = 8
# Assumption (the document names no page size or limit): 50 a page by default, at most 100; both
# are the `page_size` setting's default and bound, so an operator can change what is asked for.
ASSUMED_PAGE_SIZE = 50
ASSUMED_MAX_PAGE_SIZE = 100
# A sync pass asks for the largest page, so it reads no more pages than it must.
SYNC_PAGE_SIZE = ASSUMED_MAX_PAGE_SIZE
# `max_pages` bounds what one request may walk; a sync pass must read the whole list (10 million
# contacts at most), still under the walk's other guards (no page twice, the index advancing).
SYNC_MAX_PAGES = 100_000
# Assumption (the document's only identity type is "Twitter"): the names of the identity types
# holding an email or a phone number, compared without case. "Email" is also the type written.
EMAIL_IDENTITY_TYPES = {"email"}
PHONE_IDENTITY_TYPES = {"phone", "sms", "whatsapp", "voice"}
_LOOKS_LIKE_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Comm100Settings(BackendSettings):
    vendor: Literal["comm100"]
    token: SecretStr | None = None
    email: str | None = None
    api_key: SecretStr | None = None
    site_id: int | None = None
    # A config asking for more than the assumed limit is refused at start rather than failing
    # every list (the simulator, like the assumed vendor, answers 400).
    page_size: int = Field(default=ASSUMED_PAGE_SIZE, ge=1, le=ASSUMED_MAX_PAGE_SIZE)
    # The vendor allows about 300 calls per 5 minutes per IP: a sync pass takes at most a third
    # of that, leaving the rest to live queries.
    index_calls_per_minute: int = Field(default=20, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> Comm100Settings:
        basic = self.email is not None or self.api_key is not None
        if self.token is None and not basic:
            raise ValueError("needs either token, or email and api_key")
        if self.token is not None and basic:
            raise ValueError("give either token, or email and api_key, not both")
        if basic and (self.email is None or self.api_key is None):
            raise ValueError("email and api_key go together")
        return self


# ---------------------------------------------------------------------------- pure mapping


def merge_target(value: Any) -> str | None:
    """The id a record was merged into; null, empty and the all-zero GUID mean "not merged"."""
    target = text(value)
    if target is None or target == ZERO_GUID:
        return None
    return target


def to_identity(record: Mapping[str, Any]) -> ContactIdentity:
    return ContactIdentity(
        type=text(record.get("contactIdentityType")) or "Unknown",
        value=text(record.get("value")),
        name=text(record.get("name")),
        screen_name=text(record.get("screenName")),
        avatar_url=text(record.get("avatarUrl")),
        url=text(record.get("originalContactPageUrl")) or text(record.get("infoUrl")),
    )


def to_contact(record: Mapping[str, Any], backend: str) -> Contact:
    """Map one Comm100 contact (as listed or fetched) into the unified shape."""
    raw_identities = record.get("contactIdentities")
    identities = [
        to_identity(i) for i in (raw_identities if isinstance(raw_identities, list) else []) if isinstance(i, Mapping)
    ]
    by_type = [(i.type.casefold(), i.value) for i in identities if i.value]
    numbers = phone_numbers(
        (record.get("phone"), PHONE_TYPE, "phone"),
        *((i.value, i.type, "contactIdentities") for i in identities if i.type.casefold() in PHONE_IDENTITY_TYPES),
    )
    mailing = text(record.get("mailingAddress"))
    # Comm100's own sample puts an email address in mailingAddress: treat it as the email it is.
    mailing_is_email = mailing is not None and bool(_LOOKS_LIKE_EMAIL.match(mailing))
    address = Address(
        line1=None if mailing_is_email else mailing,
        city=text(record.get("city")),
        region=text(record.get("stateOrProvince")),
        postal_code=text(record.get("postalOrZipCode")),
        country=text(record.get("countryOrRegion")),
    )
    first, last = text(record.get("firstName")), text(record.get("lastName"))
    return Contact(
        backend=backend,
        vendor=VENDOR,
        native_id=str(text(record.get("id"))),
        kind=ContactKind.PERSON,
        display_name=text(record.get("name")) or " ".join(texts(first, last)) or None,
        first_name=first,
        last_name=last,
        emails=texts(
            *(v for t, v in by_type if t in EMAIL_IDENTITY_TYPES),
            mailing if mailing_is_email else None,
        ),
        phones=raw_phones(numbers),
        phone_numbers=numbers,
        fax=text(record.get("fax")),
        description=text(record.get("description")),
        company=text(record.get("company")),
        title=text(record.get("title")),
        alias=text(record.get("alias")),
        address=None if address.is_empty() else address,
        identities=identities,
        created_at=timestamp(record.get("createTime")),
        updated_at=timestamp(record.get("lastUpdatedTime")),
        merged_into_native_id=merge_target(record.get("mergeToContactId")),
        raw=dict(record),
    )


# Contact fields a client may write, and where each goes in a Comm100 record.
SIMPLE_FIELDS = {
    "first_name": "firstName",
    "last_name": "lastName",
    "company": "company",
    "title": "title",
    "alias": "alias",
}
ADDRESS_FIELDS = {
    "line1": "mailingAddress",
    "city": "city",
    "region": "stateOrProvince",
    "postal_code": "postalOrZipCode",
    "country": "countryOrRegion",
}
WRITABLE = {*SIMPLE_FIELDS, "display_name", "emails", "phones", "address", "kind"}
# The vendor sets the id itself: never sent back. Everything else read is sent back as read (PUT
# is a whole replacement, and the document lists createTime and lastUpdatedTime among its fields).
READ_ONLY = {"id"}
EMAIL_IDENTITY_TYPE = "Email"  # assumption: see EMAIL_IDENTITY_TYPES


def write_problems(changes: ContactChanges, merged_name: str | None, backend: str, region: str) -> dict[str, str]:
    """Everything wrong with a write to Comm100, before any call."""
    problems = validation.common_problems(changes, region)
    problems.update(validation.unsupported_fields(changes, WRITABLE, backend))
    if len(changes.get("phones") or []) > 1:
        problems["phones"] = "Comm100 stores one phone number per contact (phone)"
    address = changes.get("address")
    if address is not None and address.line2:
        problems["address.line2"] = "Comm100 has a single mailingAddress line"
    if not merged_name:
        problems["displayName"] = "Comm100 requires a name: give displayName, or firstName/lastName"
    return problems


def mailing_email(record: Mapping[str, Any]) -> str | None:
    """The email address a record keeps in `mailingAddress` (as the document's sample does), if any."""
    mailing = text(record.get("mailingAddress"))
    return mailing if mailing is not None and _LOOKS_LIKE_EMAIL.match(mailing) else None


def _is_email_identity(identity: Any) -> bool:
    return isinstance(identity, Mapping) and str(identity.get("contactIdentityType", "")).casefold() in (
        EMAIL_IDENTITY_TYPES
    )


def _apply_address(body: dict[str, Any], changes: ContactChanges) -> None:
    """Only the address parts the change names; an email kept in `mailingAddress` is moved to an
    Email identity when a new first line takes its place (unless the emails are patched too)."""
    given = changes.address_given()
    address = changes.get("address") or Address()
    if "line1" in given:
        displaced = mailing_email(body)
        if displaced is not None and not changes.has("emails"):
            body["contactIdentities"] = [
                *(body.get("contactIdentities") or []),
                {"contactIdentityType": EMAIL_IDENTITY_TYPE, "value": displaced},
            ]
    for field, vendor_field in ADDRESS_FIELDS.items():
        if field in given:
            body[vendor_field] = getattr(address, field) or ""


def _apply_emails(body: dict[str, Any], emails: list[str]) -> None:
    """The emails become exactly `emails`: Email identities replaced, and an email kept in
    `mailingAddress` cleared (it is an email, not an address)."""
    if mailing_email(body) is not None:
        body["mailingAddress"] = ""
    kept = [i for i in body.get("contactIdentities") or [] if not _is_email_identity(i)]
    body["contactIdentities"] = [*kept, *({"contactIdentityType": EMAIL_IDENTITY_TYPE, "value": e} for e in emails)]


def apply_changes(record: Mapping[str, Any], changes: ContactChanges) -> dict[str, Any]:
    """The Comm100 body for `record` with `changes` applied; fields not mentioned keep their value."""
    body = {k: v for k, v in record.items() if k not in READ_ONLY}
    for field, vendor_field in SIMPLE_FIELDS.items():
        if changes.has(field):
            body[vendor_field] = changes.get(field) or ""
    if changes.has("phones"):
        body["phone"] = (changes.get("phones") or [""])[0]
    if changes.has("emails"):
        _apply_emails(body, changes.get("emails") or [])
    if changes.has("address"):
        _apply_address(body, changes)
    if changes.has("display_name"):
        body["name"] = changes.get("display_name") or ""
    if not text(body.get("name")):
        body["name"] = " ".join(texts(body.get("firstName"), body.get("lastName")))
    return body


def pushdown(flt: ContactFilter) -> dict[str, str]:
    """Vendor parameters that narrow a list without ever dropping a record `flt` would keep: none.

    The document does not say whether `contactKeywords` or the identity filters ignore case (the
    gateway's filter does), nor how keywords match; and an email may be kept in `mailingAddress`
    (the document's own sample), where the identity filter cannot see it. So every filter is
    applied by the gateway to the pages it reads.
    """
    return {}


def _cancel(ahead: deque[tuple[PageRequest, asyncio.Future[Any]]]) -> None:
    """Pages asked for ahead that will not be read: cancelled (a failure of theirs is not reported)."""
    while ahead:
        _, pending = ahead.popleft()
        if pending.done():
            if not pending.cancelled():
                pending.exception()  # retrieved, so asyncio does not log it as never seen
        else:
            pending.cancel()


def _listable(record: Mapping[str, Any], include_merged: bool) -> bool:
    """Whether an unfiltered list shows this raw record (it has an id; merged only when asked)."""
    return text(record.get("id")) is not None and (
        include_merged or merge_target(record.get("mergeToContactId")) is None
    )


# ---------------------------------------------------------------------------- the backend


class Comm100Backend(HttpBackend):
    vendor = VENDOR
    settings_model = Comm100Settings
    mapper = staticmethod(to_contact)
    capabilities = frozenset({Capability.READ, Capability.CREATE, Capability.UPDATE, Capability.DELETE})
    native_id_pattern = GUID
    kinds = frozenset({ContactKind.PERSON})
    settings: Comm100Settings
    # Learned from the vendor's answers: whether its `nextPage` names a page by its index alone
    # (then pages further ahead may be named by index too, and asked for before they are named).
    pages_by_index = False

    def auth_headers(self) -> dict[str, str]:
        s = self.settings
        if s.token is not None:
            return bearer_auth(s.token.get_secret_value())
        assert s.email is not None and s.api_key is not None
        return basic_auth(s.email, s.api_key.get_secret_value())

    def base_params(self) -> dict[str, str]:
        return {} if self.settings.site_id is None else {"siteId": str(self.settings.site_id)}

    async def get(self, native_id: str) -> Contact | None:
        self.check_native_id(native_id)
        payload = await self.read_or_none(self.record_path(RECORD_PATH, native_id), INCLUDE_IDENTITIES)
        if payload is None:
            return None
        return self.map_record(payload)

    async def create(self, changes: ContactChanges) -> Contact:
        body = apply_changes({}, changes)
        validation.raise_if_any(write_problems(changes, text(body.get("name")), self.name, self.region), self.name)
        created = self.expect_record(await self.write("POST", LIST_PATH, body))
        return self.to_contact({**body, **created})

    async def update(self, native_id: str, changes: ContactChanges) -> Contact:
        """Comm100 only has PUT (full replacement): read, apply the patch, write the whole record."""
        self.check_native_id(native_id)
        # The input's own problems are refused before any call; the name rule needs the record.
        validation.raise_if_any(write_problems(changes, "(checked after reading)", self.name, self.region), self.name)
        current = await self.read_or_none(self.record_path(RECORD_PATH, native_id), INCLUDE_IDENTITIES, fresh=True)
        if current is None:
            raise self.no_such_contact(native_id)
        body = apply_changes(self.expect_record(current), changes)
        validation.raise_if_any(write_problems(changes, text(body.get("name")), self.name, self.region), self.name)
        updated = self.expect_record(await self.write("PUT", self.record_path(RECORD_PATH, native_id), body))
        return self.to_contact({**current, **body, **updated})

    async def delete(self, native_id: str) -> None:
        self.check_native_id(native_id)
        await self.write("DELETE", self.record_path(RECORD_PATH, native_id))

    async def sync_pages(self, start: str | None, pace: Pace) -> AsyncGenerator[SyncPage, None]:
        """Every page from `start` (a page index) to the last, each read once and fresh, the
        vendor's `nextPage` followed under `PageWalk`'s guards."""
        first = int(start) if start is not None and start.isdigit() else FIRST_PAGE
        params = {**INCLUDE_IDENTITIES, PARAM_PAGE_SIZE: str(SYNC_PAGE_SIZE)}
        opening = PageRequest(LIST_PATH, {**params, PARAM_PAGE_INDEX: str(first)}, first)
        walk = PageWalk(self.settings.url, PARAM_PAGE_INDEX, max(self.settings.max_pages, SYNC_MAX_PAGES), opening)
        page: PageRequest | None = opening
        while page is not None:
            current = page
            payload = await read_for_sync(functools.partial(self._fresh_page, walk, current), pace)
            records = self.expect_list(payload, "contacts")
            page = self._follow(walk, payload.get("nextPage"), current, len(records))
            mapped = [c for c in (self.map_one(r) for r in records) if c is not None]
            yield SyncPage(mapped, None if page is None else str(page.index))

    async def _fresh_page(self, walk: PageWalk, page: PageRequest) -> Any:
        try:
            walk.reading()
        except PagingError as exc:
            raise self._paging_failed(exc) from None
        return await self.read(page.path, page.params, fresh=True)

    async def scan(
        self, flt: ContactFilter, position: str | None, limit: int, include_merged: bool = False
    ) -> ScanResult:
        """Walk vendor pages from `position` ("pageIndex:skip") until `limit` matches are found
        and one more proves there is a next page, or the list ends. After the first page, each
        page must be the one the previous page's `nextPage` names, checked by `PageWalk`'s guards.

        An unfiltered list knows from the raw records and the vendor's `total` how many more
        pages could still be needed: those are asked for at once (at most PAGES_AT_ONCE), not one
        after another, and no page past what the request and its hasNextPage need. Once the
        vendor has shown that its pages are named by their index alone, a list that needs several
        pages asks for them all from the start (a shorter list then costs a few empty answers)."""
        if not self.could_match(flt):
            return ScanResult([], [], 0)
        page_index, skip = self.parse_page_position(position, FIRST_PAGE)
        from_start = position is None
        unfiltered = flt.is_empty()
        params = {**pushdown(flt), **INCLUDE_IDENTITIES, PARAM_PAGE_SIZE: str(self.settings.page_size)}
        page = self._page_at(page_index, params)
        walk = PageWalk(self.settings.url, PARAM_PAGE_INDEX, self.settings.max_pages, page)
        found: list[Contact] = []
        after: list[str] = []
        beyond = 0  # matches past `limit`, counted while their page is in hand anyway
        read = 0  # records on the pages read so far (from the start of the list)
        vendor_total: int | None = None
        # Pages asked for ahead of the one in hand, in order; each is checked against the
        # `nextPage` of the page before it when its turn comes.
        ahead: deque[tuple[PageRequest, asyncio.Future[Any]]] = deque()
        if unfiltered:  # pages after this one, when the vendor has shown they are named by index
            for request in self._pages_ahead(page, limit + 1 + skip, self.settings.page_size, None, params)[1:]:
                ahead.append((request, asyncio.ensure_future(self._page(walk, request))))
        try:
            payload = await self._page(walk, page)
            while True:
                records = self.expect_list(payload, "contacts")
                if isinstance(payload.get("total"), int):
                    vendor_total = payload["total"]
                following = self._follow(walk, payload.get("nextPage"), page, len(records))
                if following is not None:
                    self.pages_by_index = following.key() == self._page_at(following.index, params).key()
                # Every record is a match and the vendor counts them all, from the list's start: the
                # count proves what follows, so the caller's last match (its proof of a next page)
                # need not be read, nor one more beyond it.
                counted = from_start and unfiltered and include_merged and vendor_total is not None
                if following is not None and unfiltered and len(ahead) < PAGES_AT_ONCE:
                    listable = sum(1 for r in records[skip:] if _listable(r, include_merged))
                    # else +1: the match proving a next page
                    wanted = (limit - 1 if counted else limit + 1) - len(found) - listable
                    for request in self._more_ahead(following, ahead, wanted, len(records), vendor_total, params):
                        ahead.append((request, asyncio.ensure_future(self._page(walk, request))))
                for offset in range(skip, len(records)):
                    if len(found) >= limit and unfiltered:
                        # Only counted: whether it is listed is known from the raw record.
                        beyond += _listable(records[offset], include_merged)
                        continue
                    contact = self.map_one(records[offset])
                    if contact is None or not self.listed(contact, flt, include_merged):
                        continue
                    if len(found) < limit:
                        found.append(contact)
                        after.append(f"{page.index}:{offset + 1}")
                    else:
                        beyond += 1
                read += len(records)
                # The vendor's `total` counts every record, merged-away ones included: it is this
                # list's count only for an unfiltered list that includes them.
                vendor_count = vendor_total if unfiltered and include_merged else None
                if following is None:
                    # The whole rest of the list was read: counted exactly when read from the start.
                    return ScanResult(found, after, len(found) + beyond if from_start else vendor_count)
                if beyond:
                    return ScanResult(found, after, vendor_count)
                if counted and len(found) >= limit - 1 and vendor_count is not None and vendor_count > read:
                    return ScanResult(found, after, vendor_count, more=True)
                if ahead and ahead[0][0].key() == following.key():
                    page, pending = ahead.popleft()
                    payload = await pending
                else:  # nothing asked ahead, or the vendor named another page next: read that one
                    _cancel(ahead)
                    page, payload = following, await self._page(walk, following)
                skip = 0
        finally:
            _cancel(ahead)

    def _more_ahead(
        self,
        following: PageRequest,
        ahead: deque[tuple[PageRequest, asyncio.Future[Any]]],
        wanted: int,
        page_size: int,
        total: int | None,
        params: Mapping[str, str],
    ) -> list[PageRequest]:
        """The pages to ask for now, with `ahead` already asked for: from `following` when nothing
        is, else those after the last one asked, for what the pages in flight cannot hold, so that
        up to PAGES_AT_ONCE stay in flight while the pages in hand are mapped."""
        if not ahead:
            return self._pages_ahead(following, wanted, page_size, total, params)
        rest = wanted - len(ahead) * page_size
        next_index = ahead[-1][0].index + 1
        if rest <= 0 or page_size <= 0 or (total is not None and (next_index - FIRST_PAGE) * page_size >= total):
            return []
        more = self._pages_ahead(self._page_at(next_index, params), rest, page_size, total, params)
        return more[: PAGES_AT_ONCE - len(ahead)] if self.pages_by_index else []

    def _pages_ahead(
        self, following: PageRequest, wanted: int, page_size: int, total: int | None, params: Mapping[str, str]
    ) -> list[PageRequest]:
        """The pages from `following` on that could be needed for `wanted` more listed records, if
        every record of theirs is listed; only those the vendor's `total` says exist. Pages after
        `following` are named by their index, so only when the vendor's own `nextPage` is exactly
        that (a vendor whose next page carries anything else, a token say, is read page by page)."""
        if wanted <= 0 or page_size <= 0:
            return []
        count = min(-(-wanted // page_size), PAGES_AT_ONCE)
        if total is not None:
            count = min(count, -(-total // page_size) - following.index + FIRST_PAGE)
        if count <= 0 or not self.pages_by_index:
            return [following]
        return [following, *(self._page_at(following.index + n, params) for n in range(1, count))]

    @staticmethod
    def _page_at(index: int, params: Mapping[str, str]) -> PageRequest:
        return PageRequest(LIST_PATH, {**params, PARAM_PAGE_INDEX: str(index)}, index)

    async def _page(self, walk: PageWalk, page: PageRequest) -> Any:
        try:
            walk.reading()
        except PagingError as exc:
            raise self._paging_failed(exc) from None
        return await self.read(page.path, page.params)

    def _follow(self, walk: PageWalk, next_page: Any, page: PageRequest, records: int) -> PageRequest | None:
        try:
            return walk.follow(next_page, page, records)
        except PagingError as exc:
            raise self._paging_failed(exc) from None

    def _paging_failed(self, exc: PagingError) -> errors.BackendBadResponse:
        failure = errors.bad_response(self.name, f"its paging cannot be followed: {exc}")
        failure.details["reason"] = exc.reason
        return failure
