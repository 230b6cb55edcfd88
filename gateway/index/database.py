"""Connecting to the index database and bringing its schema to the newest Alembic revision, once
at a time: a PostgreSQL advisory lock between processes, a lock per event loop within one (SQLite
serialises writers itself)."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import URL, Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.index import records

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_S = 30.0


async def connect(url: URL, schema: str | None, lock_key: int) -> AsyncEngine:
    """An engine on the index database (`schema` on PostgreSQL), its schema migrated."""
    is_sqlite = url.get_backend_name() == "sqlite"
    connect_args: dict[str, Any] = {}
    if is_sqlite:
        if url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
    elif schema:
        connect_args["server_settings"] = {"search_path": schema}
    engine = create_async_engine(
        url, connect_args=connect_args, json_serializer=records.record_text, json_deserializer=orjson.loads
    )
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        async with _migration_lock(), engine.begin() as conn:
            if not is_sqlite:
                if schema:
                    await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
            await conn.run_sync(_upgrade)
    except BaseException:
        await engine.dispose()
        raise
    return engine


# Alembic keeps its running migration in module globals: one migration at a time per process
# (other processes are kept out by the database's own lock). One lock per event loop.
_MIGRATION_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _migration_lock() -> asyncio.Lock:
    return _MIGRATION_LOCKS.setdefault(asyncio.get_running_loop(), asyncio.Lock())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers are never blocked by a sync writing pages.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
