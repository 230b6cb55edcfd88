"""Shared fixtures: simulators in-process, a gateway wired to them, and a way to run GraphQL; and
one vendor's simulator and backend, built from its entry in the simulator registry."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from gateway.backends.base import HttpBackend
from gateway.backends.registry import VENDORS, settings_models
from gateway.config import GatewaySettings, parse_config
from gateway.execution import execute
from gateway.runtime import Gateway
from gateway.simulators.common import SimulatorTransport
from gateway.simulators.registry import DEMO_BACKENDS, DemoBackend, Simulator
from schema import build_schema
from tests import services

SCHEMA = build_schema()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked `redis` is skipped, with the reason, where no Redis can be had; only such a
    test may ask for Redis (`tests.services.require_redis`)."""
    services.REDIS_MARKED[0] = item.get_closest_marker("redis") is not None
    if services.REDIS_MARKED[0]:
        services.require_redis()


# The default index lives under the platform's user data dir: a test run keeps its own, never the
# user's (servers started by tests, and their subprocesses, inherit this).
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="contact-gateway-tests-")


def settings_for(backends: dict[str, dict[str, Any]], **sections: Any) -> GatewaySettings:
    # Tests of the live path run without the index unless they give an `index` section.
    document = {"backends": backends, "index": False, **sections}
    return parse_config(orjson.dumps(document).decode(), settings_models(), env={})


@dataclass
class Harness:
    """A gateway whose backends talk to in-process simulators."""

    gateway: Gateway
    sims: dict[str, Simulator]
    scope: frozenset[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    async def run(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        outcome = await execute(SCHEMA, self.gateway, query, variables, scope=self.scope, **kw)
        return outcome.body

    def calls(self, backend: str) -> int:
        return len(self.sims[backend].state.calls)

    def reset_calls(self) -> None:
        for sim in self.sims.values():
            sim.state.reset()


def demo_backend_settings(only: list[str] | None = None) -> tuple[dict[str, Simulator], dict[str, dict[str, Any]]]:
    sims: dict[str, Simulator] = {}
    configs: dict[str, dict[str, Any]] = {}
    for demo in DEMO_BACKENDS:
        if only is not None and demo.name not in only:
            continue
        sims[demo.name] = demo.make()
        configs[demo.name] = demo.settings(f"http://{demo.name}.test")
    return sims, configs


HarnessFactory = Callable[..., Harness]


@pytest.fixture
async def make_custom() -> AsyncIterator[Callable[..., Harness]]:
    """`make_custom({name: (simulator, backend settings)}, **sections)`: any backends, in-process."""
    made: list[Harness] = []

    def factory(backends: dict[str, tuple[Simulator, dict[str, Any]]], **sections: Any) -> Harness:
        settings = settings_for({n: conf for n, (_, conf) in backends.items()}, **sections)
        transports = {n: SimulatorTransport(app=sim.app) for n, (sim, _) in backends.items()}
        harness = Harness(
            Gateway.from_settings(settings, transports=transports), {n: s for n, (s, _) in backends.items()}
        )
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        await harness.gateway.aclose()


@pytest.fixture
def make_harness(make_custom: Callable[..., Harness]) -> HarnessFactory:
    """`make_harness(only=[...], overrides={backend: {...}}, server={...})`: demo backends in-process."""

    def factory(
        only: list[str] | None = None, overrides: dict[str, dict[str, Any]] | None = None, **sections: Any
    ) -> Harness:
        sims, configs = demo_backend_settings(only)
        for name, extra in (overrides or {}).items():
            configs[name].update(extra)
        return make_custom({name: (sim, configs[name]) for name, sim in sims.items()}, **sections)

    return factory


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    """Every demo backend, in-process."""
    return make_harness()


# ---------------------------------------------------------------------------- one vendor


def demo_of(vendor: str) -> DemoBackend:
    """The registry entry of `vendor` (its demo backend name, simulator and settings)."""
    return next(d for d in DEMO_BACKENDS if d.vendor == vendor)


def build_backend(
    demo: DemoBackend,
    sim: Simulator | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    **settings: Any,
) -> HttpBackend:
    """`demo`'s backend, under its demo name and settings (changed by `settings`), reaching `sim`
    in-process (or through `transport`)."""
    raw = {**demo.settings(f"http://{demo.name}.test"), **settings}
    backend = VENDORS[raw["vendor"]]
    if transport is None:
        assert sim is not None, "give the simulator or a transport"
        transport = SimulatorTransport(app=sim.app)
    return backend(demo.name, backend.settings_model.model_validate(raw), transport=transport)


BackendFactory = Callable[..., HttpBackend]


@dataclass(frozen=True)
class VendorUnderTest:
    demo: DemoBackend
    settings: dict[str, Any]


@pytest.fixture
def vendor_under_test(request: pytest.FixtureRequest) -> VendorUnderTest:
    """The vendor a test module is about: `pytestmark = pytest.mark.vendor("genesys", retries=0)`
    (the settings apply to every backend its tests build)."""
    marker = request.node.get_closest_marker("vendor")
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses a vendor fixture without @pytest.mark.vendor")
    [vendor] = marker.args
    return VendorUnderTest(demo_of(vendor), dict(marker.kwargs))


@pytest.fixture
def sim(vendor_under_test: VendorUnderTest) -> Simulator:
    """The vendor's simulator, holding its sample data."""
    return vendor_under_test.demo.make()


@pytest.fixture
async def make_backend(vendor_under_test: VendorUnderTest, sim: Simulator) -> AsyncIterator[BackendFactory]:
    """`make_backend(sim=None, *, transport=None, **settings)`: the vendor's backend reaching `sim`
    (default: the `sim` fixture's) or `transport`; closed after the test."""
    made: list[HttpBackend] = []

    def factory(
        other: Simulator | None = None, *, transport: httpx.AsyncBaseTransport | None = None, **settings: Any
    ) -> HttpBackend:
        demo, defaults = vendor_under_test.demo, vendor_under_test.settings
        reaching = other if other is not None or transport is not None else sim
        made.append(build_backend(demo, reaching, transport=transport, **{**defaults, **settings}))
        return made[-1]

    yield factory
    for backend in made:
        await backend.aclose()


@pytest.fixture
async def backend(make_backend: BackendFactory) -> HttpBackend:
    """The vendor's backend reaching the `sim` fixture's simulator."""
    return make_backend()


@dataclass(frozen=True)
class IndexDatabase:
    """Where a test's index lives: a SQLite file of its own, or a private PostgreSQL schema."""

    kind: str
    url: str
    schema: str | None = None

    def section(self, **extra: Any) -> dict[str, Any]:
        """The config's `index:` section for it."""
        return {"url": self.url, **({"schema_name": self.schema} if self.schema else {}), **extra}


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[IndexDatabase]:
    """A private schema in the real PostgreSQL (dropped afterwards), or the test is skipped with
    the reason when no PostgreSQL can be had."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from tests.services import POSTGRES_URL, require_postgres

    require_postgres()
    schema = "test_" + uuid.uuid4().hex[:16]
    try:
        yield IndexDatabase("postgresql", POSTGRES_URL, schema)
    finally:
        engine = create_async_engine(POSTGRES_URL)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def index_db(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[IndexDatabase]:
    """The index database, once on SQLite and once on the real PostgreSQL."""
    if request.param == "sqlite":
        yield IndexDatabase("sqlite", f"sqlite+aiosqlite:///{tmp_path}/index.db")
        return
    async with postgres_database() as database:
        yield database


@pytest.fixture
async def postgres_db() -> AsyncIterator[IndexDatabase]:
    async with postgres_database() as database:
        yield database
