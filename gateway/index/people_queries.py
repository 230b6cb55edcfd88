"""The queries that read people (identity groups) out of the index, for `ContactIndex`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from gateway.index import records
from gateway.index.filters import matching
from gateway.index.identity import ordinal
from gateway.index.tables import contacts, people
from gateway.model import Contact, ContactFilter


def grouped(deployment: str, visible: Sequence[str], flt: ContactFilter, region: str) -> Any:
    """(group, first visible ordinal) of every group with a visible member matching `flt`
    (for a caller who sees only some backends: grouping every row is needed)."""
    chosen = (
        select(people.c.group_ordinal)
        .select_from(people.join(contacts, contacts.c.id == people.c.contact_id))
        .where(people.c.deployment == deployment, people.c.namespace.in_(list(visible)))
    )
    if not flt.is_empty():
        chosen = chosen.where(contacts.c.namespace.in_(list(visible)), matching(flt, region))
    return (
        select(people.c.group_ordinal, func.min(people.c.ordinal).label("first"))
        .where(
            people.c.deployment == deployment,
            people.c.namespace.in_(list(visible)),
            people.c.group_ordinal.in_(chosen),
        )
        .group_by(people.c.group_ordinal)
        .subquery()
    )


def firsts(deployment: str, visible: Sequence[str], low: int, high: int, limit: int) -> Any:
    """(group, ordinal) of the visible members with ordinals in [low, high] that come first in
    their group among the visible ones, in order, up to `limit`: for a caller who sees only some
    backends, with no filter. The (deployment, ordinal) index is walked from `low` and each
    member's group looked up for an earlier visible one, so a page reads about as many rows as
    it shows. A backend's ordinals are one range (its rank, then its positions): the caller asks
    for one visible backend's range at a time."""
    earlier = aliased(people)
    ahead = select(earlier.c.ordinal).where(
        earlier.c.deployment == deployment,
        earlier.c.group_ordinal == people.c.group_ordinal,
        earlier.c.namespace.in_(list(visible)),
        earlier.c.ordinal < people.c.ordinal,
    )
    return (
        select(people.c.group_ordinal, people.c.ordinal)
        .where(people.c.deployment == deployment, people.c.ordinal.between(low, high), ~ahead.exists())
        .order_by(people.c.ordinal)
        .limit(limit)
    )


async def page(
    conn: AsyncConnection,
    deployment: str,
    ranks: Mapping[str, int],
    visible: Sequence[str],
    flt: ContactFilter,
    region: str,
    after: int | None,
    limit: int,
) -> list[tuple[int, int]]:
    """(group, first visible ordinal) of up to `limit` people matching `flt` after `after`."""
    if set(visible) == set(ranks):
        query = named(deployment, visible, flt, region)
        if after is not None:
            query = query.where(people.c.group_ordinal > after)
        query = query.distinct().order_by(people.c.group_ordinal).limit(limit)
        query = query.add_columns(people.c.group_ordinal.label("first"))
    elif flt.is_empty():
        return await first_visible(conn, deployment, ranks, visible, after, limit)
    else:
        groups = grouped(deployment, visible, flt, region)
        query = select(groups.c.group_ordinal, groups.c.first).order_by(groups.c.first).limit(limit)
        if after is not None:
            query = query.where(groups.c.first > after)
    return [(group, first) for group, first in await conn.execute(query)]


async def first_visible(
    conn: AsyncConnection,
    deployment: str,
    ranks: Mapping[str, int],
    visible: Sequence[str],
    after: int | None,
    limit: int,
) -> list[tuple[int, int]]:
    """(group, first visible ordinal) of up to `limit` groups after `after`, in order: the
    visible backends' ordinal ranges one after the other (see `firsts`)."""
    chosen: list[tuple[int, int]] = []
    for rank in sorted(ranks[namespace] for namespace in visible):
        low, high = ordinal(rank, 0), ordinal(rank + 1, 0) - 1
        if after is not None:
            low = max(low, after + 1)
        if low > high:
            continue
        query = firsts(deployment, visible, low, high, limit - len(chosen))
        chosen += [(group, first) for group, first in await conn.execute(query)]
        if len(chosen) >= limit:
            break
    return chosen


def count(deployment: str, ranks: Mapping[str, int], visible: Sequence[str], flt: ContactFilter, region: str) -> Any:
    """How many people match `flt` (a query)."""
    if set(visible) == set(ranks):
        if flt.is_empty():
            # A group is named by its first member's ordinal: one member a group has it.
            return select(func.count()).where(
                people.c.deployment == deployment, people.c.ordinal == people.c.group_ordinal
            )
        query = named(deployment, visible, flt, region)
        return query.with_only_columns(func.count(func.distinct(people.c.group_ordinal)))
    if flt.is_empty():
        return select(func.count(func.distinct(people.c.group_ordinal))).where(
            people.c.deployment == deployment, people.c.namespace.in_(list(visible))
        )
    return select(func.count()).select_from(grouped(deployment, visible, flt, region))


def named(deployment: str, visible: Sequence[str], flt: ContactFilter, region: str) -> Any:
    """For a caller who sees every backend: a group's first member is the one it is named by,
    so the (deployment, group_ordinal) index answers in order without grouping rows."""
    query = select(people.c.group_ordinal).where(people.c.deployment == deployment)
    if not flt.is_empty():
        query = query.select_from(people.join(contacts, contacts.c.id == people.c.contact_id)).where(
            contacts.c.namespace.in_(list(visible)), matching(flt, region)
        )
    return query


async def members(
    conn: AsyncConnection, deployment: str, visible: Sequence[str], groups: list[int]
) -> dict[int, list[Contact]]:
    """The visible contacts of each group, in order."""
    if not groups:
        return {}
    # Ordered here, not in SQL: ORDER BY ordinal would lead the planner to walk the whole
    # ordinal index instead of looking the few groups up.
    query = (
        select(people.c.group_ordinal, people.c.ordinal, contacts.c.record)
        .select_from(people.join(contacts, contacts.c.id == people.c.contact_id))
        .where(
            people.c.deployment == deployment,
            people.c.group_ordinal.in_(groups),
            people.c.namespace.in_(list(visible)),
        )
    )
    found: dict[int, list[tuple[int, Contact]]] = {}
    for group, item, record in await conn.execute(query):
        found.setdefault(group, []).append((item, records.to_contact(record)))
    return {group: [c for _, c in sorted(held, key=lambda m: m[0])] for group, held in found.items()}
