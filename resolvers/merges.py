"""Following Comm100 merges (`mergeToContactId`) to the record that survived.

Hops go through one DataLoader per request, keyed by (backend, native id): a page with fifty
merged records costs at most one vendor call per distinct record, however many fields ask.
A chain that loops stops with MERGE_CYCLE; a chain whose next record is gone gives the last
record that exists plus MERGE_TARGET_MISSING; `server.merge_hop_limit` bounds every chain.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from strawberry.dataloader import DataLoader

from gateway import errors
from gateway.filtering import matches
from gateway.model import Contact, ContactFilter
from resolvers.context import RequestContext

RecordKey = tuple[str, str]  # (backend, native id)


@dataclass(frozen=True, slots=True)
class ChainEnd:
    """Where a merge chain ends: the survivor (or last existing record) and why it stopped."""

    contact: Contact
    chain: list[str]
    error: errors.GatewayError | None = None


def record_loader(ctx: RequestContext) -> DataLoader[RecordKey, Contact | None]:
    """This request's loader of single records; created on first use, never shared."""
    loader = ctx.loaders.get("records")
    if loader is None:
        gateway = ctx.gateway  # not ctx: the loader lives in ctx, and a cycle would outlive the request

        async def load(keys: list[RecordKey]) -> list[Contact | BaseException | None]:
            # Each record succeeds or fails alone: one failing hop must not fail its batch-mates.
            return list(await asyncio.gather(*(gateway.backend(b).get(n) for b, n in keys), return_exceptions=True))

        loader = DataLoader(load_fn=load)
        ctx.loaders["records"] = loader
    return loader


def remember(ctx: RequestContext, contacts: list[Contact]) -> None:
    """Prime the loader with records a list already fetched, so hops to them cost nothing."""
    loader = record_loader(ctx)
    for contact in contacts:
        loader.prime((contact.backend, contact.native_id), contact)


async def follow_merge_chain(ctx: RequestContext, start: Contact) -> ChainEnd:
    limit = ctx.gateway.settings.server.merge_hop_limit
    loader = record_loader(ctx)
    chain = [start.id]
    current = start
    while current.merged_into_native_id is not None:
        target = current.merged_into_id
        assert target is not None
        if target in chain:
            return ChainEnd(current, chain, _cycle(current, [*chain, target]))
        if len(chain) > limit:
            return ChainEnd(current, chain, _cycle(current, chain, limit))
        try:
            following = await loader.load((current.backend, current.merged_into_native_id))
        except errors.GatewayError as exc:
            # A hop that fails (the vendor down, a target id it could never have issued) costs
            # this chain's end, not the answer: the last record reached stands, with the error.
            return ChainEnd(current, chain, _hop_failed(exc, current, [*chain, target]))
        if following is None:
            return ChainEnd(
                current,
                chain,
                errors.MergeTargetMissing(
                    f"contact {current.id} was merged into {target}, which no longer exists; showing {current.id}",
                    backend=current.backend,
                    details={"chain": [*chain, target], "missing": target},
                ),
            )
        chain.append(following.id)
        current = following
    return ChainEnd(current, chain)


def _hop_failed(exc: errors.GatewayError, at: Contact, chain: list[str]) -> errors.GatewayError:
    if isinstance(exc, errors.BadUserInput):  # the vendor's merge link names no valid record id
        exc = errors.bad_response(at.backend, f"{at.id} was merged into '{chain[-1]}', which is not a valid id")
    if exc.backend is None:
        exc.backend = at.backend
    exc.details.setdefault("chain", chain)
    return exc


def _cycle(at: Contact, chain: list[str], limit: int | None = None) -> errors.MergeCycle:
    why = f"is longer than {limit} hops" if limit else "loops"
    return errors.MergeCycle(
        f"the merge chain of {chain[0]} {why}: {' -> '.join(chain)}",
        backend=at.backend,
        details={"chain": chain},
    )


async def resolve_contact(ctx: RequestContext, info: Any, contact: Contact | None, follow: bool) -> Contact | None:
    """`contact(id, followMerges)`: the survivor; a cycle is an error, a gap returns the last."""
    if contact is None or not follow or contact.merged_into_native_id is None:
        return contact
    end = await follow_merge_chain(ctx, contact)
    if isinstance(end.error, errors.MergeCycle):
        raise end.error
    if end.error is not None:
        ctx.report(end.error, info)
    return end.contact


async def next_hop(ctx: RequestContext, info: Any, contact: Contact) -> Contact | None:
    """`mergedInto`: one hop along the chain."""
    if contact.merged_into_native_id is None:
        return None
    try:
        found: Contact | None = await record_loader(ctx).load((contact.backend, contact.merged_into_native_id))
    except errors.GatewayError as exc:
        target = contact.merged_into_id
        assert target is not None
        ctx.report(_hop_failed(exc, contact, [contact.id, target]), info)
        return None
    if found is None:
        ctx.report(
            errors.MergeTargetMissing(
                f"contact {contact.id} was merged into {contact.merged_into_id}, which no longer exists",
                backend=contact.backend,
                details={"missing": contact.merged_into_id},
            ),
            info,
        )
    return found


async def survivor_of(ctx: RequestContext, info: Any, contact: Contact) -> Contact:
    """`survivor`: the end of the chain; a broken chain reports why and gives the last record."""
    if contact.merged_into_native_id is None:
        return contact
    end = await follow_merge_chain(ctx, contact)
    if end.error is not None:
        ctx.report(end.error, info)
    return end.contact


async def collapse_merged(
    ctx: RequestContext, info: Any, contacts: list[Contact], flt: ContactFilter
) -> list[Contact | None]:
    """Lists without `includeMerged`: a husk that matched the filter gives way to its survivor.

    Returns one entry per input: the contact to show there, or None to leave it out. The
    survivor is shown in the husk's place only when it would not be listed on its own (it does
    not match the filter itself), and at most once per page.
    """
    husks = [c for c in contacts if c.merged_into_native_id is not None]
    if not husks:
        return list(contacts)
    followed = await asyncio.gather(*(follow_merge_chain(ctx, h) for h in husks))
    ends = {h.id: end for h, end in zip(husks, followed, strict=True)}
    shown: set[str] = {c.id for c in contacts if c.merged_into_native_id is None}
    region = ctx.gateway.settings.server.default_region
    result: list[Contact | None] = []
    for contact in contacts:
        if contact.merged_into_native_id is None:
            result.append(contact)
            continue
        end = ends[contact.id]
        if end.error is not None:
            ctx.report(end.error, info)
        survivor = end.contact
        listed_anyway = survivor.merged_into_native_id is None and matches(survivor, flt, region)
        if isinstance(end.error, errors.MergeCycle) or survivor.id in shown or listed_anyway:
            result.append(None)
            continue
        shown.add(survivor.id)
        result.append(survivor)
    return result
