"""An AgentVoice contacts simulator that follows the vendor document strictly, for `demo` and tests.

Serves `/api/contacts[/{id}]`, `/api/contacts/crm/lookup` and `/api/webhook/crm` behind the
`x-api-key` and `x-organization-id` headers. Where the document is silent it chooses:
- errors are `{"error": "..."}`; a missing or wrong header is 401; an id that is not a stored
  UUID is 404; unknown query parameters, unknown or read-only body fields and non-text values are
  400 (a strict server, so a client sending a wrong name finds out);
- create answers 201, update/delete/lookup 200; the webhook answers 201 when it creates and 200
  when it updates, and its contact omits `last_task_run`/`total_tasks_run` like the document's;
- a CRM id is unique per (crm_source without case, crm_id as written): a clash on create or PATCH
  is 409, and the lookup matches the same way; PATCH with `{}` is 400 ("No fields to update");
  null in a PATCH clears a field, and the result must still satisfy the required-field rules;
- the webhook ignores fields it does not know (CRMs send plenty), takes the documented aliases,
  accepts a numeric crm_id, and on update changes only the fields sent, except that a first_name
  not provided (absent or null) becomes "Unknown" on update as on creation: the document states
  that default without limiting it to new contacts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from gateway.simulators.common import DemoBackend, SimulatorState, build_app, json_body, keyed_by_id, same_text
from gateway.simulators.people import CUSTOMERS, NEAR_MISSES, Person, generated, shouted

PREFIX = "/api"
DEMO_API_KEY = "agentvoice-demo-key"
DEMO_ORGANIZATION_ID = "5b0c7f4e-2d1a-4c3b-9e8f-a9e0c0ffee01"
# The user the API key belongs to: new contacts are "associated with the authenticated user".
DEMO_USER_ID = "0d3f9a61-7b2e-4f50-8c1d-2e4b6a8c0a11"
WRITABLE = ("first_name", "last_name", "email", "phone", "company", "crm_id", "crm_source")
# The webhook's accepted spellings of each field, canonical name first.
WEBHOOK_ALIASES = {
    "first_name": ("first_name", "firstName", "name"),
    "last_name": ("last_name", "lastName"),
    "email": ("email", "emailAddress"),
    "phone": ("phone", "phoneNumber"),
    "company": ("company", "companyName", "organization"),
}
_NS = uuid.UUID("a9e1d7c2-4b3f-4e5a-8d6c-0a9e0c0ffee2")
_EPOCH = datetime(2024, 2, 5, 14, 30, tzinfo=UTC)
# Which of people.CUSTOMERS the sample data holds.
HELD_CUSTOMERS = (*range(0, 5), *range(35, 45), *range(50, 60))


def contact_id(label: str) -> str:
    """The stable UUID of a sample record (tests name records by label)."""
    return str(uuid.uuid5(_NS, label))


def _time(minutes: int) -> str:
    return (_EPOCH + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _crm(index: int) -> tuple[str | None, str | None]:
    """Salesforce 18-character ids for some, HubSpot numeric ids for others, none for a few."""
    if index % 3 == 0:
        return "salesforce", f"0035e00000{index:04d}XAAQ"
    if index % 3 == 1:
        return "hubspot", str(51000 + index * 7)
    return None, None


def _email(person: Person, n: int) -> str:
    if n % 4 == 1:
        return shouted(person.email)
    if n % 7 == 3:
        return person.email.upper()
    return person.email


def _record(label: str, person: Person, n: int, crm: tuple[str | None, str | None]) -> dict[str, Any]:
    source, crm_id = crm
    runs = (n * 5) % 13
    return {
        "id": contact_id(label),
        "user_id": DEMO_USER_ID,
        "first_name": person.first,
        "last_name": person.last,
        "email": _email(person, n),
        "phone": person.phone,
        "company": person.company,
        "created_at": _time(n * 240),
        "updated_at": _time(n * 240 + 30 + runs),
        "last_task_run": _time(n * 240 + 600) if runs else None,
        "total_tasks_run": runs,
        "organization_id": DEMO_ORGANIZATION_ID,
        "crm_id": crm_id,
        "crm_source": source,
    }


def sample_records() -> list[dict[str, Any]]:
    """The AgentVoice customers, a near-miss, and contacts a CRM webhook created with little data."""
    records = [_record(f"customer-{i}", CUSTOMERS[i], i, _crm(i)) for i in HELD_CUSTOMERS]
    records.append(_record("near-miss-1", NEAR_MISSES[1], 61, ("hubspot", "51999")))
    # Created by the webhook from a CRM that sent only an id and a phone: first_name "Unknown".
    for k, (source, crm_id, phone) in enumerate(
        [("salesforce", "0035e00000ZZ01XAAQ", "+14155557701"), ("hubspot", "52001", None)]
    ):
        stub = _record(f"webhook-stub-{k}", CUSTOMERS[0], 62 + k, (source, crm_id))
        stub.update(first_name="Unknown", last_name=None, email=None, phone=phone, company=None)
        stub.update(last_task_run=None, total_tasks_run=0)
        records.append(stub)
    return records


def generated_records(people: range) -> list[dict[str, Any]]:
    """One record per generated person (see `people.generated`), for runs at size."""
    return [_record(f"generated-{i}", generated(i), i, _crm(i)) for i in people]


class AgentVoiceSimulator:
    """One simulated AgentVoice organization; `app` is the ASGI app, `state` the request log and faults."""

    def __init__(
        self,
        *,
        api_key: str = DEMO_API_KEY,
        organization_id: str = DEMO_ORGANIZATION_ID,
        records: list[dict[str, Any]] | None = None,
        case_sensitive: bool = False,
    ) -> None:
        self.api_key, self.organization_id = api_key, organization_id
        # The document does not say whether crm_source compares without case: this mode is exact.
        self.case_sensitive = case_sensitive
        self.records = keyed_by_id(sample_records() if records is None else records)
        self.state = SimulatorState()
        self._created = 0
        routes = [
            Route("/contacts", self.list_or_create, methods=["GET", "POST"]),
            Route("/contacts/crm/lookup", self.lookup, methods=["GET"]),
            Route("/contacts/{id}", self.one, methods=["GET", "PATCH", "DELETE"]),
            Route("/webhook/crm", self.webhook, methods=["POST"]),
        ]
        self.app = build_app([Mount(PREFIX, routes=routes)], self.state)

    # ------------------------------------------------------------------ checks

    def _refusal(self, request: Request) -> Response | None:
        key, org = request.headers.get("x-api-key"), request.headers.get("x-organization-id")
        if not key or not org:
            return _error(401, "Missing x-api-key or x-organization-id header")
        if key != self.api_key or org != self.organization_id:
            return _error(401, "Invalid API key or organization ID")
        return None

    def _clash(self, record: dict[str, Any], own_id: str | None) -> bool:
        source, crm_id = record.get("crm_source"), record.get("crm_id")
        if source is None or crm_id is None:
            return False
        return any(r.get("id") != own_id and self._same_crm(r, source, crm_id) for r in self.records.values())

    def _same_crm(self, record: dict[str, Any], source: str, crm_id: str) -> bool:
        return same_text(record.get("crm_source"), source, exact=self.case_sensitive) and record.get("crm_id") == crm_id

    def _by_crm(self, source: str, crm_id: str) -> dict[str, Any] | None:
        return next((r for r in self.records.values() if self._same_crm(r, source, crm_id)), None)

    # ------------------------------------------------------------------ routes

    async def list_or_create(self, request: Request) -> Response:
        refusal = self._refusal(request) or _no_params(request)
        if refusal is not None:
            return refusal
        if request.method == "GET":
            return JSONResponse(list(self.records.values()))
        body, problem = await _fields(request)
        if problem is not None:
            return problem
        record = {field: body.get(field) for field in WRITABLE}
        problem = _rule_problem(record)
        if problem is not None:
            return problem
        if self._clash(record, None):
            return _error(409, "A contact with this CRM ID already exists")
        created = self._new_record(record)
        return JSONResponse(created, status_code=201)

    async def lookup(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        q = request.query_params
        unknown = sorted(set(q) - {"crm_id", "crm_source"})
        if unknown:
            return _error(400, f"Unknown query parameter(s): {', '.join(unknown)}")
        crm_id, source = q.get("crm_id", ""), q.get("crm_source", "")
        if not crm_id or not source:
            return _error(400, "crm_id and crm_source are required")
        found = self._by_crm(source, crm_id)
        if found is None:
            return _error(404, "Contact not found")
        return JSONResponse(found)

    async def one(self, request: Request) -> Response:
        refusal = self._refusal(request) or _no_params(request)
        if refusal is not None:
            return refusal
        record = self.records.get(request.path_params["id"])
        if record is None:
            return _error(404, "Contact not found")
        if request.method == "GET":
            return JSONResponse(record)
        if request.method == "DELETE":
            del self.records[record["id"]]
            return JSONResponse({"message": "Contact deleted successfully"})
        body, problem = await _fields(request)
        if problem is not None:
            return problem
        if not body:
            return _error(400, "No fields to update")
        patched = {**record, **body}
        problem = _rule_problem(patched)
        if problem is not None:
            return problem
        if self._clash(patched, record["id"]):
            return _error(409, "A contact with this CRM ID already exists")
        patched["updated_at"] = _now()
        self.records[record["id"]] = patched
        return JSONResponse(patched)

    async def webhook(self, request: Request) -> Response:
        refusal = self._refusal(request) or _no_params(request)
        if refusal is not None:
            return refusal
        payload, problem = await json_body(request)
        if problem is not None:
            return _error(400, "Invalid JSON body")
        data = payload.get("data") if isinstance(payload, dict) else None
        source = payload.get("source") if isinstance(payload, dict) else None
        crm_id = data.get("crm_id") if isinstance(data, dict) else None
        if isinstance(crm_id, int) and not isinstance(crm_id, bool):
            crm_id = str(crm_id)
        if not isinstance(source, str) or not source.strip() or not isinstance(crm_id, str) or not crm_id.strip():
            return _error(400, "Invalid payload: source, data, and data.crm_id are required")
        assert isinstance(data, dict)
        fields = _webhook_fields(data)
        if isinstance(fields, Response):
            return fields
        existing = self._by_crm(source, crm_id)
        if fields.get("first_name") is None:
            fields["first_name"] = "Unknown"
        if existing is None:
            created = self._new_record({**fields, "crm_id": crm_id, "crm_source": source})
            return JSONResponse({"message": "Contact created successfully", "contact": _hooked(created)}, 201)
        existing.update(fields, updated_at=_now())
        return JSONResponse({"message": "Contact updated successfully", "contact": _hooked(existing)})

    def _new_record(self, fields: dict[str, Any]) -> dict[str, Any]:
        self._created += 1
        now = _now()
        record: dict[str, Any] = {
            "id": contact_id(f"created-{self._created}"),
            "user_id": DEMO_USER_ID,
            **{field: fields.get(field) for field in WRITABLE},
            "created_at": now,
            "updated_at": now,
            "last_task_run": None,
            "total_tasks_run": 0,
            "organization_id": self.organization_id,
        }
        self.records[record["id"]] = record
        return record


def demo_backend_settings(root: str) -> dict[str, Any]:
    """The backend config that reaches a simulator served at `root` with the default credentials."""
    return {
        "vendor": "agentvoice",
        "url": root + PREFIX,
        "api_key": DEMO_API_KEY,
        "organization_id": DEMO_ORGANIZATION_ID,
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _no_params(request: Request) -> Response | None:
    if request.query_params:
        return _error(400, f"Unknown query parameter(s): {', '.join(sorted(request.query_params))}")
    return None


def _hooked(record: dict[str, Any]) -> dict[str, Any]:
    """The webhook's contact: the document's shape has no task counters."""
    return {k: v for k, v in record.items() if k not in ("last_task_run", "total_tasks_run")}


async def _fields(request: Request) -> tuple[dict[str, Any], Response | None]:
    """A create or PATCH body: a JSON object of known, writable fields holding text or null."""
    body, problem = await json_body(request)
    if problem is not None:
        return {}, _error(400, "Invalid JSON body")
    if not isinstance(body, dict):
        return {}, _error(400, "Request body must be a JSON object")
    unknown = sorted(set(body) - set(WRITABLE))
    if unknown:
        return {}, _error(400, f"Unknown or read-only field(s): {', '.join(unknown)}")
    wrong = sorted(k for k, v in body.items() if v is not None and not isinstance(v, str))
    if wrong:
        return {}, _error(400, f"Field(s) must be strings: {', '.join(wrong)}")
    return {k: (v.strip() or None) if isinstance(v, str) else None for k, v in body.items()}, None


def _rule_problem(record: dict[str, Any]) -> Response | None:
    if record.get("crm_id") and not record.get("crm_source"):
        return _error(400, "crm_source is required if crm_id is provided")
    if not record.get("first_name") and not (record.get("crm_id") and record.get("crm_source")):
        return _error(400, "first_name is required unless crm_id and crm_source are provided")
    return None


def _webhook_fields(data: dict[str, Any]) -> dict[str, Any] | Response:
    """The contact fields a CRM sent, under whichever documented spelling it used."""
    fields: dict[str, Any] = {}
    for field, aliases in WEBHOOK_ALIASES.items():
        given = [data[a] for a in aliases if a in data]
        if not given:
            continue
        value = given[0]
        if value is not None and not isinstance(value, str):
            return _error(400, f"data.{field} must be a string")
        fields[field] = (value.strip() or None) if isinstance(value, str) else None
    return fields


DEMO = DemoBackend("voice", AgentVoiceSimulator, demo_backend_settings, generated_records, customers=HELD_CUSTOMERS)
