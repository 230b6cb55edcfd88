"""A Genesys Web Services contacts simulator that follows the vendor document strictly, for `demo`
and tests.

Serves `GET/POST /api/v2/contacts` and `PUT/DELETE /api/v2/contacts/{id}`. The document gives the
operations, the attributes (any of which filters the list, ANDed), the permissions (reading needs
an Agent or a Contact Center Admin; writing needs an Admin) and that only "custom" contacts can be
written. Where it is silent this simulator chooses, after GWS's conventions:
- every answer is an envelope with `statusCode` (0 is success) and, on failure, `statusMessage`;
  failures carry GWS's documented codes (the "Return Values" page of the Web Services API) and an
  HTTP status: 400 (statusCode 1 missing or 2 invalid parameter), 401 (20, not authenticated),
  403 (5, no permission; 11 for a read-only Queue or User), 404 (6, no such contact);
- Basic (`DEMO_ADMIN`, `DEMO_AGENT` users) and Bearer (`DEMO_TOKEN`, an admin) are accepted;
- filters match the whole value without case (the document's own `type=custom` finds "Custom"),
  or, in the case-sensitive mode, exactly (all but `type`);
  a parameter that is not an attribute is 400;
- POST takes `name`, `type` ("Custom", any case, as in the document's example) and `phoneNumber`
  and answers 200 with the new `id`; PUT takes only the attributes the document makes writable
  (`name`, `phoneNumber`: `type` is GET-only, 400 with statusCode 11) and replaces both (an absent
  `phoneNumber` is cleared); any other body field, and a null or non-text value, is 400; writing a
  Queue or User is 403 ("read-only"); `name` is required;
- ids are free strings (the document's own is "Some unique id"): a path segment is percent-decoded
  whole, so an id holding `/` is one segment when the client encodes it.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from gateway.simulators.common import DemoBackend, SimulatorState, build_app, keyed_by_id, same_text
from gateway.simulators.people import AGENTS, CUSTOMERS, generated, us_dashed, us_national

PREFIX = "/api/v2"
DEMO_ADMIN = ("gws-admin", "gws-admin-password")
DEMO_AGENT = ("gws-agent", "gws-agent-password")
DEMO_TOKEN = "gws-demo-bearer-token"  # noqa: S105 (a simulator's sample credential)
ATTRIBUTES = ("id", "name", "type", "phoneNumber", "userName", "firstName", "lastName", "employeeId")
WRITABLE = {"name", "type", "phoneNumber"}
_NS = uuid.UUID("6c0e5a1d-3f2b-4e8a-9d7c-0b1e2f3a4b5c")
# Which of people.CUSTOMERS the sample data holds (as Custom contacts; the agents are users).
HELD_CUSTOMERS = (0, 1, 2, 36, 37, 38)


def contact_id(label: str) -> str:
    """The stable id of a sample record (GWS ids are opaque strings: hex here)."""
    return uuid.uuid5(_NS, label).hex


def sample_records() -> list[dict[str, Any]]:
    """Custom contacts for some customers, queues, and users (the contact-center staff)."""
    records: list[dict[str, Any]] = []
    for k, i in enumerate(HELD_CUSTOMERS):
        person = CUSTOMERS[i]
        phone = (us_dashed, us_national)[k % 2](person.phone)
        records.append({"id": contact_id(f"customer-{i}"), "name": person.name, "type": "Custom", "phoneNumber": phone})
    for name, number in (("Support Queue", "+14155550900"), ("Billing Queue", "+14155550901"), ("VIP Queue", "")):
        queue = {"id": contact_id(f"queue-{name}"), "name": name, "type": "Queue"}
        if number:
            queue["phoneNumber"] = number
        records.append(queue)
    for k, agent in enumerate(AGENTS):
        records.append(
            {
                "id": contact_id(f"user-{k}"),
                "name": agent.name,
                "type": "User",
                "phoneNumber": us_dashed(agent.phone),
                "userName": f"{agent.first[0]}{agent.last}".lower(),
                "firstName": agent.first,
                "lastName": agent.last,
                "employeeId": f"E{1000 + k}",
            }
        )
    for k in range(6):  # custom contacts only Genesys knows: suppliers and hotlines
        records.append(
            {
                "id": contact_id(f"custom-{k}"),
                "name": f"Hotline {k + 1}",
                "type": "Custom",
                "phoneNumber": f"800-555-01{k:02d}",
            }
        )
    return records


def generated_records(people: range) -> list[dict[str, Any]]:
    """A Custom contact per generated person (see `people.generated`), for runs at size."""
    return [
        {
            "id": contact_id(f"generated-{i}"),
            "name": generated(i).name,
            "type": "Custom",
            "phoneNumber": generated(i).phone,
        }
        for i in people
    ]


class GenesysSimulator:
    """One simulated GWS server; `app` is the ASGI app, `state` the request log and faults."""

    def __init__(self, *, records: list[dict[str, Any]] | None = None, case_sensitive: bool = False) -> None:
        self.records = keyed_by_id(sample_records() if records is None else records)
        # The document does not say whether attribute filters ignore case (except `type`, whose
        # own example `type=custom` finds "Custom"): this mode matches every other one exactly.
        self.case_sensitive = case_sensitive
        self.state = SimulatorState()
        self._created = 0
        routes = [
            Route("/contacts", self.list_or_create, methods=["GET", "POST"]),
            Route("/contacts/{id:path}", self.one, methods=["PUT", "DELETE"]),
        ]
        self.app = build_app([Mount(PREFIX, routes=routes)], self.state)

    # ------------------------------------------------------------------ checks

    def _role(self, request: Request) -> str | None:
        """ "admin", "agent", or None when the credentials are missing or wrong."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return "admin" if value == DEMO_TOKEN else None
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except ValueError:
            return None
        return {DEMO_ADMIN: "admin", DEMO_AGENT: "agent"}.get((user, password))

    def _refusal(self, request: Request, *, write: bool) -> Response | None:
        role = self._role(request)
        if role is None:
            return _fail(401, 20, "User is not authenticated")
        if write and role != "admin":
            return _fail(403, 5, "Contact Center Admin permission is required")
        return None

    # ------------------------------------------------------------------ routes

    async def list_or_create(self, request: Request) -> Response:
        refusal = self._refusal(request, write=request.method == "POST")
        if refusal is not None:
            return refusal
        if request.method == "POST":
            return await self._create(request)
        unknown = sorted(set(request.query_params) - set(ATTRIBUTES))
        if unknown:
            return _fail(400, 1, f"Unknown attribute(s): {', '.join(unknown)}")
        found = [
            r
            for r in self.records.values()
            if all(
                same_text(str(r.get(k, "")), v, exact=self.case_sensitive and k != "type")
                for k, v in request.query_params.items()
            )
        ]
        return JSONResponse({"statusCode": 0, "contacts": found})

    async def _create(self, request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        if str(body.get("type", "")).casefold() != "custom":
            return _fail(403, 11, "Only contacts of type Custom can be created")
        if request.query_params:
            return _fail(400, 1, "POST takes no query parameters")
        self._created += 1
        record = {"id": contact_id(f"created-{self._created}"), "name": body["name"], "type": "Custom"}
        if body.get("phoneNumber"):
            record["phoneNumber"] = body["phoneNumber"]
        self.records[record["id"]] = record
        return JSONResponse({"statusCode": 0, "id": record["id"]})

    async def one(self, request: Request) -> Response:
        refusal = self._refusal(request, write=True)
        if refusal is not None:
            return refusal
        if request.query_params:
            return _fail(400, 1, f"{request.method} takes no query parameters")
        record = self.records.get(request.path_params["id"])
        if record is None:
            return _fail(404, 6, "Contact not found")
        if str(record.get("type", "")).casefold() != "custom":
            return _fail(403, 11, f"Contacts of type {record.get('type')} are read-only")
        if request.method == "DELETE":
            del self.records[record["id"]]
            return JSONResponse({"statusCode": 0})
        body = await _body(request)
        if isinstance(body, Response):
            return body
        if "type" in body:
            return _fail(400, 11, "type is a read-only property")
        record["name"] = body["name"]
        if body.get("phoneNumber"):
            record["phoneNumber"] = body["phoneNumber"]
        else:
            record.pop("phoneNumber", None)
        return JSONResponse({"statusCode": 0})


async def _body(request: Request) -> dict[str, Any] | Response:
    """A write's JSON object of known fields holding text, with a non-empty `name`."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _fail(400, 1, "The body is not valid JSON")
    if not isinstance(body, dict):
        return _fail(400, 1, "The body must be a JSON object")
    unknown = sorted(set(body) - WRITABLE)
    if unknown:
        return _fail(400, 1, f"Unknown or read-only attribute(s): {', '.join(unknown)}")
    if any(not isinstance(v, str) for v in body.values()):
        return _fail(400, 1, "Attributes must be strings")
    if not str(body.get("name") or "").strip():
        return _fail(400, 1, "name is required")
    return body


def _fail(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"statusCode": code, "statusMessage": message}, status_code=status)


def demo_backend_settings(root: str) -> dict[str, Any]:
    """The backend config that reaches a simulator served at `root` with the demo admin's Basic auth."""
    return {"vendor": "genesys", "url": root + PREFIX, "username": DEMO_ADMIN[0], "password": DEMO_ADMIN[1]}


DEMO = DemoBackend("routing", GenesysSimulator, demo_backend_settings, generated_records, customers=HELD_CUSTOMERS)
