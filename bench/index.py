"""`python -m bench.index [--contacts N] [--quick]`: the contact index at size, into bench/INDEX.md.

Four simulated vendors (uvicorn in a thread of this process, each call answered after 20 ms) hold
N generated contacts each (people shared across vendors). For SQLite and then PostgreSQL: one
`contact-gateway sync` process (wall time, peak RSS sampled every 50 ms, vendor calls against the
pages a pass needs), then `contact-gateway serve` on that index, and four queries timed from a
client on loopback (round trip: the server's time plus well under a millisecond), with the vendor
list calls they caused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.servers import Vendors, rss_kb, serving
from gateway.simulators.people import generated_share
from gateway.simulators.registry import DEMO_BACKENDS

HERE = Path(__file__).parent
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LATENCY_S = 0.02
LOAD_AT_START = os.getloadavg()[0]
COMPANY = "Company 7"
# Every query is asked with a key that sees every backend, but this one: a key scoped to two.
ALL_KEY, SCOPED_KEY = "bench-key-all-backends", "bench-key-voice-routing"
SCOPE = ["voice", "routing"]
SCOPED_PEOPLE = f"people(first: 10), a key scoped to {' and '.join(SCOPE)}"
QUERIES = {
    "people(first: 10)": "{ people(first: 10) { totalCount edges { node { id displayName contacts { id } } } } }",
    f'contacts(first: 10, filter: {{company: "{COMPANY}"}})': (
        f'{{ contacts(first: 10, filter: {{company: "{COMPANY}"}}) {{ totalCount edges {{ node {{ id }} }} }} }}'
    ),
    "contacts(first: 10) { totalCount }": "{ contacts(first: 10) { totalCount edges { node { id } } } }",
    "person(id)": "",  # filled with the first person's id once the index is there
    SCOPED_PEOPLE: "{ people(first: 10) { totalCount edges { node { id displayName contacts { id } } } } }",
}


def expected_totals(count: int) -> dict[str, int]:
    shares = [generated_share(rank, count) for rank in range(len(DEMO_BACKENDS))]
    people = len({i for share in shares for i in share})
    scoped = len({i for rank, share in enumerate(shares) if DEMO_BACKENDS[rank].name in SCOPE for i in share})
    # Genesys (the fourth) has no company field.
    company = sum(1 for share in shares[:3] for i in share if f"Company {i % 100}" == COMPANY)
    return {"people": people, "scoped": scoped, "company": company, "contacts": count * len(shares)}


def config_for(vendors: Vendors, index: dict[str, Any]) -> dict[str, Any]:
    backends = {
        d.name: {**d.settings(vendors.roots[d.name]), "index_calls_per_minute": 100_000, "timeout_s": 60}
        for d in DEMO_BACKENDS
    }
    return {
        "backends": backends,
        "index": {**index, "refresh_s": 86_400},
        # Measure the index, not the response cache: every answer is computed.
        "cache": {"url": "memory://", "ttl_s": 0, "responses": False},
        "server": {"deadline_s": 120},
        "auth": {
            "api_keys": [
                {"name": "bench", "key": ALL_KEY},
                {"name": "bench-scoped", "key": SCOPED_KEY, "backends": SCOPE},
            ]
        },
    }


def sync_once(config_path: Path, vendors: Vendors) -> dict[str, Any]:
    before = vendors.calls()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "sync", "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(OSError, RuntimeError):  # it may end between poll and read
            peak = max(peak, rss_kb(process.pid))
        time.sleep(0.05)
    out, err = process.communicate()
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"sync failed ({process.returncode}): {err.decode()[-2000:]}")
    return {"wall": wall, "peak_mb": peak / 1024, "calls": vendors.calls() - before, "output": out.decode()}


def time_queries(url: str, vendors: Vendors, repeats: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with httpx.Client(timeout=120) as client:

        def ask(query: str, key: str = ALL_KEY) -> tuple[float, dict[str, Any]]:
            started = time.perf_counter()
            body = client.post(url, json={"query": query}, headers={"authorization": f"Bearer {key}"}).json()
            elapsed = time.perf_counter() - started
            if body.get("errors") or body.get("extensions"):
                raise RuntimeError(f"unexpected answer: {str(body)[:500]}")
            return elapsed, body

        first = ask(QUERIES["people(first: 10)"])[1]["data"]["people"]["edges"][0]["node"]["id"]
        queries = {**QUERIES, "person(id)": f'{{ person(id: "{first}") {{ id contacts {{ id }} }} }}'}
        for name, query in queries.items():
            key = SCOPED_KEY if name == SCOPED_PEOPLE else ALL_KEY
            for _ in range(3):
                ask(query, key)  # warm-up
            list_calls = vendors.calls()
            times: list[float] = []
            body: dict[str, Any] = {}
            for _ in range(repeats):
                elapsed, body = ask(query, key)
                times.append(elapsed)
            calls = (vendors.calls() - list_calls) / repeats
            data = next(iter(body["data"].values()))
            results[name] = {
                "p50_ms": statistics.median(times) * 1000,
                "calls": calls,
                "total": data.get("totalCount") if isinstance(data, dict) else None,
            }
    return results


def wait_indexed(url: str) -> None:
    for _ in range(600):
        asked = {"query": "{ backends { index { state } } }"}
        body = httpx.post(url, json=asked, headers={"authorization": f"Bearer {ALL_KEY}"}, timeout=30).json()
        if all(b["index"]["state"] == "SYNCED" for b in body["data"]["backends"]):
            return
        time.sleep(0.1)
    raise RuntimeError("the served gateway never saw its index as synced")


def drop_schema(schema: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def drop() -> None:
        engine = create_async_engine(POSTGRES_URL)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()

    asyncio.run(drop())


def run_database(kind: str, vendors: Vendors, repeats: int, workdir: Path) -> dict[str, Any]:
    schema = "bench_" + uuid.uuid4().hex[:12]
    index = (
        {"url": f"sqlite+aiosqlite:///{workdir / 'index.db'}"}
        if kind == "SQLite"
        else {"url": POSTGRES_URL, "schema_name": schema}
    )
    config_path = workdir / f"{kind}.yaml"
    config_path.write_text(orjson.dumps(config_for(vendors, index)).decode())
    try:
        synced = sync_once(config_path, vendors)
        command = [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config_path), "--port"]
        with serving(command) as (url, _):
            wait_indexed(url)
            queries = time_queries(url, vendors, repeats)
    finally:
        if kind != "SQLite":
            drop_schema(schema)
    return {"sync": synced, "queries": queries}


def report(count: int, results: dict[str, dict[str, Any]], started: float, command: str) -> str:
    expected = expected_totals(count)
    pages = math.ceil((count) / 100) + len(DEMO_BACKENDS) - 1  # Comm100 pages of 100, one call each for the rest
    kinds = list(results)
    lines = [
        "# The contact index at size",
        "",
        f"Written by `{command}` (do not edit by hand). {len(DEMO_BACKENDS)} simulated backends x"
        f" {count:,} contacts ({count * len(DEMO_BACKENDS):,}), each vendor call answered after"
        f" {LATENCY_S * 1000:.0f} ms; query times are round trips from a client on loopback,"
        " median of the measured repeats, response cache off.",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()};"
        f" run took {time.monotonic() - started:.0f} s; load average (1 min) {LOAD_AT_START:.1f} at the start,"
        f" {os.getloadavg()[0]:.1f} at the end (other work on the machine slows every figure)",
        "",
        "| measure | goal | " + " | ".join(kinds) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]

    def row(name: str, goal: str, cell: Any) -> None:
        lines.append(f"| {name} | {goal} | " + " | ".join(cell(results[k]) for k in kinds) + " |")

    row("full sync of all four, wall", "<= 30 s", lambda r: f"{r['sync']['wall']:.1f} s")
    row("gateway peak RSS during the sync", "<= 300 MB", lambda r: f"{r['sync']['peak_mb']:.0f} MB")
    row(f"vendor calls of the sync / pages needed ({pages})", "= 1.00", lambda r: f"{r['sync']['calls'] / pages:.2f}")
    for name in QUERIES:
        row(
            f"`{name}` p50",
            "<= 50 ms" if name.startswith("people") or "company" in name else "",
            lambda r, n=name: f"{r['queries'][n]['p50_ms']:.1f} ms",
        )
    for name in QUERIES:
        row(f"`{name}` vendor calls per query", "0 list scans", lambda r, n=name: f"{r['queries'][n]['calls']:.1f}")
    row(
        f"`people` totalCount (expected {expected['people']:,})",
        "exact",
        lambda r: f"{r['queries']['people(first: 10)']['total']:,}",
    )
    row(
        f"`people` totalCount with the scoped key (expected {expected['scoped']:,})",
        "exact",
        lambda r: f"{r['queries'][SCOPED_PEOPLE]['total']:,}",
    )
    company = next(n for n in QUERIES if "company" in n)
    row(
        f"company filter totalCount (expected {expected['company']:,})",
        "exact",
        lambda r: f"{r['queries'][company]['total']:,}",
    )
    unfiltered = next(n for n in QUERIES if "totalCount" in n)
    row(
        f"unfiltered totalCount (expected {expected['contacts']:,})",
        "exact",
        lambda r: f"{r['queries'][unfiltered]['total']:,}",
    )
    lines += [
        "",
        "Notes: no vendor applies a company filter itself (their pushdowns send only flags and"
        " types), so the index answers that query whole. The unfiltered list reads Comm100 live (it"
        " pages: one call, uncached here) and the three vendors without paging from the index (live,"
        " each would answer its whole list for every page); totalCount comes from the index. The"
        " scoped key sees"
        f" {' and '.join(SCOPE)} only: its people come from the same index, shown by their visible contacts.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.index")
    parser.add_argument("--contacts", type=int, default=25_000, help="contacts per simulated vendor")
    parser.add_argument("--quick", action="store_true", help="2,000 contacts, fewer repeats")
    parser.add_argument("--output", default=str(HERE / "INDEX.md"))
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    count = 2_000 if args.quick else args.contacts
    repeats = 5 if args.quick else 30
    started = time.monotonic()
    sims = {d.name: d.make_generated(rank, count) for rank, d in enumerate(DEMO_BACKENDS)}
    vendors = Vendors(sims)
    vendors.latency(LATENCY_S)
    results: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-index-") as workdir:
            for kind in ("SQLite", *(() if args.skip_postgres else ("PostgreSQL",))):
                print(f"bench.index: {kind} ...", file=sys.stderr, flush=True)
                results[kind] = run_database(kind, vendors, repeats, Path(workdir))
    except RuntimeError as exc:
        print(f"bench.index: {exc}", file=sys.stderr)
        return 1
    finally:
        vendors.stop()
    command = "python -m bench.index" + (" --quick" if args.quick else "")
    text = report(count, results, started, command)
    Path(args.output).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
