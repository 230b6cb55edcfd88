"""The simulators `demo` starts, one per vendor, with the backend config that reaches each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp

from gateway.simulators import agentvoice, comm100, genesys, motioncx
from gateway.simulators.common import SimulatorState
from gateway.simulators.people import generated_share


class Simulator(Protocol):
    @property
    def app(self) -> ASGIApp: ...

    @property
    def state(self) -> SimulatorState: ...


@dataclass(frozen=True, slots=True)
class DemoBackend:
    """A backend of the demo: its config name, its simulator, and its settings given a base URL."""

    name: str
    make: Callable[..., Simulator]
    settings: Callable[[str], dict[str, Any]]
    # Records for generated people (`demo --contacts N`): hand them to `make(records=...)`.
    generated: Callable[[range], list[dict[str, Any]]]

    def make_generated(self, rank: int, count: int) -> Simulator:
        """This simulator holding `count` generated contacts (its share of the generated people)."""
        return self.make(records=self.generated(generated_share(rank, count)))


DEMO_BACKENDS: tuple[DemoBackend, ...] = (
    DemoBackend("support", comm100.Comm100Simulator, comm100.demo_backend_settings, comm100.generated_records),
    DemoBackend("agents", motioncx.MotionCXSimulator, motioncx.demo_backend_settings, motioncx.generated_records),
    DemoBackend(
        "voice", agentvoice.AgentVoiceSimulator, agentvoice.demo_backend_settings, agentvoice.generated_records
    ),
    DemoBackend("routing", genesys.GenesysSimulator, genesys.demo_backend_settings, genesys.generated_records),
)
