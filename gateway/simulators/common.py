"""What every vendor simulator shares: a request log the tests can count, and faults they can
inject (status codes, latency, garbage bodies, 429 with Retry-After, hanging or dropped
connections), applied by one ASGI middleware in front of the simulator's routes; and `DemoBackend`,
the entry by which a simulator module declares itself to the demo and the tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.simulators.people import generated_share


class DroppedConnection(Exception):
    """Raised inside the app to make the server (or ASGITransport) drop the connection."""


@dataclass(slots=True)
class Fault:
    """One injected misbehaviour; `times` None means "until cleared"."""

    kind: str  # "status" | "latency" | "garbage" | "hang" | "drop"
    status: int = 500
    seconds: float = 0.0
    retry_after: float | None = None
    body: bytes = b""
    times: int | None = None
    path_prefix: str = ""
    # Matching requests to let through untouched before the fault starts (e.g. "fail page 3").
    after: int = 0


@dataclass(slots=True)
class Call:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class SimulatorState:
    """The request log and fault list of one simulator; tests read and change it directly."""

    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    latency_s: float = 0.0

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        return sum(1 for c in self.calls if (method is None or c.method == method) and c.path.startswith(path_prefix))

    def reset(self) -> None:
        self.calls.clear()

    def inject(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if path.startswith(fault.path_prefix):
                if fault.after > 0:
                    fault.after -= 1
                    return None
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None


class FaultMiddleware:
    """Logs every request, then applies the first matching injected fault, if any."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        self.state.calls.append(Call(scope["method"], path, scope.get("query_string", b"").decode("latin-1"), headers))
        if self.state.latency_s:
            await asyncio.sleep(self.state.latency_s)
        fault = self.state.take_fault(path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        await self._apply(fault, scope, receive, send)

    async def _apply(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        if fault.kind == "latency":
            await asyncio.sleep(fault.seconds)
            await self.app(scope, receive, send)
        elif fault.kind == "hang":
            await asyncio.sleep(fault.seconds or 3600)
        elif fault.kind == "drop":
            raise DroppedConnection("simulated dropped connection")
        elif fault.kind == "garbage":
            body = fault.body or b"<html>502 Bad Gateway</html>\x00\xff"
            await Response(body, status_code=200, media_type="application/json")(scope, receive, send)
        else:
            headers = {}
            if fault.retry_after is not None:
                headers["retry-after"] = str(fault.retry_after)
            response = JSONResponse(
                {"error": f"simulated HTTP {fault.status}"},
                status_code=fault.status,
                headers=headers,
            )
            await response(scope, receive, send)


class SimulatorTransport(httpx.ASGITransport):
    """An in-process transport to a simulator; a simulated dropped connection surfaces as the
    error httpx raises for a real one."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except DroppedConnection:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None


def build_app(routes: list[BaseRoute], state: SimulatorState) -> Starlette:
    """A Starlette app with the simulator's routes behind the fault/logging middleware."""
    app = Starlette(routes=routes)
    app.add_middleware(FaultMiddleware, state=state)
    app.state.simulator = state
    return app


async def json_body(request: Request) -> tuple[Any, Response | None]:
    """The request's JSON body, or a 400 response naming the problem."""
    try:
        return json.loads(await request.body()), None
    except (ValueError, UnicodeDecodeError):
        return None, JSONResponse({"error": "body is not valid JSON"}, status_code=400)


Handler = Callable[[Request], Awaitable[Response]]
Headers = MutableMapping[str, str]


def keyed_by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Records by id, in order. A test may hand in a malformed record without an id: it gets a
    placeholder key so it is still served in lists."""
    return {str(r.get("id") or f"no-id-{n}"): r for n, r in enumerate(records)}


def same_text(stored: Any, wanted: str, *, exact: bool) -> bool:
    """A text filter's comparison: trimmed and without case, or (`exact`, a simulator's
    case-sensitive mode: no vendor document promises more) the value exactly as stored."""
    if not isinstance(stored, str):
        return False
    return stored == wanted if exact else stored.strip().casefold() == wanted.strip().casefold()


def contains_text(stored: Any, needle: str, *, exact: bool) -> bool:
    """A search filter's comparison: a substring without case, or (`exact`) as written."""
    if not isinstance(stored, str):
        return False
    return needle in stored if exact else needle.casefold() in stored.casefold()


class Simulator(Protocol):
    @property
    def app(self) -> ASGIApp: ...

    @property
    def state(self) -> SimulatorState: ...


@dataclass(frozen=True, slots=True)
class DemoBackend:
    """A simulator module's entry in the demo (gateway/simulators/registry.py): the backend's
    config name, the simulator, the settings that reach it at a base URL, and what its sample data
    holds, so that tests derive their expectations from it rather than from a list of vendors."""

    name: str
    make: Callable[..., Simulator]
    settings: Callable[[str], dict[str, Any]]
    # Records for generated people (`demo --contacts N`): hand them to `make(records=...)`.
    generated: Callable[[range], list[dict[str, Any]]]
    # Which of `people.CUSTOMERS` its sample data holds (by index).
    customers: tuple[int, ...] = ()
    # The native id of a sample record merged into another, when the vendor merges records.
    merged_example: str | None = None

    @property
    def vendor(self) -> str:
        """The vendor key its settings name."""
        return str(self.settings("http://simulator.invalid")["vendor"])

    def make_generated(self, rank: int, count: int) -> Simulator:
        """This simulator holding `count` generated contacts (its share of the generated people)."""
        return self.make(records=self.generated(generated_share(rank, count)))
