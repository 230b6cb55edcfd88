"""`python -m bench --peers`: contact-gateway side by side with Hive Gateway, the Node peer of issue 19.

Both gateways read the same AgentVoice simulator, served in a process of its own with enough records
that no id repeats, Hive Gateway through an OpenAPI description of it (bench/hive.py). All four
servers are up at once and measured in turn under wrk at 20 connections: uncached with a new id on
every request (one vendor call each, counted at the simulator), and cached on one id. Server CPU
per request is read from /proc before and after each load.

Run the comparison alone, without writing bench/README.md: `python -m bench.peers`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.hive import NPM_PACKAGES, cache_dir, compose, hive_gateway, install
from bench.load import Load, generate, run_wrk_script
from bench.profiling import top_frames
from bench.servers import Running, gateway, post, serving
from gateway.serving import bind, make_server, serve_all
from gateway.simulators import agentvoice

CONNECTIONS = 20
# More records than an uncached server is sent requests in a run (warm-up and every round), so each
# of its requests asks for an id it has not seen.
RECORDS = 60_000
MAX_SECONDS = 3.0
# Node compiles its hot paths over the first thousands of requests: a 2 s warm-up left Hive's first
# round ~2x slower than the rest. Counted in requests, as a busy machine serves fewer in a second.
WARM_UP_REQUESTS = 5_000
WARM_UP_MAX_SECONDS = 20.0
PROFILE_SECONDS = 4.0
# Ten fields of the same contact on each side: the gateway's schema and the vendor's own names.
GATEWAY_FIELDS = "id displayName firstName lastName emails phones company kind backend vendor"
HIVE_FIELDS = "id first_name last_name email phone company crm_id crm_source created_at updated_at"
ID_SLOT = "@ID@"
# contact-gateway and Hive Gateway, compared pair by pair.
PAIRS = (("gateway", "hive"), ("gateway-cached", "hive-cached"))
PAIR_LABELS = (
    "uncached (cache off vs no response cache), a new id each request",
    "cached (default cache vs its response cache), one id",
)


def record_id(n: int) -> str:
    """The AgentVoice UUID of generated record `n`; the wrk script formats the same string."""
    return f"00000000-0000-4000-8000-{n:012d}"


WRK_ID_FORMAT = "00000000-0000-4000-8000-%012d"


def many_records(count: int) -> list[dict[str, Any]]:
    """`count` AgentVoice contacts, copies of the sample customers under their own ids."""
    template = [r for r in agentvoice.sample_records() if r.get("last_name")]
    return [{**template[n % len(template)], "id": record_id(n)} for n in range(count)]


class CountedSimulator:
    """The AgentVoice simulator holding RECORDS contacts, which also answers `GET /calls` with the
    number of vendor calls it has served. It runs in a process of its own, like a vendor: served from
    a thread of the bench (as scenarios 2-5 do) it answered slower and both gateways' uncached req/s
    halved."""

    def __init__(self) -> None:
        self.simulator = agentvoice.AgentVoiceSimulator(records=many_records(RECORDS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app: ASGIApp = self.simulator.app
        if scope["type"] == "http" and scope["path"] == "/calls":
            app = PlainTextResponse(str(len(self.simulator.state.calls)))
        await app(scope, receive, send)


def vendor_calls(root: str) -> int:
    return int(httpx.get(f"{root}/calls").text)


def serve_simulator(port: int) -> None:
    asyncio.run(serve_all([(make_server(CountedSimulator()), bind("127.0.0.1", port))]))


# ---------------------------------------------------------------------------- measuring


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its live descendants (a server may fork), from /proc."""
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        child = int(stat.parent.name)
        parents[child] = int(after_name[1])
        times[child] = int(after_name[11]) + int(after_name[12])  # utime, stime (fields 14 and 15)
    tree = {pid}
    grew = True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    return sum(times.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Measured:
    load: Load
    cpu_seconds: float
    vendor_calls: int

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / max(1, self.load.requests)


@dataclass
class Server:
    """One server under test, kept up for the whole comparison; `next_id` is the first record id its
    next new-id load sends, so no id repeats on one server across loads."""

    name: str
    url: str
    pid: int
    body: str
    new_ids: bool
    next_id: int = 0
    # One load a round, by number of connections.
    loads: dict[int, list[Measured]] = field(default_factory=dict)

    def vendor_calls_per_request(self) -> float:
        every = [m for loads in self.loads.values() for m in loads]
        return sum(m.vendor_calls for m in every) / max(1, sum(m.load.requests for m in every))


def new_id_script(body: str, first_id: int) -> str:
    """wrk Lua: POST `body` with a different record id in the ID_SLOT each request, counting answers
    that carry GraphQL errors (a missed id would answer fast and flatter the server)."""
    before, after = body.split(ID_SLOT)
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local sent = {first_id}
graphql_errors = 0
request = function()
  sent = sent + 1
  local id = string.format("{WRK_ID_FORMAT}", sent % {RECORDS})
  return wrk.format(nil, nil, nil, {json.dumps(before)} .. id .. {json.dumps(after)})
end
response = function(status, headers, body)
  if string.find(body, '"errors"', 1, true) then graphql_errors = graphql_errors + 1 end
end
"""


def measure(server: Server, vendor: str, seconds: float, connections: int = CONNECTIONS) -> Measured:
    cpu_before, calls_before = cpu_seconds(server.pid), vendor_calls(vendor)
    if server.new_ids:
        load = run_wrk_script(server.url, new_id_script(server.body, server.next_id), connections, seconds)
        server.next_id += load.requests + connections  # and the requests still in flight at the end
    else:
        load = generate(server.url, server.body, connections=connections, seconds=seconds)
    return Measured(load, cpu_seconds(server.pid) - cpu_before, vendor_calls(vendor) - calls_before)


def warm_up(server: Server, vendor: str) -> None:
    """Load the server until it has served WARM_UP_REQUESTS (Node's JIT, connection pools, the cache)."""
    served, started = 0, time.monotonic()
    while served < WARM_UP_REQUESTS and time.monotonic() - started < WARM_UP_MAX_SECONDS:
        served += measure(server, vendor, 1.0).load.requests


def query(fields: str, id_type: str, id_value: str) -> str:
    text = f"query One($id: {id_type}) {{ contact(id: $id) {{ {fields} }} }}"
    return orjson.dumps({"query": text, "variables": {"id": id_value}}).decode()


def side_by_side(tools: Path, seconds: float, rounds: int) -> tuple[dict[str, Server], list[str]]:
    """Hive and contact-gateway, uncached and cached, all four up at once (idle while the others are
    measured) and measured in turn, `rounds` times over; each round's pair of loads is compared, so
    a burst of other work on the shared machine lands in one round, not on one side. Also returns
    a py-spy profile of contact-gateway under the uncached load (empty without py-spy)."""
    with ExitStack() as stack:
        simulator_url, _ = stack.enter_context(serving([sys.executable, "-m", "bench.peers", "simulator"]))
        vendor = simulator_url.removesuffix("/graphql")
        # A directory of this run's own under the tools: another run may compose at the same time.
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=tools, prefix="run-")))
        supergraph = compose(tools, work, vendor)
        backend = {"voice": {**agentvoice.demo_backend_settings(vendor), "retries": 0}}
        hive_new = query(HIVE_FIELDS, "String!", ID_SLOT)
        ours_new = query(GATEWAY_FIELDS, "ID!", f"voice:{ID_SLOT}")
        one = record_id(RECORDS - 1)  # the cached loads' id; new-id loads never reach it
        setups: list[tuple[str, Callable[[], AbstractContextManager[Running]], str, bool]] = [
            ("hive", lambda: hive_gateway(tools, supergraph, response_cache=False), hive_new, True),
            ("gateway", lambda: gateway(backend, cache={"ttl_s": 0, "responses": False}), ours_new, True),
            ("hive-cached", lambda: hive_gateway(tools, supergraph, response_cache=True), hive_new, False),
            ("gateway-cached", lambda: gateway(backend), ours_new, False),
        ]
        servers: dict[str, Server] = {}
        for name, start, body, new_ids in setups:
            url, process = stack.enter_context(start())
            server = Server(name, url, process.pid, body if new_ids else body.replace(ID_SLOT, one), new_ids)
            answer = post(url, body.replace(ID_SLOT, one))
            if not answer.get("data", {}).get("contact"):
                raise RuntimeError(f"{name}: no contact in {answer}")
            servers[name] = server
        # Warmed up once all are started: starting the others busies the CPU, and a gap after warming
        # up left Hive's first round slower than the rest.
        for server in servers.values():
            warm_up(server, vendor)
        for round_number in range(rounds):
            for pair in PAIRS:
                # Each side goes first every other round, so a drift in the machine's load cancels.
                for name in pair if round_number % 2 == 0 else reversed(pair):
                    for connections in (CONNECTIONS, 1) if servers[name].new_ids else (CONNECTIONS,):
                        servers[name].loads.setdefault(connections, []).append(
                            measure(servers[name], vendor, seconds, connections)
                        )
        ours = servers["gateway"]
        profile = top_frames(ours.pid, lambda: measure(ours, vendor, PROFILE_SECONDS + 2))
        return servers, profile


# ---------------------------------------------------------------------------- report


def compare(seconds: float, rounds: int, rows: list[list[str]], notes: list[str]) -> None:
    """Rows 6.: contact-gateway / Hive Gateway, uncached and cached; skipped without node, npm or wrk."""
    missing = [tool for tool in ("node", "npm", "wrk") if not shutil.which(tool)]
    if missing:
        rows.append(["6. contact(id) / Hive Gateway", "n/a", "", f"skipped: {', '.join(missing)} not found"])
        return
    tools = cache_dir()
    seconds = min(seconds, MAX_SECONDS)
    try:
        install(tools)
        servers, profile = side_by_side(tools, seconds, rounds)
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        # Keep the rest of the run's report: the peer's failure is one row and a note.
        rows.append(["6. contact(id) / Hive Gateway", "n/a", "", f"failed: {type(exc).__name__}"])
        notes.append(f"Hive Gateway comparison failed: {exc}"[:2000])
        return
    for (ours_name, hive_name), label, goal in zip(PAIRS, PAIR_LABELS, (">= 1.0", ">= 2.5"), strict=True):
        ours, hive = servers[ours_name].loads[CONNECTIONS], servers[hive_name].loads[CONNECTIONS]
        rows.append(
            [
                f"6. contact(id) req/s / Hive Gateway, {label}",
                per_round([a.load.rps / b.load.rps for a, b in zip(ours, hive, strict=True)]),
                goal,
                f"{median([m.load.rps for m in ours]):,.0f} vs {median([m.load.rps for m in hive]):,.0f} req/s",
            ]
        )
        rows.append(
            [
                f"6. the same, server CPU per request / Hive Gateway's ({label.split()[0]})",
                per_round([a.cpu_ms_per_request / b.cpu_ms_per_request for a, b in zip(ours, hive, strict=True)]),
                "",
                f"{median([m.cpu_ms_per_request for m in ours]):.2f} ms"
                f" vs {median([m.cpu_ms_per_request for m in hive]):.2f} ms",
            ]
        )
    growth = {
        name: [
            a.cpu_ms_per_request / b.cpu_ms_per_request
            for a, b in zip(servers[name].loads[CONNECTIONS], servers[name].loads[1], strict=True)
        ]
        for name in ("gateway", "hive")
    }
    rows.append(
        [
            f"6. uncached CPU per request, {CONNECTIONS} connections / 1 connection"
            f" (Hive Gateway: {median(growth['hive']):.2f})",
            per_round(growth["gateway"]),
            "<= 1.0",
            f"{median([m.cpu_ms_per_request for m in servers['gateway'].loads[CONNECTIONS]]):.2f} ms"
            f" vs {median([m.cpu_ms_per_request for m in servers['gateway'].loads[1]]):.2f} ms",
        ]
    )
    notes.append(
        f"Hive Gateway {NPM_PACKAGES['@graphql-hive/gateway']} (Node {node_version()}, NODE_ENV=production, one"
        f" process; npm packages in {str(tools).replace(str(Path.home()), '~')}) over an OpenAPI description of"
        f" the AgentVoice simulator ({RECORDS:,} records, its own process), composed by @graphql-mesh/compose-cli"
        f" {NPM_PACKAGES['@graphql-mesh/compose-cli']}; wrk; {rounds} rounds of {seconds:.0f} s loads after"
        f" {WARM_UP_REQUESTS:,} warm-up requests, each ratio the median of the rounds' ratios (range in brackets),"
        " figures the medians"
    )
    notes.append(
        "Peer loads, round by round: "
        + "; ".join(
            f"{server.name} at {connections} connection(s)"
            f" {' / '.join(f'{m.load.rps:,.0f}' for m in loads)} req/s,"
            f" {' / '.join(f'{m.cpu_ms_per_request:.2f}' for m in loads)} ms CPU a request"
            for server in servers.values()
            for connections, loads in server.loads.items()
        )
        + "; vendor calls per request: "
        + ", ".join(f"{s.name} {s.vendor_calls_per_request():.2f}" for s in servers.values())
        + f"; errors: {sum(m.load.errors for s in servers.values() for loads in s.loads.values() for m in loads)}"
    )
    if profile:
        notes.append(
            "Profile of the gateway serving uncached reads, a new id each request (py-spy, own time, top lines):"
            "\n\n```\n" + "\n".join(profile) + "\n```"
        )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def per_round(ratios: list[float]) -> str:
    """A row's ratio cell: the median of the rounds' ratios, and their range."""
    return f"{median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str]) -> int:
    """`simulator <port>`: serve the counted simulator (the comparison starts it so); no arguments:
    run the comparison and print its rows and notes, without writing bench/README.md."""
    if argv[:1] == ["simulator"]:
        serve_simulator(int(argv[1]))
        return 0
    rows: list[list[str]] = []
    notes: list[str] = []
    compare(MAX_SECONDS, 4, rows, notes)
    print("\n".join(" | ".join(row) for row in rows))
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
