"""Writing contacts into the index: one statement per batch (INSERT ... ON CONFLICT DO UPDATE,
which SQLite and PostgreSQL both speak), then their keys replaced."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.index import records
from gateway.index.tables import contacts, keys
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
