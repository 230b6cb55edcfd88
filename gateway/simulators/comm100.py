"""A Comm100 Live Chat v4 contacts simulator that follows the vendor document strictly.

Serves `/v4/global/contacts[/{id}]` with Bearer or Basic auth and an optional `siteId`, pages with
`pageIndex`/`pageSize` and absolute `nextPage` URLs, refuses unknown parameters and fields with
400, and holds merged records: a two-hop chain, a cycle, a dangling target, several husks merged
into one survivor and a record whose `mergeToContactId` is the all-zero GUID.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from gateway.model import ZERO_GUID
from gateway.simulators.common import DemoBackend, SimulatorState, build_app, contains_text, json_body, same_text
from gateway.simulators.people import (
    CUSTOMERS,
    NEAR_MISSES,
    Person,
    generated,
    shouted,
    us_national,
)

PREFIX = "/v4"
DEMO_TOKEN = "comm100-demo-token"  # noqa: S105 (a simulator's sample credential)
LIST_PARAMS = {
    "contactIdentityValueSearch",
    "contactIdentityValue",
    "contactKeywords",
    "contactIdentityType",
    "contactIdentityName",
    "include",
    "pageIndex",
    "pageSize",
    "siteId",
}
WRITABLE = {
    "name",
    "firstName",
    "lastName",
    "description",
    "alias",
    "title",
    "company",
    "fax",
    "phone",
    "mailingAddress",
    "city",
    "stateOrProvince",
    "countryOrRegion",
    "postalOrZipCode",
    "createTime",
    "lastUpdatedTime",
    "mergeToContactId",
    "contactIdentities",
}
FILTER_PARAMS = (
    "contactKeywords",
    "contactIdentityType",
    "contactIdentityValue",
    "contactIdentityName",
    "contactIdentityValueSearch",
)
IDENTITY_FIELDS = {
    "id",
    "contactId",
    "contactIdentityType",
    "name",
    "value",
    "avatarUrl",
    "infoUrl",
    "screenName",
    "originalContactPageUrl",
}
# How the list's paging behaves: as documented, or broken the ways a real vendor's could be
# (the gateway must end each walk with an error, never loop).
PagingMode = Literal["documented", "same-url", "stuck-index", "empty-with-more", "endless", "foreign-origin"]
_NS = uuid.UUID("6f1d4c1e-8a51-4a8e-9a36-0c0ffee10000")
# Which of people.CUSTOMERS the sample data holds.
HELD_CUSTOMERS = tuple(range(0, 40))
_EPOCH = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def demo_backend_settings(root: str) -> dict[str, Any]:
    """The backend config that reaches this simulator at `root` (`http://host:port`)."""
    return {"vendor": "comm100", "url": root + PREFIX, "token": DEMO_TOKEN}


def guid(label: str) -> str:
    return str(uuid.uuid5(_NS, label))


def _time(minutes: int) -> str:
    return (_EPOCH + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _identity(contact_id: str, kind: str, value: str, **extra: str) -> dict[str, Any]:
    return {
        "id": guid(f"identity-{contact_id}-{kind}-{value}"),
        "contactId": contact_id,
        "contactIdentityType": kind,
        "name": extra.get("name", ""),
        "value": value,
        "avatarUrl": extra.get("avatarUrl", ""),
        "infoUrl": extra.get("infoUrl", ""),
        "screenName": extra.get("screenName", ""),
        "originalContactPageUrl": extra.get("originalContactPageUrl", ""),
    }


def _record(label: str, person: Person, n: int, merged_to: str | None = None) -> dict[str, Any]:
    contact_id = guid(label)
    email = shouted(person.email) if n % 5 == 1 else person.email
    identities = [_identity(contact_id, "Email", email, name=person.name)]
    if n % 3 == 0:
        handle = f"@{person.first}{person.last}".lower()
        identities.append(
            _identity(
                contact_id,
                "Twitter",
                str(1361654692588728354 + n),
                name=person.first,
                screenName=handle,
                originalContactPageUrl=f"https://twitter.example/{handle[1:]}",
                avatarUrl=f"https://avatars.example/{handle[1:]}.png",
            )
        )
    if n % 4 == 0:
        identities.append(_identity(contact_id, "WhatsApp", person.phone, name=person.first))
    if n % 7 == 0:
        identities.append(
            _identity(
                contact_id,
                "Facebook",
                f"fb-{100000 + n}",
                name=person.name,
                originalContactPageUrl=f"https://facebook.example/{100000 + n}",
            )
        )
    if n % 6 == 5:
        identities.append(_identity(contact_id, "LiveChat", f"visitor-{n}", name=person.first))
    return {
        "id": contact_id,
        "name": person.name,
        "description": "",
        "firstName": person.first,
        "lastName": person.last,
        "alias": person.first[:4] if n % 2 else "",
        "title": person.title,
        "company": person.company,
        "fax": "" if n % 5 else us_national(person.phone).replace("555", "556"),
        "phone": us_national(person.phone),
        "mailingAddress": f"{100 + n} Market Street",
        "city": person.city,
        "stateOrProvince": person.region,
        "countryOrRegion": person.country,
        "postalOrZipCode": person.postal_code,
        "createTime": _time(n * 90),
        "lastUpdatedTime": _time(n * 90 + 45),
        "mergeToContactId": merged_to,
        "contactIdentities": identities,
    }


def sample_records() -> list[dict[str, Any]]:
    """Forty customers, near-misses, and the merged records the merge tests rely on."""
    records = [_record(f"customer-{i}", CUSTOMERS[i], i) for i in HELD_CUSTOMERS]
    records[7]["mergeToContactId"] = ZERO_GUID  # explicitly "not merged"
    records.append(_record("near-miss-0", NEAR_MISSES[0], 41))
    # Two hops: old-5a -> old-5b -> customer-5; the husks still carry an old company name.
    old_5 = replace(CUSTOMERS[5], company="Hooli (old)")
    records.append(_record("old-5b", old_5, 42, merged_to=guid("customer-5")))
    records.append(_record("old-5a", old_5, 43, merged_to=guid("old-5b")))
    # Three husks -> customer-6, from the time the person worked elsewhere.
    old_6 = replace(CUSTOMERS[6], company="Pied Piper (old)")
    for k in range(3):
        records.append(_record(f"dup-6-{k}", old_6, 44 + k, merged_to=guid("customer-6")))
    # A cycle: loop-a -> loop-b -> loop-a.
    records.append(_record("loop-a", CUSTOMERS[8], 47, merged_to=guid("loop-b")))
    records.append(_record("loop-b", CUSTOMERS[8], 48, merged_to=guid("loop-a")))
    # A target that was deleted: dangling -> (nothing).
    records.append(_record("dangling", CUSTOMERS[9], 49, merged_to=guid("deleted-record")))
    return records


def generated_records(people: range) -> list[dict[str, Any]]:
    """One record per generated person (see `people.generated`), for runs at size."""
    return [_record(f"generated-{i}", generated(i), i) for i in people]


class Comm100Simulator:
    """One simulated Comm100 site; `app` is the ASGI app, `state` the request log and faults."""

    def __init__(
        self,
        *,
        token: str | None = DEMO_TOKEN,
        email: str | None = None,
        api_key: str | None = None,
        site_id: int | None = None,
        records: list[dict[str, Any]] | None = None,
        paging: PagingMode = "documented",
        case_sensitive: bool = False,
    ) -> None:
        self.token, self.email, self.api_key, self.site_id = token, email, api_key, site_id
        self.paging = paging
        # The document does not say whether its filters ignore case: this mode matches exactly.
        self.case_sensitive = case_sensitive
        self.records: dict[str, dict[str, Any]] = {
            r["id"]: r for r in (sample_records() if records is None else records)
        }
        self.state = SimulatorState()
        self._created = 0
        routes = [
            Route("/global/contacts", self.list_or_create, methods=["GET", "POST"]),
            Route("/global/contacts/{id}", self.one, methods=["GET", "PUT", "DELETE"]),
        ]
        self.app = build_app([Mount(PREFIX, routes=routes)], self.state)

    # ------------------------------------------------------------------ checks

    def _refusal(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        ok = False
        if self.token is not None and header == f"Bearer {self.token}":
            ok = True
        if self.email is not None and header.startswith("Basic "):
            try:
                pair = base64.b64decode(header[6:], validate=True).decode()
            except ValueError:
                pair = ""
            ok = ok or pair == f"{self.email}:{self.api_key}"
        if not ok:
            return _error(401, "Authorization has been denied for this request.")
        if self.site_id is not None and request.query_params.get("siteId") != str(self.site_id):
            return _error(403, "siteId is missing or does not match this account.")
        return None

    # ------------------------------------------------------------------ routes

    async def list_or_create(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if request.method == "POST":
            return await self._create(request)
        q = request.query_params
        unknown = sorted(set(q) - LIST_PARAMS)
        if unknown:
            return _error(400, f"Unknown parameter(s): {', '.join(unknown)}")
        if q.get("include") not in (None, "contactIdentity"):
            return _error(400, "include: allowed value is 'contactIdentity'")
        try:
            page_index = int(q.get("pageIndex", "1"))
            page_size = int(q.get("pageSize", "10"))
        except ValueError:
            return _error(400, "pageIndex and pageSize must be integers")
        if page_index < 1 or not 1 <= page_size <= 100:
            return _error(400, "pageIndex starts at 1; pageSize is between 1 and 100")
        # Unfiltered (as every sync pass asks): no record needs testing.
        filtered = any(q.get(p) for p in FILTER_PARAMS)
        everything = list(self.records.values())
        matching = [r for r in everything if _matches(r, q, exact=self.case_sensitive)] if filtered else everything
        start = (page_index - 1) * page_size
        page = matching[start : start + page_size]
        next_page = _page_url(request, page_index + 1) if start + page_size < len(matching) else None
        page, next_page = self._misbehave(request, matching, page, next_page, page_index, page_size)
        with_identities = q.get("include") == "contactIdentity"
        body = {
            "contacts": [_shown(r, with_identities) for r in page],
            "nextPage": next_page,
            "previousPage": _page_url(request, page_index - 1) if page_index > 1 else None,
            "total": len(matching),
        }
        return JSONResponse(body)

    def _misbehave(
        self,
        request: Request,
        matching: list[dict[str, Any]],
        page: list[dict[str, Any]],
        next_page: str | None,
        page_index: int,
        page_size: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The page and `nextPage` a broken vendor would answer in `self.paging` mode."""
        mode = self.paging
        if mode == "same-url":
            return page, str(request.url)
        if mode == "stuck-index":  # another URL, the same page index
            return page, str(request.url.include_query_params(pageSize=page_size % 100 + 1))
        if mode == "empty-with-more":
            return [], _page_url(request, page_index + 1)
        if mode == "endless":
            return matching[:page_size], _page_url(request, page_index + 1)
        if mode == "foreign-origin":
            return page, str(request.url.replace(hostname="elsewhere.example").include_query_params(pageIndex=2))
        return page, next_page

    async def one(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        contact_id = request.path_params["id"]
        record = self.records.get(contact_id)
        if request.method == "GET":
            unknown = sorted(set(request.query_params) - {"include", "siteId"})
            if unknown:
                return _error(400, f"Unknown parameter(s): {', '.join(unknown)}")
            if record is None:
                return _error(404, "Contact not found.")
            return JSONResponse(_shown(record, request.query_params.get("include") == "contactIdentity"))
        if record is None:
            return _error(404, "Contact not found.")
        if request.method == "DELETE":
            del self.records[contact_id]
            return Response(status_code=204)
        body, problem = await _checked_body(request)
        if problem is not None:
            return problem
        # A full replacement: a body without createTime gets a new one, as the document lists
        # createTime among the PUT fields (a client must send back what it read).
        replaced = _from_body(contact_id, body, created=None)
        self.records[contact_id] = replaced
        return JSONResponse(_shown(replaced, False))

    async def _create(self, request: Request) -> Response:
        body, problem = await _checked_body(request)
        if problem is not None:
            return problem
        self._created += 1
        contact_id = guid(f"created-{self._created}-{body['name']}")
        record = _from_body(contact_id, body, created=None)
        self.records[contact_id] = record
        return JSONResponse(_shown(record, False), status_code=201)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status_code=status)


def _shown(record: dict[str, Any], with_identities: bool) -> dict[str, Any]:
    if with_identities:
        return record
    return {k: v for k, v in record.items() if k != "contactIdentities"}


def _page_url(request: Request, page_index: int) -> str:
    return str(request.url.include_query_params(pageIndex=page_index))


def _matches(record: dict[str, Any], q: Any, *, exact: bool) -> bool:
    keywords = q.get("contactKeywords")
    if keywords and not any(contains_text(record.get(k), keywords, exact=exact) for k in ("name", "company", "alias")):
        return False
    identity_filters = [
        ("contactIdentityType", "contactIdentityType", same_text),
        ("contactIdentityValue", "value", same_text),
        ("contactIdentityName", "name", same_text),
        ("contactIdentityValueSearch", "value", contains_text),
    ]
    wanted = [(field, q[param], test) for param, field, test in identity_filters if q.get(param)]
    if not wanted:
        return True
    return any(
        all(test(identity.get(field), value, exact=exact) for field, value, test in wanted)
        for identity in record.get("contactIdentities", [])
    )


async def _checked_body(request: Request) -> tuple[dict[str, Any], Response | None]:
    body, problem = await json_body(request)
    if problem is not None:
        return {}, problem
    if not isinstance(body, dict):
        return {}, _error(400, "The request body must be a JSON object.")
    unknown = sorted(set(body) - WRITABLE - {"id"})
    if unknown:
        return {}, _error(400, f"Unknown field(s): {', '.join(unknown)}")
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        return {}, _error(400, "The field 'name' is required.")
    identities = body.get("contactIdentities", [])
    if not isinstance(identities, list) or not all(
        isinstance(i, dict) and set(i) <= IDENTITY_FIELDS and i.get("contactIdentityType") for i in identities
    ):
        return {}, _error(400, "contactIdentities: each needs a contactIdentityType")
    return body, None


def _from_body(contact_id: str, body: dict[str, Any], created: str | None) -> dict[str, Any]:
    """A full replacement: every field the body leaves out is empty afterwards."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    record: dict[str, Any] = {field: "" for field in WRITABLE}
    record.update({k: v for k, v in body.items() if k != "id"})
    record["id"] = contact_id
    record["createTime"] = created or body.get("createTime") or now
    record["lastUpdatedTime"] = now
    record["mergeToContactId"] = body.get("mergeToContactId")
    record["contactIdentities"] = [
        {
            **{f: "" for f in IDENTITY_FIELDS},
            **i,
            "id": i.get("id") or guid(f"identity-{contact_id}-{n}"),
            "contactId": contact_id,
        }
        for n, i in enumerate(body.get("contactIdentities") or [])
    ]
    return record


DEMO = DemoBackend(
    "support",
    Comm100Simulator,
    demo_backend_settings,
    generated_records,
    customers=HELD_CUSTOMERS,
    merged_example=guid("old-5a"),
)
