"""The vendors the gateway knows, by their config key: the built-in ones, listed here (the only
place that lists them), then any installed package's, found through the `contact_gateway.vendors`
entry points (each names an `HttpBackend` subclass; see README, "Adding a vendor")."""

from __future__ import annotations

from importlib.metadata import entry_points

from gateway.backends.agentvoice import AgentVoiceBackend
from gateway.backends.base import HttpBackend
from gateway.backends.comm100 import Comm100Backend
from gateway.backends.genesys import GenesysBackend
from gateway.backends.motioncx import MotionCXBackend
from gateway.config import BackendSettings

ENTRY_POINTS = "contact_gateway.vendors"
BUILT_IN: tuple[type[HttpBackend], ...] = (Comm100Backend, MotionCXBackend, AgentVoiceBackend, GenesysBackend)


def installed() -> list[type[HttpBackend]]:
    """The vendors other packages declare, in entry point name order."""
    found: list[type[HttpBackend]] = []
    for point in sorted(entry_points(group=ENTRY_POINTS), key=lambda p: p.name):
        backend = point.load()
        if not (isinstance(backend, type) and issubclass(backend, HttpBackend)):
            raise TypeError(f"entry point {ENTRY_POINTS} {point.name!r} names {point.value}, not an HttpBackend")
        found.append(backend)
    return found


def _by_key(backends: list[type[HttpBackend]]) -> dict[str, type[HttpBackend]]:
    vendors: dict[str, type[HttpBackend]] = {}
    for backend in backends:
        if backend.vendor in vendors:
            raise ValueError(f"two vendors are called {backend.vendor!r}: {vendors[backend.vendor]} and {backend}")
        vendors[backend.vendor] = backend
    return vendors


VENDORS: dict[str, type[HttpBackend]] = _by_key([*BUILT_IN, *installed()])


def settings_models() -> dict[str, type[BackendSettings]]:
    """Each vendor's settings model, for `gateway.config.load_config`."""
    return {key: backend.settings_model for key, backend in VENDORS.items()}
