"""Writing contacts into the index: one upsert statement per batch (INSERT ... ON CONFLICT DO
UPDATE, which SQLite and PostgreSQL both speak), then the keys of the records that were already
there replaced; and the single records that writes through the gateway change, with the people
around them.

PostgreSQL gets a batch as array parameters (`gateway.index.arrays`; the multi-row VALUES form
cost the sync process more CPU than mapping the vendor's records did). Its upsert
also says which rows it inserted (a new row version has no xmax): their keys cannot exist yet, so
nothing is deleted for them. That matters beyond the saved statement: during a first pass the
tables have no statistics yet, and PostgreSQL planned that delete as a sequential scan of every
key written so far, for every page (80% of a full sync's database time at 100,000 contacts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Insert,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from gateway.index import identity, records
from gateway.index.arrays import among, unnested
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
# The per-record columns of a batch, and the array type each travels in to PostgreSQL (the
# record as JSON text, cast back to JSON by the server).
BATCH_COLUMNS: dict[str, TypeEngine[Any]] = {
    "native_id": String(),
    "position": BigInteger(),
    "kind": String(),
    "disabled": Boolean(),
    "merged_into": String(),
    "first_name_key": String(),
    "last_name_key": String(),
    "company_key": String(),
    "search_text": String(),
    "record": String(),
}


def _postgresql_upsert() -> Any:
    page = unnested("page", BATCH_COLUMNS)
    chosen = [cast(page.c.record, JSON) if name == "record" else page.c[name] for name in BATCH_COLUMNS]
    rows = select(bindparam("namespace", type_=String()), bindparam("pass_number", type_=BigInteger()), *chosen)
    statement = postgresql.insert(contacts).from_select(["namespace", "pass_number", *BATCH_COLUMNS], rows)
    inserted = literal_column("xmax") == text("'0'::xid")  # a row version no update has touched
    return statement.on_conflict_do_update(
        index_elements=[contacts.c.namespace, contacts.c.native_id],
        set_={name: statement.excluded[name] for name in UPDATED_ON_CONFLICT},
    ).returning(contacts.c.id, contacts.c.native_id, inserted)


def _postgresql_keys() -> Insert:
    page = unnested("page", {"contact_id": BigInteger(), "key": String()})
    rows = select(page.c.contact_id, page.c.key, bindparam("namespace", type_=String()))
    return insert(keys).from_select(["contact_id", "key", "namespace"], rows)


POSTGRESQL_UPSERT = _postgresql_upsert()
POSTGRESQL_KEYS = _postgresql_keys()


async def upsert_contacts(
    conn: AsyncConnection,
    is_sqlite: bool,
    namespace: str,
    number: int,
    rows: Sequence[tuple[Contact, int]],
    region: str,
) -> list[int]:
    """Insert or refresh `rows` (contact, position) seen by pass `number`; their row ids. A record
    listed twice (the vendor's list shifted while a pass read it) is written once, where it was
    seen last: one statement cannot change a row twice."""
    rows = list({contact.native_id: (contact, position) for contact, position in rows}.values())
    if not rows:
        return []
    values = [{**records.contact_row(contact), "position": position} for contact, position in rows]
    if is_sqlite:
        statement = sqlite.insert(contacts)
        upsert = statement.on_conflict_do_update(
            index_elements=[contacts.c.namespace, contacts.c.native_id],
            set_={name: statement.excluded[name] for name in UPDATED_ON_CONFLICT},
        ).returning(contacts.c.id, contacts.c.native_id, literal(False))
        answer = await conn.execute(upsert, [{**v, "namespace": namespace, "pass_number": number} for v in values])
    else:
        columns: dict[str, Any] = {name: [v[name] for v in values] for name in BATCH_COLUMNS}
        columns["record"] = [records.record_text(v["record"]) for v in values]
        answer = await conn.execute(POSTGRESQL_UPSERT, {**columns, "namespace": namespace, "pass_number": number})
    ids_by_native: dict[str, int] = {}
    updated: list[int] = []
    for row_id, native, inserted in answer:
        ids_by_native[native] = row_id
        if not inserted:  # SQLite cannot tell: every row counts as updated there
            updated.append(row_id)
    if updated:
        await conn.execute(delete(keys).where(among(keys.c.contact_id, updated, is_sqlite=is_sqlite)))
    pairs = [
        (ids_by_native[contact.native_id], key) for contact, _ in rows for key in records.contact_keys(contact, region)
    ]
    if pairs and is_sqlite:
        await conn.execute(insert(keys), [{"contact_id": c, "key": k, "namespace": namespace} for c, k in pairs])
    elif pairs:
        contact_ids, found = zip(*pairs, strict=True)
        await conn.execute(
            POSTGRESQL_KEYS, {"contact_id": list(contact_ids), "key": list(found), "namespace": namespace}
        )
    return list(ids_by_native.values())


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
