"""Expiring what no gateway runs any more: the rows of a backend namespace (a backend removed from
the config, or its credentials changed, and with them its namespace) and the people of a
deployment (a config whose list of backends changed).

Several deployments may share one database, each keyed by its own namespaces, so nothing expires
because *this* gateway does not use it. Every gateway marks its namespaces and its deployment seen
at the start of each sync round (every `refresh_s`; a failing backend is still tried, so still
seen); what no gateway has marked for `index.expire_s` is deleted. A namespace is deleted under
its sync lock, checked again inside the transaction, so a gateway that comes back meanwhile either
keeps it or starts afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.index.tables import backends, contacts, deployments, keys, people


@dataclass(frozen=True, slots=True)
class Expired:
    """What an expiry round deleted: backend namespaces (never a secret) and deployments."""

    namespaces: list[str] = field(default_factory=list)
    deployments: int = 0

    def __bool__(self) -> bool:
        return bool(self.namespaces or self.deployments)


async def mark_seen(
    conn: AsyncConnection, is_sqlite: bool, deployment: str, namespaces: Sequence[str], now: datetime
) -> None:
    """A gateway of `deployment` runs a sync round for `namespaces` now."""
    await conn.execute(update(backends).where(backends.c.namespace.in_(list(namespaces))).values(seen_at=now))
    statement = (sqlite.insert if is_sqlite else postgresql.insert)(deployments).values(name=deployment, seen_at=now)
    await conn.execute(statement.on_conflict_do_update(index_elements=[deployments.c.name], set_={"seen_at": now}))


async def unused_namespaces(conn: AsyncConnection, keep: Sequence[str], cutoff: datetime) -> list[str]:
    """Namespaces other than `keep` that no gateway has marked seen since `cutoff`."""
    query = select(backends.c.namespace).where(backends.c.namespace.not_in(list(keep)), backends.c.seen_at < cutoff)
    return list((await conn.execute(query)).scalars())


async def expire_namespace(conn: AsyncConnection, namespace: str, cutoff: datetime) -> bool:
    """Delete every row of `namespace` if still unseen since `cutoff`; whether it was."""
    gone = await conn.execute(delete(backends).where(backends.c.namespace == namespace, backends.c.seen_at < cutoff))
    if not gone.rowcount:
        return False  # a gateway marked it seen meanwhile
    for table in (keys, people, contacts):
        await conn.execute(delete(table).where(table.c.namespace == namespace))
    return True


async def expire_deployments(conn: AsyncConnection, keep: str, cutoff: datetime) -> int:
    """Delete the people of every deployment other than `keep` unseen since `cutoff`; how many."""
    stale = list(
        (
            await conn.execute(
                select(deployments.c.name).where(deployments.c.name != keep, deployments.c.seen_at < cutoff)
            )
        ).scalars()
    )
    if stale:
        await conn.execute(delete(people).where(people.c.deployment.in_(stale)))
        await conn.execute(delete(deployments).where(deployments.c.name.in_(stale)))
    return len(stale)
