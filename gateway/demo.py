"""`contact-gateway demo`: every simulator on a loopback port and the gateway in front of them.

No config, no network, no credentials: the demo's settings are built here and point at the
simulators, which hold the sample data.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
from typing import Any

import httpx
import orjson

from gateway import graphiql
from gateway.app import create_app
from gateway.backends.registry import settings_models
from gateway.config import GatewaySettings, parse_config
from gateway.serving import bind, make_server, serve_all
from gateway.simulators import people
from gateway.simulators.common import SimulatorTransport
from gateway.simulators.registry import DEMO_BACKENDS, Simulator

# The simulators are local: a sync pass need not spare them.
DEMO_INDEX_CALLS_PER_MINUTE = 60_000
# The customer GraphiQL's FindPerson tab looks for: one held by several vendors, with a namesake
# (people.NEAR_MISSES[1]) who must not be joined to them.
DEMO_PERSON = 37


def demo_settings(
    roots: dict[str, str], extra: dict[str, Any] | None = None, *, data_dir: str | None = None
) -> GatewaySettings:
    """Settings with one backend per simulator; `roots` maps backend name to `http://host:port`.
    With `data_dir` the index lives there (the demo's own, thrown away at exit); without, the
    demo answers live only."""
    backends = {
        b.name: {**b.settings(roots[b.name]), "index_calls_per_minute": DEMO_INDEX_CALLS_PER_MINUTE}
        for b in DEMO_BACKENDS
        if b.name in roots
    }
    document: dict[str, Any] = {
        # No config, so no server.cursor_secret: the demo makes one up (cursors end with it).
        "server": {
            "graphiql": True,
            "cursor_secret": secrets.token_hex(16),
            **({"data_dir": data_dir} if data_dir else {}),
        },
        "cache": {"url": "memory://", "ttl_s": 30},
        "index": {"refresh_s": 300} if data_dir else False,
        "backends": backends,
        **(extra or {}),
    }
    # JSON is YAML: the demo goes through the same validation as any config file.
    return parse_config(orjson.dumps(document).decode(), settings_models(), env={})


def in_process_demo() -> tuple[GatewaySettings, dict[str, httpx.AsyncBaseTransport]]:
    """The demo's settings with every backend answered by its simulator in this process."""
    simulators = start_simulators()
    roots = {name: f"http://{name}.demo" for name in simulators}
    transports = {name: SimulatorTransport(app=sim.app) for name, sim in simulators.items()}
    return demo_settings(roots), transports  # type: ignore[return-value]


def graphiql_tabs(contacts: int | None = None) -> tuple[graphiql.Example, ...]:
    """GraphiQL's example tabs filled with records the simulators hold, so each one shows something
    (with generated contacts: a generated person, held by more than one vendor)."""
    if contacts is not None:
        return graphiql.examples(person_email=people.generated(contacts // 2).email.upper())
    merged = [f"{b.name}:{b.merged_example}" for b in DEMO_BACKENDS if b.merged_example is not None]
    return graphiql.examples(
        person_email=people.CUSTOMERS[DEMO_PERSON].email.upper(),  # upper case: the match ignores case
        **({"merged_id": merged[0]} if merged else {}),
    )


def start_simulators(contacts: int | None = None) -> dict[str, Simulator]:
    """The sample data, or `contacts` generated contacts per simulator (people shared across
    vendors: each holds a window of the generated people, overlapping its neighbours')."""
    if contacts is None:
        return {b.name: b.make() for b in DEMO_BACKENDS}
    return {b.name: b.make_generated(rank, contacts) for rank, b in enumerate(DEMO_BACKENDS)}


async def run_demo(
    host: str = "127.0.0.1", port: int = 8000, out: Any = sys.stdout, contacts: int | None = None
) -> None:
    with tempfile.TemporaryDirectory(prefix="contact-gateway-demo-") as data_dir:
        await _run_demo(host, port, out, contacts, data_dir)


async def _run_demo(host: str, port: int, out: Any, contacts: int | None, data_dir: str) -> None:
    simulators = start_simulators(contacts)
    sides = []
    roots = {}
    for name, simulator in simulators.items():
        sock = bind(host, 0)
        roots[name] = f"http://{host}:{sock.getsockname()[1]}"
        sides.append((make_server(simulator.app), sock))
    app = create_app(demo_settings(roots, data_dir=data_dir), graphiql_tabs=graphiql_tabs(contacts))
    main_socket = bind(host, port)
    url = f"http://{host}:{main_socket.getsockname()[1]}/graphql"

    def banner() -> None:
        size = "sample data" if contacts is None else f"{contacts} generated contacts each"
        print(f"contact-gateway demo: {len(simulators)} simulated vendors ({size})", file=out)
        print("  (server.cursor_secret is missing: a random one signs this demo's cursors)", file=out)
        for name, root in roots.items():
            print(f"  backend {name:<8} -> simulator at {root}", file=out)
        print(
            "  contact index: syncing in the background (see backends { index { state records } });"
            " until a backend's pass completes, people and counts are computed live",
            file=out,
        )
        print(f"\nGraphiQL: {url}\n(open it in a browser; Ctrl-C stops the demo)", file=out, flush=True)

    await serve_all([(make_server(app), main_socket), *sides], on_ready=banner, settle=True)


def main(host: str, port: int, contacts: int | None = None) -> None:
    asyncio.run(run_demo(host, port, contacts=contacts))
