"""Writing contacts into the index: one statement per batch (INSERT ... ON CONFLICT DO UPDATE,
which SQLite and PostgreSQL both speak), then their keys replaced; and the single records that
writes through the gateway change, with the people around them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.index import identity, records
from gateway.index.tables import backends, contacts, keys, people
from gateway.model import Contact

UPDATED_ON_CONFLICT = (
    "position",
    "pass_number",
    "kind",
    "disabled",
    "merged_into",
    "first_name_key",
    "last_name_key",
    "company_key",
    "search_text",
    "record",
)


async def upsert_contacts(
    conn: AsyncConnection,
    is_sqlite: bool,
    namespace: str,
    number: int,
    rows: Sequence[tuple[Contact, int]],
    region: str,
) -> list[int]:
    """Insert or refresh `rows` (contact, position) seen by pass `number`; their row ids."""
    if not rows:
        return []
    values = [
        {**records.contact_row(contact), "namespace": namespace, "position": position, "pass_number": number}
        for contact, position in rows
    ]
    statement = sqlite.insert(contacts) if is_sqlite else postgresql.insert(contacts)
    upsert = statement.on_conflict_do_update(
        index_elements=[contacts.c.namespace, contacts.c.native_id],
        set_={name: statement.excluded[name] for name in UPDATED_ON_CONFLICT},
    ).returning(contacts.c.id, contacts.c.native_id)
    ids_by_native = {native: row_id for row_id, native in await conn.execute(upsert, values)}
    ids = list(ids_by_native.values())
    await conn.execute(delete(keys).where(keys.c.contact_id.in_(ids)))
    key_rows = [
        {"contact_id": ids_by_native[contact.native_id], "key": key, "namespace": namespace}
        for contact, _ in rows
        for key in records.contact_keys(contact, region)
    ]
    if key_rows:
        await conn.execute(insert(keys), key_rows)
    return ids


async def write_one(
    conn: AsyncConnection,
    is_sqlite: bool,
    deployment: str,
    ranks: Mapping[str, int],
    namespace: str,
    contact: Contact,
    region: str,
) -> None:
    """A record written through the gateway: its row and keys, and the people around it."""
    existing = (
        await conn.execute(
            select(contacts.c.id, contacts.c.position, contacts.c.pass_number).where(
                contacts.c.namespace == namespace, contacts.c.native_id == contact.native_id
            )
        )
    ).first()
    if existing is not None:
        position, number = existing.position, existing.pass_number
        old_groups = await identity.groups_of(conn, deployment, [existing.id])
    else:
        last = (
            await conn.execute(select(func.max(contacts.c.position)).where(contacts.c.namespace == namespace))
        ).scalar()
        position, old_groups = (-1 if last is None else last) + 1, set()
        # A record created mid-pass counts as seen by it, so its completion keeps it.
        number = (
            await conn.execute(select(backends.c.pass_number).where(backends.c.namespace == namespace))
        ).scalar() or 0
    ids = await upsert_contacts(conn, is_sqlite, namespace, number, [(contact, position)], region)
    if namespace in ranks:
        await identity.regroup_around(conn, deployment, ranks, ids, old_groups)


async def delete_one(
    conn: AsyncConnection, deployment: str, ranks: Mapping[str, int], namespace: str, native_id: str
) -> None:
    """A record deleted through the gateway: its rows go, and the people around it are regrouped."""
    found = (
        await conn.execute(
            select(contacts.c.id).where(contacts.c.namespace == namespace, contacts.c.native_id == native_id)
        )
    ).scalar()
    if found is None:
        return
    old_groups = await identity.groups_of(conn, deployment, [found])
    await conn.execute(delete(keys).where(keys.c.contact_id == found))
    await conn.execute(delete(people).where(people.c.contact_id == found))
    await conn.execute(delete(contacts).where(contacts.c.id == found))
    await conn.execute(update(backends).where(backends.c.namespace == namespace).values(records=backends.c.records - 1))
    if namespace in ranks:
        await identity.regroup_around(conn, deployment, ranks, [], old_groups)
