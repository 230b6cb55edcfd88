"""The vendors the gateway knows, by their config key; the only place that lists them."""

from __future__ import annotations

from gateway.backends.agentvoice import AgentVoiceBackend
from gateway.backends.base import HttpBackend
from gateway.backends.comm100 import Comm100Backend
from gateway.backends.genesys import GenesysBackend
from gateway.backends.motioncx import MotionCXBackend
from gateway.config import BackendSettings

VENDORS: dict[str, type[HttpBackend]] = {
    backend.vendor: backend for backend in (Comm100Backend, MotionCXBackend, AgentVoiceBackend, GenesysBackend)
}


def settings_models() -> dict[str, type[BackendSettings]]:
    """Each vendor's settings model, for `gateway.config.load_config`."""
    return {key: backend.settings_model for key, backend in VENDORS.items()}
