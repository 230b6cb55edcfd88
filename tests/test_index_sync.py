"""Filling the contact index: full passes against the simulators, on SQLite and on PostgreSQL.

What a user would notice: every contact is there after a pass, a contact deleted at the vendor
leaves with the next pass, a failing pass keeps the previous index and says why (and the next one
resumes where it stopped), the vendor's 429 and the configured pace are honoured, two instances
sync a backend once, and two deployments sharing a database never see each other's rows.
"""

from __future__ import annotations

import asyncio
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, inspect, text

from gateway.backends.comm100 import to_contact
from gateway.index import ContactIndex, IndexState
from gateway.index_cli import run_sync
from gateway.model import ContactFilter
from gateway.simulators.comm100 import Comm100Simulator, demo_backend_settings, generated_records
from gateway.simulators.common import Fault, SimulatorTransport
from gateway.simulators.registry import DEMO_BACKENDS
from tests.conftest import Harness, HarnessFactory, IndexDatabase, settings_for


def comm100_with(count: int, token: str = "comm100-demo-token") -> Comm100Simulator:
    return Comm100Simulator(token=token, records=generated_records(range(count)))


# Simulators answer at once: the tests pace passes only where the pace is what they check.
UNPACED = {"index_calls_per_minute": 60_000}


def comm100_config(token: str = "comm100-demo-token", **extra: Any) -> dict[str, Any]:
    return {**demo_backend_settings("http://support.test"), "token": token, **UNPACED, **extra}


async def synced(h: Harness, **kw: Any) -> list[Any]:
    assert h.gateway.sync is not None
    await h.gateway.open_index()
    return await h.gateway.sync.sync_all(force=True, **kw)


async def status(h: Harness, backend: str) -> Any:
    assert h.gateway.index is not None
    namespace = h.gateway.backends[backend].cache_namespace
    return (await h.gateway.index.status([namespace]))[namespace]


async def indexed_ids(h: Harness, backend: str) -> list[str]:
    assert h.gateway.index is not None
    namespace = h.gateway.backends[backend].cache_namespace
    rows = await h.gateway.index.contacts_page(namespace, ContactFilter(), "US", True, None, 100_000)
    return [c.id for c, _ in rows]


async def test_a_pass_indexes_every_contact_of_every_backend(
    make_harness: HarnessFactory, index_db: IndexDatabase
) -> None:
    h = make_harness(overrides={b.name: UNPACED for b in DEMO_BACKENDS}, index=index_db.section())
    outcomes = await synced(h)
    assert [o.synced for o in outcomes] == [True] * len(h.gateway.backends)
    for name, backend in h.gateway.backends.items():
        listed = await backend.scan(ContactFilter(), None, 100_000, include_merged=True)
        assert await indexed_ids(h, name) == [c.id for c in listed.contacts]  # all, in the vendor's order
        state = await status(h, name)
        assert (state.state, state.records, state.last_error) == (IndexState.SYNCED, len(listed.contacts), None)


async def test_a_contact_deleted_at_the_vendor_leaves_with_the_next_pass(
    make_custom: Any, index_db: IndexDatabase
) -> None:
    sim = comm100_with(250)
    h = make_custom({"support": (sim, comm100_config())}, index=index_db.section())
    await synced(h)
    gone = next(iter(sim.records))
    del sim.records[gone]
    await synced(h)
    ids = await indexed_ids(h, "support")
    assert len(ids) == 249 and f"support:{gone}" not in ids
    assert (await status(h, "support")).records == 249


async def test_a_pass_reads_each_page_once_at_the_configured_pace(make_custom: Any, index_db: IndexDatabase) -> None:
    sim = comm100_with(350)
    h = make_custom({"support": (sim, comm100_config(index_calls_per_minute=600))}, index=index_db.section())
    started = time.monotonic()
    await synced(h)
    assert sim.state.count("GET") == 4  # 350 records, 100 a page: no page read twice
    assert time.monotonic() - started >= 0.3 - 0.05  # 600 a minute: 0.1 s between calls


async def test_a_pass_waits_out_the_vendors_429_and_completes(make_custom: Any, index_db: IndexDatabase) -> None:
    sim = comm100_with(150)
    h = make_custom({"support": (sim, comm100_config(retry_backoff_s=0))}, index=index_db.section())
    sim.state.inject(Fault(kind="status", status=429, retry_after=0.1, times=4))
    started = time.monotonic()
    outcomes = await synced(h)
    assert outcomes[0].synced and outcomes[0].records == 150
    assert time.monotonic() - started >= 0.4 - 0.05  # every Retry-After was waited
    assert sim.state.count("GET") == 4 + 2


async def test_a_failing_pass_keeps_the_previous_index_reports_why_and_the_next_resumes(
    make_custom: Any, index_db: IndexDatabase
) -> None:
    sim = comm100_with(350)
    h = make_custom({"support": (sim, comm100_config())}, index=index_db.section())
    await synced(h)
    deleted = next(iter(sim.records))
    del sim.records[deleted]

    sim.state.inject(Fault(kind="status", status=500, after=2))  # pages 1 and 2 answer, page 3 fails
    outcomes = await synced(h)
    assert not outcomes[0].synced and outcomes[0].error is not None and "BACKEND_UNAVAILABLE" in outcomes[0].error
    state = await status(h, "support")
    assert state.state == IndexState.FAILED and state.last_error == outcomes[0].error
    assert state.records == 350  # the previous index still answers, the deleted record included
    assert f"support:{deleted}" in await indexed_ids(h, "support")

    sim.state.clear_faults()
    sim.state.reset()
    await synced(h)
    assert sim.state.count("GET") == 2  # resumed at page 3 of 4
    state = await status(h, "support")
    assert (state.state, state.records, state.last_error) == (IndexState.SYNCED, 349, None)
    assert f"support:{deleted}" not in await indexed_ids(h, "support")


async def test_two_deployments_sharing_a_database_never_see_each_others_rows(
    make_custom: Any, index_db: IndexDatabase
) -> None:
    ours, theirs = comm100_with(120, token="our-secret-token"), comm100_with(30, token="their-secret-token")
    h_ours = make_custom({"support": (ours, comm100_config("our-secret-token"))}, index=index_db.section())
    h_theirs = make_custom({"support": (theirs, comm100_config("their-secret-token"))}, index=index_db.section())
    await synced(h_ours)
    await synced(h_theirs)
    assert (await status(h_ours, "support")).records == 120
    assert (await status(h_theirs, "support")).records == 30
    assert len(await indexed_ids(h_ours, "support")) == 120
    assert len(await indexed_ids(h_theirs, "support")) == 30
    assert h_ours.gateway.index is not None
    async with h_ours.gateway.index.engine.connect() as conn:
        keys = [row[0] for row in await conn.execute(text("SELECT DISTINCT namespace FROM index_contacts"))]
    assert len(keys) == 2 and not any("secret" in k for k in keys)  # keyed by a hash, never the secret


async def test_two_instances_on_postgresql_sync_a_backend_once(make_custom: Any, postgres_db: IndexDatabase) -> None:
    index_db = postgres_db
    sim = comm100_with(300)
    config = comm100_config(index_calls_per_minute=1200)
    first = make_custom({"support": (sim, config)}, index=index_db.section())
    second = make_custom({"support": (sim, config)}, index=index_db.section())
    for h in (first, second):
        await h.gateway.open_index()
    assert first.gateway.sync is not None and second.gateway.sync is not None
    outcomes = await asyncio.gather(first.gateway.sync.sync_all(), second.gateway.sync.sync_all())
    assert sorted(o[0].synced for o in outcomes) == [False, True]
    assert sim.state.count("GET") == 3  # one pass: three pages
    assert await indexed_ids(first, "support") == await indexed_ids(second, "support")
    people = "{ people(first: 500) { totalCount edges { node { id contacts { id } } } } }"
    on_first, on_second = await first.run(people), await second.run(people)
    assert on_first == on_second and on_first["data"]["people"]["totalCount"] == 300


async def test_migrations_build_the_schema_in_an_empty_database_once(index_db: IndexDatabase) -> None:
    indexes = [ContactIndex(index_db.url, schema=index_db.schema) for _ in range(3)]
    await asyncio.gather(*(i.open() for i in indexes))  # at once: the lock lets one migrate
    async with indexes[0].engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert version == "0004"
    assert {"index_backends", "index_contacts", "index_deployments", "index_keys", "index_people"} <= tables
    for index in indexes:
        await index.aclose()


async def test_sync_command_exit_codes_name_the_failed_backend(index_db: IndexDatabase) -> None:
    sim, other = comm100_with(20), comm100_with(10, token="other-token")
    backends = {"support": comm100_config(), "second": comm100_config("other-token")}
    settings = settings_for(backends, index=index_db.section())
    transports = {"support": SimulatorTransport(app=sim.app), "second": SimulatorTransport(app=other.app)}

    async def sync(only: list[str] | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await run_sync(settings, only, out=out, err=err, transports=transports)
        return code, out.getvalue(), err.getvalue()

    code, out, err = await sync()
    assert code == 0 and "support: synced, 20 records" in out and "second: synced, 10 records" in out
    other.state.inject(Fault(kind="status", status=500))
    code, out, err = await sync()
    assert code == 3 and "sync failed: backend second: BACKEND_UNAVAILABLE" in err and "support" not in err
    code, _, err = await sync(["nope"])
    assert code == 2 and "no backend named nope" in err
    off = settings_for(backends, index=False)
    assert await run_sync(off, None, out=io.StringIO(), err=io.StringIO()) == 2


def test_the_sync_command_exits_3_naming_an_unreachable_backend(tmp_path: Any) -> None:
    import subprocess
    import sys

    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"server: {{data_dir: '{tmp_path}'}}\n"
        "backends:\n"
        '  support: {vendor: comm100, url: "http://127.0.0.1:9/v4", token: "sync-secret-token", retries: 0}\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "sync", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "sync failed: backend support: BACKEND_UNAVAILABLE" in result.stderr
    assert "Traceback" not in result.stderr and "sync-secret-token" not in result.stderr + result.stdout


async def test_serve_syncs_at_start_and_again_every_refresh_s(make_custom: Any, index_db: IndexDatabase) -> None:
    sim = comm100_with(150)
    h = make_custom({"support": (sim, comm100_config())}, index=index_db.section(refresh_s=1))
    assert h.gateway.sync is not None
    running = asyncio.create_task(h.gateway.sync.run_forever())
    try:
        for _ in range(100):
            if 'outcome="synced"} 2.0' in h.gateway.metrics.render().decode():  # two passes published
                break
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert sim.state.count("GET") == 4  # two passes of two pages
    assert (await status(h, "support")).state == IndexState.SYNCED
    scraped = h.gateway.metrics.render().decode()
    assert 'gateway_index_passes_total{backend="support",outcome="synced"} 2.0' in scraped
    assert 'gateway_index_records{backend="support"} 150.0' in scraped


async def test_with_the_index_off_everything_is_live_and_backends_say_so(make_harness: HarnessFactory) -> None:
    h = make_harness(index=False)
    assert h.gateway.index is None and h.gateway.sync is None
    states = await h.run("{ backends { name index { state } } }")
    assert [b["index"] for b in states["data"]["backends"]] == [None] * len(DEMO_BACKENDS)
    people = await h.run("{ people(first: 3) { totalCount } }")
    assert people["data"]["people"]["totalCount"] > 0 and "extensions" not in people


async def test_a_stored_record_reads_back_as_the_same_contact(make_harness: HarnessFactory) -> None:
    """Every field of every vendor's mapped records survives the index (a new model field that
    the index forgets fails here)."""
    import orjson

    from gateway.index.records import contact_row, to_contact

    h = make_harness()
    for backend in h.gateway.backends.values():
        listed = await backend.scan(ContactFilter(), None, 100_000, include_merged=True)
        for contact in listed.contacts:
            stored = orjson.loads(orjson.dumps(contact_row(contact)["record"]))
            assert to_contact(stored) == contact


async def test_a_pass_reads_past_the_page_cap_of_live_requests(make_custom: Any, index_db: IndexDatabase) -> None:
    sim = comm100_with(350)
    h = make_custom({"support": (sim, comm100_config(max_pages=2))}, index=index_db.section())
    outcomes = await synced(h)
    assert outcomes[0].synced and outcomes[0].records == 350  # four pages, though a request may walk two


async def test_a_contact_whose_email_changed_at_the_vendor_is_found_by_the_new_one_only_after_the_next_pass(
    make_custom: Any, index_db: IndexDatabase
) -> None:
    sim = comm100_with(250)
    h = make_custom({"support": (sim, comm100_config())}, index=index_db.section())
    await synced(h)
    changed = sim.records[next(iter(sim.records))]
    email = next(i for i in changed["contactIdentities"] if i["contactIdentityType"] == "Email")
    old = email["value"]
    email["value"] = "moved.on@example.com"
    await synced(h)
    query = (
        "query($email: String!) { people(first: 5, filter: {email: $email})"
        " { totalCount edges { node { contacts { id } } } } }"
    )
    found = (await h.run(query, {"email": "moved.on@example.com"}))["data"]["people"]
    assert found["totalCount"] == 1
    assert found["edges"][0]["node"]["contacts"] == [{"id": f"support:{changed['id']}"}]
    assert (await h.run(query, {"email": old}))["data"]["people"]["totalCount"] == 0


class ShiftingList:
    """A Comm100 site whose list shifts while a pass reads it: after the first page is answered,
    a record is added at the front, so the next page starts with one already read."""

    def __init__(self, sim: Comm100Simulator, added: dict[str, Any]) -> None:
        self.sim, self.added, self.state = sim, added, sim.state

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        await self.sim.app(scope, receive, send)
        if scope["type"] == "http" and self.added["id"] not in self.sim.records:
            self.sim.records = {self.added["id"]: self.added, **self.sim.records}


async def test_a_record_the_vendor_lists_twice_in_one_pass_is_indexed_once(
    make_custom: Any, index_db: IndexDatabase
) -> None:
    sim = comm100_with(350)
    added = generated_records(range(350, 351))[0]
    h = make_custom({"support": (ShiftingList(sim, added), comm100_config())}, index=index_db.section())
    outcomes = await synced(h)
    assert outcomes[0].synced, outcomes
    ids = await indexed_ids(h, "support")
    assert len(ids) == len(set(ids)) == 350  # the record read twice is there once; `added` came too late
    assert (await status(h, "support")).records == 350


async def test_a_sync_slowed_by_the_vendors_429s_leaves_the_backend_healthy_for_users(
    make_custom: Any, index_db: IndexDatabase
) -> None:
    sim = comm100_with(150)
    config = comm100_config(retry_backoff_s=0, breaker_failures=2, breaker_cooldown_s=60)
    h = make_custom({"support": (sim, config)}, index=index_db.section())
    sim.state.inject(Fault(kind="status", status=429, retry_after=0, times=6))
    outcomes = await synced(h)
    assert outcomes[0].synced and outcomes[0].records == 150
    health = await h.run("{ backends { name healthy } }")
    assert health["data"]["backends"] == [{"name": "support", "healthy": True}]
    live = await h.run("query($id: ID!) { contact(id: $id) { id } }", {"id": f"support:{next(iter(sim.records))}"})
    assert "errors" not in live


async def test_a_vendor_down_during_a_sync_shows_unhealthy(make_custom: Any, index_db: IndexDatabase) -> None:
    sim = comm100_with(150)
    config = comm100_config(retry_backoff_s=0, breaker_failures=2, breaker_cooldown_s=60)
    h = make_custom({"support": (sim, config)}, index=index_db.section())
    sim.state.inject(Fault(kind="status", status=503))
    outcomes = await synced(h)
    assert not outcomes[0].synced and outcomes[0].error is not None
    health = await h.run("{ backends { name healthy index { state } } }")
    assert health["data"]["backends"] == [{"name": "support", "healthy": False, "index": {"state": "FAILED"}}]


async def rows_of(h: Harness, namespace: str) -> dict[str, int]:
    """How many rows of `namespace` each index table holds."""
    assert h.gateway.index is not None
    async with h.gateway.index.engine.connect() as conn:
        return {
            table: (
                await conn.execute(text(f"SELECT count(*) FROM {table} WHERE namespace = :ns"), {"ns": namespace})
            ).scalar_one()
            for table in ("index_backends", "index_contacts", "index_keys", "index_people")
        }


async def age(h: Harness, days: float) -> None:
    """Make every namespace and deployment of `h` look as if no gateway had run them for `days`."""
    assert h.gateway.index is not None
    then = datetime.now(UTC) - timedelta(days=days)
    namespaces = [b.cache_namespace for b in h.gateway.backends.values()]
    async with h.gateway.index.engine.begin() as conn:
        await conn.execute(
            text("UPDATE index_backends SET seen_at = :then WHERE namespace IN :namespaces").bindparams(
                bindparam("namespaces", expanding=True)
            ),
            {"then": then, "namespaces": namespaces},
        )
        await conn.execute(
            text("UPDATE index_deployments SET seen_at = :then WHERE name = :name"),
            {"then": then, "name": h.gateway.deployment.name},
        )


async def test_rows_no_gateway_syncs_for_a_week_expire_and_rows_still_synced_stay(
    make_custom: Any, index_db: IndexDatabase
) -> None:
    """The credentials changed (so did the namespace): the old rows go once no gateway has synced
    them for `expire_s`; another deployment sharing the database keeps its rows, even while its
    vendor fails."""
    before = make_custom(
        {"support": (comm100_with(40, "old-token"), comm100_config("old-token"))}, index=index_db.section()
    )
    failing = comm100_with(30, "their-token")
    theirs = make_custom({"support": (failing, comm100_config("their-token"))}, index=index_db.section())
    await synced(before)
    await synced(theirs)
    old = before.gateway.backends["support"].http.cache_namespace
    kept = theirs.gateway.backends["support"].http.cache_namespace
    assert (await rows_of(before, old))["index_people"] == 40
    await age(before, 8)
    await age(theirs, 8)
    failing.state.inject(Fault(kind="status", status=500))
    assert not (await synced(theirs))[0].synced  # still running, its vendor down: it keeps its rows

    after = make_custom(
        {"support": (comm100_with(40, "new-token"), comm100_config("new-token"))}, index=index_db.section()
    )
    settings = settings_for({"support": comm100_config("new-token")}, index=index_db.section())
    out, err = io.StringIO(), io.StringIO()
    transports = {"support": SimulatorTransport(app=after.sims["support"].app)}
    assert await run_sync(settings, None, out=out, err=err, transports=transports) == 0
    assert "expired the rows of 1 backend namespace and 1 deployment no gateway has synced for 7 days" in out.getvalue()
    assert await rows_of(before, old) == dict.fromkeys(
        ("index_backends", "index_contacts", "index_keys", "index_people"), 0
    )
    assert (await rows_of(theirs, kept))["index_contacts"] == 30
    assert (await rows_of(theirs, kept))["index_people"] == 30
    people = await theirs.run("{ people(first: 1) { totalCount } }")
    assert people["data"]["people"]["totalCount"] == 30


async def test_a_write_whose_caller_is_cancelled_runs_to_its_end_and_closing_waits_for_it(
    index_db: IndexDatabase,
) -> None:
    """A sync stopped at shutdown (or a request past its deadline) is cancelled while the index
    writes: the write still completes and gives its connection back, and closing the index waits
    for it instead of leaving a connection cut mid-way (with aiosqlite, SQLAlchemy's clean-up of
    such a connection could wait forever, and the process with it)."""
    contacts = [c for c in (to_contact(r, "support") for r in generated_records(range(300))) if c.native_id]
    index = ContactIndex(index_db.url, schema=index_db.schema)
    await index.open()
    start = await index.begin_pass("support:x", "support")
    writing = asyncio.create_task(index.store_page("support:x", start.number, contacts, 0, "2", "US"))
    await asyncio.sleep(0)  # the write has started
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    await asyncio.wait_for(index.aclose(), timeout=30)
    assert not index.in_flight
    reopened = ContactIndex(index_db.url, schema=index_db.schema)
    await reopened.open()
    try:
        assert await reopened.count_matching("support:x", ContactFilter(), "US", True) == len(contacts)
    finally:
        await reopened.aclose()
