"""What the contact index answers for the resolvers: a backend's list under a filter the vendor
cannot apply, exact counts, and people. Each function is used only for backends whose first
full pass completed; until then the resolvers take the live path and say so."""

from __future__ import annotations

import re

from strawberry.dataloader import DataLoader

from gateway import errors
from gateway.backends.protocol import Backend, ScanResult
from gateway.model import Contact, ContactFilter
from resolvers.context import RequestContext

# Positions in the index are the vendor's order as of the last pass: "ix:<position>".
POSITION_PREFIX = "ix:"


def is_index_position(position: str | None) -> bool:
    return position is not None and position.startswith(POSITION_PREFIX)


def _after(position: str | None, backend: str) -> int | None:
    if position is None:
        return None
    number = position.removeprefix(POSITION_PREFIX)
    if not re.fullmatch(r"[0-9]{1,19}", number, re.ASCII):
        raise errors.BadUserInput(f"cursor position for backend '{backend}' is not valid", backend=backend)
    return int(number)


async def indexed_names(ctx: RequestContext, backends: list[Backend]) -> set[str]:
    """Which of `backends` the index can answer for; asked once per request (every
    `Contact.person` of a page asks again)."""
    known: dict[tuple[str, ...], set[str]] = ctx.loaders.setdefault("indexed", {})
    names = tuple(b.name for b in backends)
    if names not in known:
        known[names] = await ctx.gateway.indexed(backends)
    return known[names]


async def scan(
    ctx: RequestContext, backend: Backend, flt: ContactFilter, position: str | None, limit: int, merged: bool
) -> ScanResult:
    """`Backend.scan`, answered by the index: the vendor's order, the exact total."""
    index = ctx.gateway.index
    assert index is not None
    region = ctx.gateway.settings.server.default_region
    namespace = backend.cache_namespace
    if not backend.could_match(flt):
        return ScanResult([], [], 0)
    rows = await index.contacts_page(namespace, flt, region, merged, _after(position, backend.name), limit)
    total = await index.count_matching(namespace, flt, region, merged)
    return ScanResult([c for c, _ in rows], [f"{POSITION_PREFIX}{p}" for _, p in rows], total)


async def count(ctx: RequestContext, backend: Backend, flt: ContactFilter, merged: bool) -> int:
    index = ctx.gateway.index
    assert index is not None
    if not backend.could_match(flt):
        return 0
    region = ctx.gateway.settings.server.default_region
    return await index.count_matching(backend.cache_namespace, flt, region, merged)


async def people_page(
    ctx: RequestContext, backends: list[Backend], flt: ContactFilter, after: int | None, limit: int
) -> tuple[list[tuple[int, list[Contact]]], int]:
    """A page of people (first visible ordinal, visible contacts) and how many match in all."""
    index = ctx.gateway.index
    assert index is not None
    region = ctx.gateway.settings.server.default_region
    visible = [b.cache_namespace for b in backends]
    page = await index.people_page(ctx.gateway.deployment, visible, flt, region, after, limit)
    total = await index.count_people(ctx.gateway.deployment, visible, flt, region)
    return page, total


async def members(ctx: RequestContext, backends: list[Backend], contact: Contact) -> list[Contact] | None:
    """The visible contacts of the person holding `contact`, from the index (None: not there).
    The contacts of one request are looked up together (a page's `Contact.person`s at once)."""
    key = (ctx.gateway.backends[contact.backend].cache_namespace, contact.native_id)
    return await people_loader(ctx, backends).load(key)


def people_loader(ctx: RequestContext, backends: list[Backend]) -> DataLoader[tuple[str, str], list[Contact] | None]:
    """This request's loader of people by (namespace, native id); never shared between requests."""
    loader = ctx.loaders.get("index-people")
    if loader is None:
        index = ctx.gateway.index
        assert index is not None
        visible = [b.cache_namespace for b in backends]
        deployment = ctx.gateway.deployment  # not ctx: the loader lives in ctx (no cycle to outlive it)

        async def load(keys: list[tuple[str, str]]) -> list[list[Contact] | None]:
            found = await index.people_of(deployment, visible, keys)
            return [found.get(key) for key in keys]

        loader = DataLoader(load_fn=load)
        ctx.loaders["index-people"] = loader
    return loader
