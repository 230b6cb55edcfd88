"""Mutations: each write is routed to one backend, refused before any call when the backend
cannot do it (NOT_SUPPORTED) or the input is wrong (BAD_USER_INPUT), and never retried. After a
write, the backend's cached reads are dropped, and the index updated, before the mutation returns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway import errors
from gateway.backends.protocol import Backend, Capability
from gateway.model import Contact, ContactChanges
from resolvers.context import RequestContext

T = TypeVar("T")
# Errors that prove the vendor changed nothing: refused before the call, or refused by the vendor.
UNCHANGED = (errors.BadUserInput, errors.NotSupported, errors.NotFound, errors.Conflict, errors.Forbidden)


async def written(ctx: RequestContext, backend: Backend, record: str | None, write: Callable[[], Awaitable[T]]) -> T:
    """Run a write, serialised with every other write to the same `record` (across instances);
    unless it provably changed nothing, drop the backend's cached reads before returning."""
    held = ctx.gateway.serialised(backend, record) if record is not None else contextlib.nullcontext()
    async with held:
        try:
            result = await write()
        except UNCHANGED:
            raise
        except BaseException:
            await ctx.gateway.after_write(backend.name)  # a timeout may still have been applied
            raise
        await ctx.gateway.after_write(backend.name)
        return result


def require(backend: Backend, capability: Capability, operation: str) -> None:
    if capability not in backend.capabilities:
        raise backend.not_supported(operation)


def check_kind(backend: Backend, changes: ContactChanges) -> None:
    kind = changes.get("kind")
    if kind is not None and kind not in backend.writable_kinds:
        writable = ", ".join(sorted(k.value for k in backend.writable_kinds)) or "none"
        raise errors.NotSupported(
            f"backend '{backend.name}' ({backend.vendor}) cannot write contacts of kind {kind.value};"
            f" it writes only {writable}",
            backend=backend.name,
            details={"writableKinds": sorted(k.value for k in backend.writable_kinds)},
        )


async def create_contact(ctx: RequestContext, backend_name: str, changes: ContactChanges) -> Contact:
    backend = ctx.backend(backend_name)
    require(backend, Capability.CREATE, "create")
    check_kind(backend, changes)
    created = await written(ctx, backend, None, lambda: backend.create(changes))
    await ctx.gateway.index_written(backend, created)
    return created


async def update_contact(ctx: RequestContext, global_id: str, changes: ContactChanges) -> Contact:
    backend, native_id = ctx.locate(global_id)
    require(backend, Capability.UPDATE, "update")
    check_kind(backend, changes)
    if not changes.values:
        raise errors.BadUserInput("the patch names no field to change", fields={"input": "empty"})
    updated = await written(ctx, backend, native_id, lambda: backend.update(native_id, changes))
    await ctx.gateway.index_written(backend, updated)
    return updated


async def delete_contact(ctx: RequestContext, global_id: str) -> str:
    backend, native_id = ctx.locate(global_id)
    require(backend, Capability.DELETE, "delete")
    await written(ctx, backend, native_id, lambda: backend.delete(native_id))
    await ctx.gateway.index_deleted(backend, native_id)
    return global_id


async def upsert_from_crm(
    ctx: RequestContext, backend_name: str, source: str, crm_id: str, changes: ContactChanges
) -> Contact:
    backend = ctx.backend(backend_name)
    require(backend, Capability.CRM_UPSERT, "upsert contacts from a CRM")
    check_kind(backend, changes)
    problems = {k: "required" for k, v in (("source", source), ("crmId", crm_id)) if not v.strip()}
    if problems:
        raise errors.BadUserInput("a CRM upsert needs a source and a crmId", fields=problems, backend=backend.name)
    record = f"crm:{source.strip().casefold()}:{crm_id.strip()}"
    upserted = await written(
        ctx, backend, record, lambda: backend.upsert_from_crm(source.strip(), crm_id.strip(), changes)
    )
    await ctx.gateway.index_written(backend, upserted)
    return upserted
