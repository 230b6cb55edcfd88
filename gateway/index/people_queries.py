"""The queries that read people (identity groups) out of the index, for `ContactIndex`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.index import records
from gateway.index.filters import matching
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
