"""The GraphQL-over-HTTP conformance audits of the `graphql-http` npm package, run by node against
the gateway served by real uvicorn: every audit must pass, with no warning."""

from __future__ import annotations

import asyncio
import json

import pytest

from gateway.app import create_app
from gateway.simulators.common import SimulatorTransport
from tests.conftest import demo_backend_settings, settings_for
from tests.npm import npm_modules, run_node
from tests.services import serving

pytestmark = [pytest.mark.slow]

GRAPHQL_HTTP = "graphql-http@1.23"
GRAPHQL_JS = "graphql@16"


async def test_every_graphql_over_http_audit_passes_without_warning() -> None:
    modules = npm_modules(GRAPHQL_HTTP, GRAPHQL_JS)
    sims, configs = demo_backend_settings(["support"])
    app = create_app(settings_for(configs), transports={n: SimulatorTransport(app=s.app) for n, s in sims.items()})
    async with serving(app) as root:
        done = await asyncio.to_thread(run_node, "http_audits.cjs", root + "/graphql", modules=modules)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) > 50  # the package's whole list ran
    not_ok = [f"{r['status']}: {r['name']}: {r['reason']}" for r in results if r["status"] != "ok"]
    assert not_ok == []
