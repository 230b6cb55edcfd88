"""The simulators `demo` starts, one per vendor, with the backend config that reaches each: the
built-in ones, listed here, then any installed package's, found through the
`contact_gateway.simulators` entry points (each names a `DemoBackend`; see README, "Adding a
vendor"). Tests take their vendors, and what each one's sample data holds, from here."""

from __future__ import annotations

from importlib.metadata import entry_points

from gateway.simulators import agentvoice, comm100, genesys, motioncx
from gateway.simulators.common import DemoBackend, Simulator

__all__ = ["DEMO_BACKENDS", "ENTRY_POINTS", "DemoBackend", "Simulator"]

ENTRY_POINTS = "contact_gateway.simulators"
BUILT_IN: tuple[DemoBackend, ...] = (comm100.DEMO, motioncx.DEMO, agentvoice.DEMO, genesys.DEMO)


def installed() -> list[DemoBackend]:
    """The simulators other packages declare, in entry point name order."""
    found: list[DemoBackend] = []
    for point in sorted(entry_points(group=ENTRY_POINTS), key=lambda p: p.name):
        demo = point.load()
        if not isinstance(demo, DemoBackend):
            raise TypeError(f"entry point {ENTRY_POINTS} {point.name!r} names {point.value}, not a DemoBackend")
        found.append(demo)
    return found


def _named_once(demos: list[DemoBackend]) -> tuple[DemoBackend, ...]:
    names = [d.name for d in demos]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two demo backends are called {', '.join(twice)}")
    return tuple(demos)


DEMO_BACKENDS: tuple[DemoBackend, ...] = _named_once([*BUILT_IN, *installed()])
