"""Batching with a real client: Apollo Client 3's BatchHttpLink against the served gateway. A
batch within `server.max_batch_size` answers every query; a batch over it gives every query the
coded reason, not a length mismatch."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway.app import create_app
from gateway.simulators.common import SimulatorTransport
from tests.conftest import demo_backend_settings, settings_for
from tests.npm import npm_modules, run_node
from tests.services import serving

pytestmark = [pytest.mark.slow]


async def batch_seen(count: int, max_batch_size: int) -> list[dict[str, Any]]:
    modules = npm_modules("@apollo/client@3", "graphql@16")
    sims, configs = demo_backend_settings(["support"])
    app = create_app(
        settings_for(configs, server={"max_batch_size": max_batch_size}),
        transports={n: SimulatorTransport(app=s.app) for n, s in sims.items()},
    )
    async with serving(app) as root:
        done = await asyncio.to_thread(run_node, "apollo_batch.cjs", root + "/graphql", str(count), modules=modules)
    assert done.returncode == 0, done.stderr
    seen: list[dict[str, Any]] = json.loads(done.stdout)
    return seen


async def test_batch_http_link_gets_every_answer_within_the_limit() -> None:
    seen = await batch_seen(4, max_batch_size=10)
    assert seen == [{"data": {"backends": [{"__typename": "Backend", "name": "support"}]}, "errors": []}] * 4


async def test_batch_http_link_shows_the_reason_for_a_batch_over_the_limit() -> None:
    seen = await batch_seen(12, max_batch_size=10)
    assert len(seen) == 12
    for caller in seen:
        assert "thrown" not in caller, caller  # was: "server returned results with length 1, expected length of 12"
        [error] = caller["errors"]
        assert error["code"] == "BAD_USER_INPUT" and "server.max_batch_size" in error["message"]
