"""`backends`: what each configured backend is, can do, and how it is doing."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from gateway.backends.base import Capability
from gateway.model import ContactKind
from resolvers.context import RequestContext


@dataclass(frozen=True, slots=True)
class BackendView:
    name: str
    vendor: str
    healthy: bool
    capabilities: list[Capability]
    writable_kinds: list[ContactKind]
    notes: list[str]
    url: str
    timeout_s: float
    ttl_s: float
    last_error: str | None


def _public_url(url: str) -> str:
    """The URL without any user:password part."""
    return str(httpx.URL(url).copy_with(username=None, password=None))


def describe(ctx: RequestContext) -> list[BackendView]:
    settings = ctx.gateway.settings
    views = []
    for backend in ctx.visible_backends():
        writes = backend.capabilities - {Capability.READ, Capability.CRM_UPSERT}
        views.append(
            BackendView(
                name=backend.name,
                vendor=backend.vendor,
                healthy=backend.healthy,
                capabilities=sorted(backend.capabilities, key=lambda c: c.value),
                writable_kinds=sorted(backend.writable_kinds, key=lambda k: k.value) if writes else [],
                notes=list(backend.write_notes),
                url=_public_url(backend.settings.url),
                timeout_s=backend.settings.timeout_s,
                ttl_s=settings.ttl_for(backend.name),
                last_error=backend.last_error,
            )
        )
    return views
