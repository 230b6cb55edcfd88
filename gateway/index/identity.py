"""Identity groups (people) in the index: contacts joined when they share a normalised email, an
E.164 phone or an external id, transitively, exactly as `resolvers.people` joins them live.
Merged-away records are left out (their survivors stand for them).

A deployment (one gateway's ordered backends) has its own groups; a contact's `ordinal` is its
backend's rank in the config, then its position in the vendor's order, and a group is named by
its smallest ordinal, so people list in order of their first contact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Insert,
    Select,
    String,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from gateway.index.arrays import among, unnested
from gateway.index.tables import contacts, keys, people

POSITION_BITS = 40
INSERT_CHUNK = 2000
STREAM_BATCH = 5000


def ordinal(rank: int, position: int) -> int:
    """Configured backend order first, then the vendor's own order."""
    return (rank << POSITION_BITS) | position


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def add(self, item: int) -> None:
        self.parent.setdefault(item, item)

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def _group(members: Mapping[int, tuple[int, str]], links: Iterable[tuple[int, str]]) -> UnionFind:
    """Union-find over contact ordinals; `links` are (ordinal, key) pairs."""
    groups = UnionFind()
    for item in members:
        groups.add(item)
    first_with: dict[str, int] = {}
    for item, key in links:
        if key in first_with:
            groups.union(first_with[key], item)
        else:
            first_with[key] = item
    return groups


# A person row: (contact id, namespace, ordinal, group ordinal).
PersonRow = tuple[int, str, int, int]
PERSON_COLUMNS: dict[str, TypeEngine[Any]] = {
    "contact_id": BigInteger(),
    "namespace": String(),
    "ordinal": BigInteger(),
    "group_ordinal": BigInteger(),
}


def _postgresql_people() -> Insert:
    rows = unnested("person", PERSON_COLUMNS)
    chosen = select(bindparam("deployment", type_=String()), *(rows.c[name] for name in PERSON_COLUMNS))
    return insert(people).from_select(["deployment", *PERSON_COLUMNS], chosen)


POSTGRESQL_PEOPLE = _postgresql_people()


async def _insert(conn: AsyncConnection, deployment: str, rows: list[PersonRow]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        if conn.dialect.name == "postgresql":
            columns = dict(zip(PERSON_COLUMNS, map(list, zip(*chunk, strict=True)), strict=True))
            await conn.execute(POSTGRESQL_PEOPLE, {**columns, "deployment": deployment})
        else:
            named = [dict(zip(PERSON_COLUMNS, row, strict=True)) for row in chunk]
            await conn.execute(insert(people), [{**row, "deployment": deployment} for row in named])


async def _delete(conn: AsyncConnection, deployment: str, contact_ids: list[int]) -> None:
    for start in range(0, len(contact_ids), INSERT_CHUNK):
        chunk = contact_ids[start : start + INSERT_CHUNK]
        chosen = among(people.c.contact_id, chunk, is_sqlite=conn.dialect.name == "sqlite")
        await conn.execute(delete(people).where(people.c.deployment == deployment, chosen))


async def _store(
    conn: AsyncConnection, deployment: str, members: Mapping[int, tuple[int, str]], groups: UnionFind
) -> None:
    rows = [(contact_id, namespace, item, groups.find(item)) for item, (contact_id, namespace) in members.items()]
    await _insert(conn, deployment, rows)


async def _links(
    conn: AsyncConnection, ranks: Mapping[str, int], *where: Any
) -> tuple[dict[int, tuple[int, str]], list[tuple[int, str]]]:
    """The (not merged-away) contacts matching `where`, by ordinal, and their (ordinal, key) links."""
    query = (
        select(contacts.c.id, contacts.c.namespace, contacts.c.position, keys.c.key)
        .select_from(contacts.outerjoin(keys, keys.c.contact_id == contacts.c.id))
        .where(contacts.c.namespace.in_(list(ranks)), contacts.c.merged_into.is_(None), *where)
    )
    members: dict[int, tuple[int, str]] = {}
    links: list[tuple[int, str]] = []
    for contact_id, namespace, position, key in await conn.execute(query):
        item = ordinal(ranks[namespace], position)
        members[item] = (contact_id, namespace)
        if key is not None:
            links.append((item, key))
    return members, links


async def _streamed(conn: AsyncConnection, query: Any) -> AsyncIterator[Any]:
    """The rows of `query`, fetched a batch at a time (a row at a time costs a context switch
    between asyncio and the database driver for every row)."""
    result = await conn.stream(query)
    async for batch in result.partitions(STREAM_BATCH):
        for row in batch:
            yield row


def _ordinal_sql(ranks: Mapping[str, int]) -> ColumnElement[int]:
    """`ordinal` computed by the database."""
    rank = case(*((contacts.c.namespace == ns, literal(r, BigInteger())) for ns, r in ranks.items()))
    return rank * literal(1 << POSITION_BITS, BigInteger()) + contacts.c.position


def _links_sql(ranks: Mapping[str, int], is_sqlite: bool) -> Select[tuple[Any]]:
    """The ordinals of the (not merged-away) contacts sharing each key that more than one has:
    the database groups them (most keys belong to one contact and never leave it)."""
    ordinals = _ordinal_sql(ranks)
    gathered = func.group_concat(ordinals) if is_sqlite else func.array_agg(ordinals)
    return (
        select(gathered)
        .select_from(keys.join(contacts, contacts.c.id == keys.c.contact_id))
        .where(contacts.c.namespace.in_(list(ranks)), contacts.c.merged_into.is_(None))
        .group_by(keys.c.key)
        .having(func.count() > 1)
    )


async def regroup_all(conn: AsyncConnection, deployment: str, ranks: Mapping[str, int]) -> int:
    """Rebuild every group of `deployment` from the contacts of its namespaces, writing only the
    rows that changed (after a routine pass, few do). Rows are streamed: nothing but the contacts
    themselves is held. The number of people."""
    is_sqlite = conn.dialect.name == "sqlite"
    members: dict[int, tuple[int, str]] = {}
    groups = UnionFind()
    listed = select(contacts.c.id, contacts.c.namespace, contacts.c.position).where(
        contacts.c.namespace.in_(list(ranks)), contacts.c.merged_into.is_(None)
    )
    async for contact_id, namespace, position in _streamed(conn, listed):
        item = ordinal(ranks[namespace], position)
        members[item] = (contact_id, namespace)
        groups.add(item)
    async for (shared,) in _streamed(conn, _links_sql(ranks, is_sqlite)):
        items = [int(i) for i in shared.split(",")] if is_sqlite else shared
        for item in items[1:]:
            groups.union(items[0], item)
    wanted = {contact_id: (item, groups.find(item), ns) for item, (contact_id, ns) in members.items()}
    held = select(people.c.contact_id, people.c.ordinal, people.c.group_ordinal).where(
        people.c.deployment == deployment
    )
    stale = []
    async for contact_id, item, group in _streamed(conn, held):
        now = wanted.get(contact_id)
        if now is not None and now[:2] == (item, group):
            del wanted[contact_id]  # unchanged: neither deleted nor written again
        else:
            stale.append(contact_id)
    await _delete(conn, deployment, stale)
    await _insert(conn, deployment, [(cid, ns, item, group) for cid, (item, group, ns) in wanted.items()])
    return len({groups.find(item) for item in members})


async def regroup_around(
    conn: AsyncConnection, deployment: str, ranks: Mapping[str, int], contact_ids: list[int], old_groups: set[int]
) -> None:
    """Regroup only the groups a write can have touched: the written contacts' old groups and the
    groups of every contact sharing a key with them. Other groups cannot change."""
    current_keys = select(keys.c.key).where(keys.c.contact_id.in_(contact_ids))
    sharing = select(people.c.group_ordinal).where(
        people.c.deployment == deployment,
        people.c.contact_id.in_(select(keys.c.contact_id).where(keys.c.key.in_(current_keys))),
    )
    touched = old_groups | set((await conn.execute(sharing)).scalars())
    in_groups = select(people.c.contact_id).where(
        people.c.deployment == deployment, people.c.group_ordinal.in_(touched)
    )
    members, links = await _links(conn, ranks, contacts.c.id.in_(in_groups) | contacts.c.id.in_(contact_ids))
    await conn.execute(
        delete(people).where(
            people.c.deployment == deployment,
            people.c.group_ordinal.in_(touched) | people.c.contact_id.in_(contact_ids),
        )
    )
    await _store(conn, deployment, members, _group(members, links))


async def groups_of(conn: AsyncConnection, deployment: str, contact_ids: list[int]) -> set[int]:
    query = select(people.c.group_ordinal).where(
        people.c.deployment == deployment, people.c.contact_id.in_(contact_ids)
    )
    return set((await conn.execute(query)).scalars())
