"""A MotionCX contacts simulator that follows the vendor document strictly, for `demo` and tests.

Serves `GET /crm/external/v1/contacts` with the document's parameters, behind
`Authorization: apikey <token>`, answering a bare JSON array of records shaped like the document's
example. The document lists only 200, 401 and 403; where it is silent this simulator chooses:
- a missing or wrong `Authorization` is 401; a `TenantID` that is missing, not a number or not the
  key's tenant is 403 (the key may not see that instance);
- a parameter the document does not list is 400 (so a client sending a wrong name, such as
  `IsDisabled` for the document's `IsDidabled`, finds out); the deprecated `AddRelatedTickets` and
  `RemoveRelatedTickets` are accepted and ignored;
- text filters (`Email`, `FirstName`, `LastName`, `Organization`, `Title`, `Alias`, `ExternalID`)
  match the whole value, trimmed and without case (exactly, in the case-sensitive mode); `Phone`
  matches the digits, ignoring formatting;
  `ID` matches the integer id; `IsAgent`/`IsDidabled` take `true`/`false` (any case, or 1/0);
- errors are `{"message": "..."}`; any other method is 405.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.simulators.common import DemoBackend, SimulatorState, build_app, same_text
from gateway.simulators.people import (
    AGENTS,
    CUSTOMERS,
    NEAR_MISSES,
    Person,
    generated,
    shouted,
    us_dashed,
    us_digits,
)

LIST_PATH = "/crm/external/v1/contacts"
DEMO_TOKEN = "motioncx-demo-token"  # noqa: S105 (a simulator's sample credential)
DEMO_TENANT_ID = 2
FIRST_ID = 13722
TEXT_FILTERS = {
    "Email": "email",
    "FirstName": "firstName",
    "LastName": "lastName",
    "Organization": "organization",
    "Title": "title",
    "Alias": "alias",
    "ExternalID": "externalId",
}
FLAG_FILTERS = {"IsAgent": "isAgent", "IsDidabled": "isDisabled"}
DEPRECATED = {"AddRelatedTickets", "RemoveRelatedTickets"}
KNOWN_PARAMS = {"TenantID", "ID", "Phone", *TEXT_FILTERS, *FLAG_FILTERS, *DEPRECATED}
_EPOCH = datetime(2022, 7, 11, 15, 13, 42, tzinfo=UTC)
# Which of people.CUSTOMERS the sample data holds (besides the agents).
HELD_CUSTOMERS = tuple(range(30, 50))


def _time(minutes: int) -> str:
    """The document's format: local time without a zone, seven fractional digits."""
    return (_EPOCH + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "7"


def _record(n: int, person: Person, *, agent: bool, disabled: bool = False) -> dict[str, Any]:
    phone = (us_dashed, us_digits, lambda p: p)[n % 3](person.phone)
    return {
        "id": FIRST_ID + n,
        "tenantId": DEMO_TENANT_ID,
        "relatedUserId": 900 + n if agent else None,
        "createdAt": _time(n * 60),
        "email": shouted(person.email) if n % 4 == 1 else person.email,
        "firstName": person.first,
        "lastName": person.last,
        "address1": None if agent else f"{200 + n} Mission Street",
        "address2": "Suite 4" if n % 5 == 0 else None,
        "city": person.city,
        "state": person.region,
        "postCode": person.postal_code,
        "phone": phone,
        "name": person.name,
        "displayName": person.name,
        "isAgent": agent,
        "organization": person.company,
        "title": person.title,
        "alias": person.first[:1] + person.last[:1] if agent and n % 2 else "",
        "externalId": f"EXT-{5000 + n}" if not agent and n % 3 == 0 else None,
        "isDisabled": disabled,
    }


def sample_records() -> list[dict[str, Any]]:
    """Agents (two disabled), the MotionCX customers, a near-miss, and one record shaped like the
    document's malformed example (`displayName` holding an array of records)."""
    records = [_record(k, person, agent=True, disabled=k in (3, 7)) for k, person in enumerate(AGENTS)]
    records += [_record(20 + i, CUSTOMERS[i], agent=False) for i in HELD_CUSTOMERS]
    records.append(_record(80, NEAR_MISSES[0], agent=False))
    odd = _record(81, Person("Test", "Agent", "test.agent@motioncx.example", "", "", "", "", "", "", ""), agent=True)
    odd.update(address1=None, city=None, state=None, postCode=None, phone=None, organization="", title="")
    odd["displayName"] = [{**odd, "displayName": "Test Agent"}]
    records.append(odd)
    return records


def generated_records(people: range) -> list[dict[str, Any]]:
    """One customer record per generated person (see `people.generated`), for runs at size."""
    return [_record(1000 + i, generated(i), agent=False) for i in people]


class MotionCXSimulator:
    """One simulated MotionCX instance; `app` is the ASGI app, `state` the request log and faults."""

    def __init__(
        self,
        *,
        token: str = DEMO_TOKEN,
        tenant_id: int = DEMO_TENANT_ID,
        records: list[dict[str, Any]] | None = None,
        case_sensitive: bool = False,
        auth_scheme: str = "apikey",
    ) -> None:
        self.token, self.tenant_id, self.auth_scheme = token, tenant_id, auth_scheme
        # The document does not say whether its filters ignore case: this mode matches exactly.
        self.case_sensitive = case_sensitive
        self.records: list[dict[str, Any]] = sample_records() if records is None else records
        self.state = SimulatorState()
        self.app = build_app([Route(LIST_PATH, self.contacts, methods=["GET"])], self.state)

    async def contacts(self, request: Request) -> Response:
        if request.headers.get("authorization", "") != f"{self.auth_scheme} {self.token}":
            return _error(401, f"Unauthorized: a valid 'Authorization: {self.auth_scheme} <token>' header is required")
        tenant = request.query_params.get("TenantID", "")
        if not tenant.strip().isdigit() or int(tenant) != self.tenant_id:
            return _error(403, "Forbidden: this key has no access to that TenantID")
        unknown = sorted(set(request.query_params) - KNOWN_PARAMS)
        if unknown:
            return _error(400, f"Unknown parameter(s): {', '.join(unknown)}")
        try:
            found = [r for r in self.records if _matches(r, request.query_params, exact=self.case_sensitive)]
        except ValueError as exc:
            return _error(400, str(exc))
        return JSONResponse(found)


def _matches(record: dict[str, Any], params: Any, *, exact: bool) -> bool:
    if "ID" in params:
        if not params["ID"].strip().isdigit():
            raise ValueError("ID must be a number")
        if record.get("id") != int(params["ID"]):
            return False
    for param, field in TEXT_FILTERS.items():
        if param in params and not same_text(record.get(field), params[param], exact=exact):
            return False
    if "Phone" in params:
        wanted = "".join(c for c in params["Phone"] if c.isdigit())
        have = "".join(c for c in str(record.get("phone") or "") if c.isdigit())
        if not wanted or have.removeprefix("1") != wanted.removeprefix("1"):
            return False
    for param, field in FLAG_FILTERS.items():
        if param in params and bool(record.get(field)) != _flag(param, params[param]):
            return False
    return True


def _flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false", "1", "0"):
        raise ValueError(f"{name} must be true or false")
    return lowered in ("true", "1")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def demo_backend_settings(root: str) -> dict[str, Any]:
    """The backend config that reaches a simulator served at `root` with the default credentials."""
    return {"vendor": "motioncx", "url": root, "tenant_id": DEMO_TENANT_ID, "token": DEMO_TOKEN}


DEMO = DemoBackend("agents", MotionCXSimulator, demo_backend_settings, generated_records, customers=HELD_CUSTOMERS)
