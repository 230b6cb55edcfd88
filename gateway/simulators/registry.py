"""The simulators `demo` starts, one per vendor, with the backend config that reaches each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp

from gateway.simulators import agentvoice, comm100, genesys, motioncx
from gateway.simulators.common import SimulatorState


class Simulator(Protocol):
    @property
    def app(self) -> ASGIApp: ...

    @property
    def state(self) -> SimulatorState: ...


@dataclass(frozen=True, slots=True)
class DemoBackend:
    """A backend of the demo: its config name, its simulator, and its settings given a base URL."""

    name: str
    make: Callable[[], Simulator]
    settings: Callable[[str], dict[str, Any]]


DEMO_BACKENDS: tuple[DemoBackend, ...] = (
    DemoBackend("support", comm100.Comm100Simulator, comm100.demo_backend_settings),
    DemoBackend("agents", motioncx.MotionCXSimulator, motioncx.demo_backend_settings),
    DemoBackend("voice", agentvoice.AgentVoiceSimulator, agentvoice.demo_backend_settings),
    DemoBackend("routing", genesys.GenesysSimulator, genesys.demo_backend_settings),
)
