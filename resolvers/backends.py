"""`backends`: what each configured backend is, can do, and how it is doing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

from gateway.backends.protocol import Backend, Capability
from gateway.index import IndexState
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
    index: IndexView | None


@dataclass(frozen=True, slots=True)
class IndexView:
    state: IndexState
    synced_at: datetime | None
    records: int
    last_error: str | None


def _public_url(url: str) -> str:
    """The URL without any user:password part."""
    return str(httpx.URL(url).copy_with(username=None, password=None))


async def index_views(ctx: RequestContext, backends: list[Backend]) -> dict[str, IndexView | None]:
    """Each backend's index as the database says (NOT_SYNCED while it cannot be read yet)."""
    index = ctx.gateway.index
    if index is None:
        return {b.name: None for b in backends}
    unread = IndexView(IndexState.NOT_SYNCED, None, 0, None)
    if not index.is_open:
        return {b.name: unread for b in backends}
    found = await index.status([b.cache_namespace for b in backends])
    views: dict[str, IndexView | None] = {}
    for backend in backends:
        status = found[backend.cache_namespace]
        views[backend.name] = IndexView(status.state, status.synced_at, status.records, status.last_error)
    return views


async def describe(ctx: RequestContext) -> list[BackendView]:
    settings = ctx.gateway.settings
    views = []
    indexes = await index_views(ctx, ctx.visible_backends())
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
                index=indexes[backend.name],
            )
        )
    return views
