"""`ContactIndex`: the one owner of the index database (SQLite through aiosqlite by default,
PostgreSQL through asyncpg for several instances). Everything else asks it questions named for
what they answer (`contacts_page`, `count_matching`, `people_page`, `person_of`) and never
touches SQL.

The schema is brought to the newest Alembic revision at `open()` (gateway/index/database.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.index import database, expiry, identity, people_queries, records
from gateway.index.filters import listed, matching
from gateway.index.tables import backends, contacts, keys, people
from gateway.index.upsert import delete_one, upsert_contacts, write_one
from gateway.model import Contact, ContactFilter

log = logging.getLogger("gateway.index")


# What a database that is down, refuses us or is misconfigured raises: reported in one line.
INDEX_UNAVAILABLE = (SQLAlchemyError, OSError, asyncio.TimeoutError)


# How long closing waits for database calls still running (see `to_the_end`).
CLOSE_WAIT_S = 5.0
P = ParamSpec("P")
T = TypeVar("T")


def to_the_end(
    method: Callable[Concatenate[ContactIndex, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[ContactIndex, P], Coroutine[Any, Any, T]]:
    """A database call that runs to its end even when its caller is cancelled (a request past its
    deadline, a sync stopped at shutdown): the caller stops waiting at once, the call finishes and
    gives its connection back, and `aclose` waits for it. Cut mid-way, SQLAlchemy terminates the
    connection in a task of its own, which with aiosqlite can wait forever on the connection's
    stopped thread: shutting down then hung in asyncio's final cancellation of leftover tasks."""

    @functools.wraps(method)
    async def running(index: ContactIndex, /, *args: P.args, **kwargs: P.kwargs) -> T:
        call = asyncio.ensure_future(method(index, *args, **kwargs))
        index.in_flight.add(call)
        call.add_done_callback(index.in_flight.discard)
        call.add_done_callback(_seen)
        return await asyncio.shield(call)

    return running


def _seen(call: asyncio.Future[Any]) -> None:
    """A call's failure counts as seen: its caller has it, or stopped waiting and needs it no more."""
    if not call.cancelled():
        call.exception()


def describe_failure(exc: BaseException) -> str:
    """One line about a database failure (its first line: no statement, no parameters)."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0] if detail else 'no detail'}"


class IndexState(enum.Enum):
    """What `Backend.index.state` says."""

    NOT_SYNCED = "NOT_SYNCED"  # no full pass has completed yet: queries on it go live
    SYNCED = "SYNCED"
    FAILED = "FAILED"  # the last pass failed; the previous index (if any) still answers


@dataclass(frozen=True, slots=True)
class IndexStatus:
    state: IndexState
    synced_at: datetime | None
    records: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class PassStart:
    """Where a pass begins: its number, and the vendor position an interrupted pass resumes from."""

    number: int
    resume_from: str | None
    position: int


@dataclass(frozen=True, slots=True)
class Deployment:
    """One gateway's view of the index: its namespaces in configured order (ranks), named by a hash."""

    name: str
    ranks: Mapping[str, int]

    @classmethod
    def of(cls, namespaces: Sequence[str]) -> Deployment:
        name = hashlib.sha256("\x1f".join(namespaces).encode()).hexdigest()[:32]
        return cls(name, {ns: rank for rank, ns in enumerate(namespaces)})


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands times back without their zone; they were stored in UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class ContactIndex:
    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = make_url(url)
        self.schema = schema
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._engine: AsyncEngine | None = None
        self._local_locks: dict[str, asyncio.Lock] = {}
        self._sqlite_writer = asyncio.Lock()
        # Database calls running (`to_the_end`), waited for by `aclose`.
        self.in_flight: set[asyncio.Future[Any]] = set()

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the contact index is not open")
        return self._engine

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    async def open(self) -> None:
        """Connect and bring the schema to the newest migration (once, under a lock)."""
        if self._engine is None:
            self._engine = await database.connect(self.url, self.schema, self._lock_key("migrate"))

    async def aclose(self) -> None:
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=CLOSE_WAIT_S)
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def _lock_key(self, name: str) -> int:
        digest = hashlib.sha256(f"contact-gateway\x1f{self.schema or ''}\x1f{name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """Try to hold `name` against every other instance (PostgreSQL: a session advisory lock
        held for the block; SQLite: one process, so a local lock). Yields whether it is held."""
        if self.is_sqlite:
            lock = self._local_locks.setdefault(name, asyncio.Lock())
            if lock.locked():
                yield False
                return
            async with lock:
                yield True
            return
        key = self._lock_key(name)
        async with self.engine.connect() as conn:
            held = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})).scalar())
            await conn.commit()
            try:
                yield held
            finally:
                if held:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    await conn.commit()

    # ------------------------------------------------------------------ state

    @to_the_end
    async def status(self, namespaces: Sequence[str]) -> dict[str, IndexStatus]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(backends).where(backends.c.namespace.in_(list(namespaces))))
            found = {row.namespace: row for row in rows}
        result = {}
        for ns in namespaces:
            row = found.get(ns)
            if row is None:
                result[ns] = IndexStatus(IndexState.NOT_SYNCED, None, 0, None)
                continue
            state = IndexState.SYNCED if row.synced_at else IndexState.NOT_SYNCED
            if row.last_error:
                state = IndexState.FAILED
            result[ns] = IndexStatus(state, _aware(row.synced_at), row.records, row.last_error)
        return result

    @to_the_end
    async def synced(self, namespaces: Sequence[str]) -> set[str]:
        """The namespaces whose first full pass has completed (their index can answer)."""
        query = select(backends.c.namespace).where(
            backends.c.namespace.in_(list(namespaces)), backends.c.synced_at.is_not(None)
        )
        async with self.engine.connect() as conn:
            return set((await conn.execute(query)).scalars())

    # ------------------------------------------------------------------ contacts

    @to_the_end
    async def contacts_page(
        self, namespace: str, flt: ContactFilter, region: str, include_merged: bool, after: int | None, limit: int
    ) -> list[tuple[Contact, int]]:
        """Up to `limit` matching contacts after position `after`, in the vendor's order."""
        query = (
            select(contacts.c.record, contacts.c.position)
            .where(contacts.c.namespace == namespace, matching(flt, region), listed(flt, include_merged))
            .order_by(contacts.c.position)
            .limit(limit)
        )
        if after is not None:
            query = query.where(contacts.c.position > after)
        async with self.engine.connect() as conn:
            return [(records.to_contact(r.record), r.position) for r in await conn.execute(query)]

    @to_the_end
    async def count_matching(self, namespace: str, flt: ContactFilter, region: str, include_merged: bool) -> int:
        query = select(func.count()).where(
            contacts.c.namespace == namespace, matching(flt, region), listed(flt, include_merged)
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    # ------------------------------------------------------------------ people

    @to_the_end
    async def people_page(
        self,
        deployment: Deployment,
        visible: Sequence[str],
        flt: ContactFilter,
        region: str,
        after: int | None,
        limit: int,
    ) -> list[tuple[int, list[Contact]]]:
        """Up to `limit` people (first visible ordinal, visible contacts) after `after`."""
        async with self.engine.connect() as conn:
            chosen = await people_queries.page(
                conn, deployment.name, deployment.ranks, visible, flt, region, after, limit
            )
            members = await people_queries.members(conn, deployment.name, visible, [g for g, _ in chosen])
        return [(first, members.get(group, [])) for group, first in chosen]

    @to_the_end
    async def count_people(
        self, deployment: Deployment, visible: Sequence[str], flt: ContactFilter, region: str
    ) -> int:
        query = people_queries.count(deployment.name, deployment.ranks, visible, flt, region)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    @to_the_end
    async def people_of(
        self, deployment: Deployment, visible: Sequence[str], records: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[Contact]]:
        """For each (namespace, native id), the visible contacts of the person holding it, in
        order; absent when the index has no such contact in a group. One lookup for a page."""
        if not records:
            return {}
        wanted = [and_(contacts.c.namespace == ns, contacts.c.native_id == native) for ns, native in records]
        groups = (
            select(contacts.c.namespace, contacts.c.native_id, people.c.group_ordinal)
            .select_from(people.join(contacts, contacts.c.id == people.c.contact_id))
            .where(people.c.deployment == deployment.name, or_(*wanted))
        )
        async with self.engine.connect() as conn:
            found = {(ns, native): group for ns, native, group in await conn.execute(groups)}
            members = await people_queries.members(conn, deployment.name, visible, sorted(set(found.values())))
        return {record: members.get(group, []) for record, group in found.items()}

    # ------------------------------------------------------------------ sync passes and writes

    @contextlib.asynccontextmanager
    async def _writing(self, *, people_too: bool = False) -> AsyncIterator[AsyncConnection]:
        """One write transaction. SQLite: one writer at a time in this (the only) process, so
        no transaction fails on the file's lock. PostgreSQL: whoever changes people holds the
        people lock to the end of its transaction, so two regroupings never interleave."""
        if self.is_sqlite:
            async with self._sqlite_writer, self.engine.begin() as conn:
                yield conn
            return
        async with self.engine.begin() as conn:
            if people_too:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._lock_key("people")})
            yield conn

    @to_the_end
    async def begin_pass(self, namespace: str, backend: str) -> PassStart:
        """Start a pass, or resume the one a failure interrupted (its rows keep their number)."""
        async with self._writing() as conn:
            row = (await conn.execute(select(backends).where(backends.c.namespace == namespace))).first()
            if row is None:
                await conn.execute(
                    backends.insert().values(
                        namespace=namespace,
                        backend=backend,
                        pass_number=1,
                        resume_position=0,
                        records=0,
                        seen_at=datetime.now(UTC),
                    )
                )
                return PassStart(1, None, 0)
            if row.resume_from is not None:
                return PassStart(row.pass_number, row.resume_from, row.resume_position)
            number = row.pass_number + 1
            await conn.execute(
                update(backends)
                .where(backends.c.namespace == namespace)
                .values(pass_number=number, resume_position=0, backend=backend)
            )
            return PassStart(number, None, 0)

    @to_the_end
    async def store_page(
        self, namespace: str, number: int, page: Sequence[Contact], position: int, resume_from: str | None, region: str
    ) -> None:
        """Write one page of a pass (positions from `position` on) and where the next one starts."""
        async with self._writing() as conn:
            rows = [(c, position + k) for k, c in enumerate(page)]
            await upsert_contacts(conn, self.is_sqlite, namespace, number, rows, region)
            await conn.execute(
                update(backends)
                .where(backends.c.namespace == namespace)
                .values(resume_from=resume_from, resume_position=position + len(page))
            )

    @to_the_end
    async def finish_pass(self, namespace: str, number: int) -> int:
        """A completed pass: records it did not see leave the index. The number of records. The
        backend is SYNCED only once `publish` has rebuilt the people with it."""
        async with self._writing(people_too=True) as conn:
            stale = select(contacts.c.id).where(contacts.c.namespace == namespace, contacts.c.pass_number != number)
            await conn.execute(delete(keys).where(keys.c.contact_id.in_(stale)))
            await conn.execute(delete(people).where(people.c.contact_id.in_(stale)))
            await conn.execute(delete(contacts).where(contacts.c.id.in_(stale)))
            await conn.execute(update(backends).where(backends.c.namespace == namespace).values(resume_from=None))
            return int((await conn.execute(select(func.count()).where(contacts.c.namespace == namespace))).scalar_one())

    @to_the_end
    async def publish(self, deployment: Deployment, completed: Mapping[str, int]) -> None:
        """Rebuild the deployment's people and mark the `completed` namespaces SYNCED (with their
        record counts) in one transaction: a backend is never SYNCED with stale people."""
        async with self._writing(people_too=True) as conn:
            await identity.regroup_all(conn, deployment.name, deployment.ranks)
            now = datetime.now(UTC)
            for namespace, count in completed.items():
                await conn.execute(
                    update(backends)
                    .where(backends.c.namespace == namespace)
                    .values(synced_at=now, records=count, last_error=None, failed_at=None)
                )
        # Fresh statistics, so the planner looks a filter up by its index instead of walking
        # every person (SQLite keeps none unless asked; PostgreSQL's autovacuum may lag a pass).
        async with self._writing() as conn:
            for table in (contacts, keys, people):
                await conn.execute(text(f"ANALYZE {table.name}"))

    @to_the_end
    async def fail_pass(self, namespace: str, error: str, resumable: bool) -> None:
        """A pass that failed: the previous index stays; the next pass resumes when `resumable`."""
        values: dict[str, Any] = {"last_error": error, "failed_at": datetime.now(UTC)}
        if not resumable:
            values["resume_from"] = None
        async with self._writing() as conn:
            await conn.execute(update(backends).where(backends.c.namespace == namespace).values(**values))

    @to_the_end
    async def mark_seen(self, deployment: Deployment) -> None:
        """A gateway of `deployment` is running a sync round: its rows are in use (`expiry`)."""
        async with self._writing() as conn:
            await expiry.mark_seen(conn, self.is_sqlite, deployment.name, list(deployment.ranks), datetime.now(UTC))

    @to_the_end
    async def expire(self, deployment: Deployment, unseen_s: float) -> expiry.Expired:
        """Delete the rows of namespaces and deployments, other than `deployment`'s, that no
        gateway has marked seen for `unseen_s` (`expiry`)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=unseen_s)
        async with self.engine.connect() as conn:
            candidates = await expiry.unused_namespaces(conn, list(deployment.ranks), cutoff)
        expired = []
        for namespace in candidates:
            async with self.exclusive("sync:" + namespace) as held:
                if not held:
                    continue  # a gateway is syncing it right now
                async with self._writing(people_too=True) as conn:
                    if await expiry.expire_namespace(conn, namespace, cutoff):
                        expired.append(namespace)
        async with self._writing(people_too=True) as conn:
            gone = await expiry.expire_deployments(conn, deployment.name, cutoff)
        return expiry.Expired(expired, gone)

    @to_the_end
    async def record_written(self, deployment: Deployment, namespace: str, contact: Contact, region: str) -> None:
        """A write through the gateway: the record's row, keys and people, before the mutation returns."""
        async with self._writing(people_too=True) as conn:
            await write_one(conn, self.is_sqlite, deployment.name, deployment.ranks, namespace, contact, region)

    @to_the_end
    async def record_deleted(self, deployment: Deployment, namespace: str, native_id: str) -> None:
        async with self._writing(people_too=True) as conn:
            await delete_one(conn, deployment.name, deployment.ranks, namespace, native_id)
