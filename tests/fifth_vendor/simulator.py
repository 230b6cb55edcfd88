"""A simulator of the Ringline people API (tests/fifth_vendor/backend.py), for the demo and tests."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.simulators.common import DemoBackend, SimulatorState, build_app, keyed_by_id
from gateway.simulators.people import CUSTOMERS, Person, generated, us_dashed

DEMO_KEY = "ringline-demo-key"
# Which of people.CUSTOMERS the sample data holds: some in every built-in vendor, some in none.
HELD_CUSTOMERS = (*range(36, 40), *range(44, 60))


def _record(label: str, person: Person) -> dict[str, Any]:
    return {
        "id": label,
        "fullName": person.name,
        "given": person.first,
        "family": person.last,
        "mail": person.email,
        "tel": us_dashed(person.phone),
        "org": person.company,
        "inactive": False,
    }


def sample_records() -> list[dict[str, Any]]:
    return [_record(f"rl-{i}", CUSTOMERS[i]) for i in HELD_CUSTOMERS]


def generated_records(people: range) -> list[dict[str, Any]]:
    return [_record(f"rl-g{i}", generated(i)) for i in people]


class RinglineSimulator:
    def __init__(
        self, *, api_key: str = DEMO_KEY, records: list[dict[str, Any]] | None = None, case_sensitive: bool = False
    ) -> None:
        self.api_key = api_key
        self.records = keyed_by_id(sample_records() if records is None else records)
        self.state = SimulatorState()
        people = Route("/people", self.people, methods=["GET"])
        self.app = build_app([people, Route("/people/{id}", self.person, methods=["GET"])], self.state)

    def _refused(self, request: Request) -> Response | None:
        if request.headers.get("x-ringline-key") != self.api_key:
            return JSONResponse({"error": "unknown key"}, status_code=401)
        return None

    async def people(self, request: Request) -> Response:
        return self._refused(request) or JSONResponse({"people": list(self.records.values())})

    async def person(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        found = self.records.get(request.path_params["id"])
        return JSONResponse(found) if found is not None else JSONResponse({"error": "no such person"}, status_code=404)


def demo_backend_settings(root: str) -> dict[str, Any]:
    return {"vendor": "ringline", "url": root, "api_key": DEMO_KEY}


DEMO = DemoBackend("desk", RinglineSimulator, demo_backend_settings, generated_records, customers=HELD_CUSTOMERS)
