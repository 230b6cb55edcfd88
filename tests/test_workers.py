"""`serve --workers N`: several real worker processes behind one port, sharing real Redis.

The promises that matter across workers: identical reads in flight at once still reach the vendor
once, and a write through any worker makes every worker's next read fresh.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from uvicorn.config import STARTUP_FAILURE

from gateway.serving import WorkerPort, bind, listen_for_worker, make_server
from gateway.simulators.comm100 import DEMO_TOKEN, PREFIX, Comm100Simulator, guid
from tests.services import free_port, redis_url, require_redis

REDIS_URL = redis_url(13)
ONE = "query($id: ID!) { contact(id: $id) { id title } }"
CONTACT = f"support:{guid('customer-4')}"


@pytest.fixture
async def vendor() -> AsyncIterator[tuple[Comm100Simulator, int]]:
    """A Comm100 simulator served by real uvicorn on a loopback port, in this test's loop."""
    sim = Comm100Simulator()
    sock = bind("127.0.0.1", 0)
    server = make_server(sim.app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    yield sim, sock.getsockname()[1]
    server.should_exit = True
    await task


def write_config(tmp_path: Path, vendor_port: int, cache_url: str) -> Path:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "backends:\n"
        f'  support: {{vendor: comm100, url: "http://127.0.0.1:{vendor_port}{PREFIX}", token: "{DEMO_TOKEN}"}}\n'
        f'cache: {{url: "{cache_url}", ttl_s: 60}}\n'
        "index: false\n"  # these tests are about the shared cache; the index has its own
    )
    return config


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


async def wait_until_up(base: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            assert process.returncode is None, "the gateway exited early"
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the gateway did not come up")


async def fresh_connection_post(base: str, body: dict[str, Any]) -> dict[str, Any]:
    """One request on its own connection, so the kernel may hand it to any worker."""
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as client:
        response = await client.post(f"{base}/graphql", json=body)
        return response.json()  # type: ignore[no-any-return]


@asynccontextmanager
async def two_workers(
    tmp_path: Path, vendor_port: int, port: int | None = None
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`serve --workers 2` on the shared Redis cache (port 0: one it picks and prints); stopped with
    Ctrl-C, which must end it cleanly."""
    require_redis()
    redis.Redis.from_url(REDIS_URL).flushdb()
    port = free_port() if port is None else port
    config = write_config(tmp_path, vendor_port, REDIS_URL)
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--port", str(port), "--workers", "2"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = (await process.stdout.readline()).decode()
        found = re.search(r"serving on (http://127\.0\.0\.1:\d+)/graphql with 2 workers", banner)
        assert found is not None, banner
        base = found.group(1)
        await wait_until_up(base, process)
        yield base, process
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
        stderr = err.decode()
        redis.Redis.from_url(REDIS_URL).flushdb()
    assert process.returncode == 0
    assert "Traceback" not in stderr and DEMO_TOKEN not in stderr


@pytest.mark.redis
async def test_two_workers_share_coalescing_and_invalidation(
    vendor: tuple[Comm100Simulator, int], tmp_path: Path
) -> None:
    sim, vendor_port = vendor
    async with two_workers(tmp_path, vendor_port) as (base, process):
        assert len(children_of(process.pid)) >= 2  # the supervisor and its two workers
        sim.state.reset()
        sim.state.latency_s = 0.3
        read = {"query": ONE, "variables": {"id": CONTACT}}
        results = await asyncio.gather(*(fresh_connection_post(base, read) for _ in range(30)))
        assert all(r == results[0] and "errors" not in r for r in results)
        assert sim.state.count("GET") == 1
        sim.state.latency_s = 0.0
        mutation = 'mutation($id: ID!) { updateContact(id: $id, input: {title: "Across workers"}) { id } }'
        written = await fresh_connection_post(base, {"query": mutation, "variables": {"id": CONTACT}})
        assert "errors" not in written
        after = await asyncio.gather(*(fresh_connection_post(base, read) for _ in range(12)))
        assert {r["data"]["contact"]["title"] for r in after} == {"Across workers"}


async def worker_behind_one_connection(base: str, read: dict[str, Any]) -> str:
    """A keep-alive connection (as a load tool or a client's pool holds one) reads a contact, then
    asks /metrics on that same connection which worker process answers it."""
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client:
        answer = (await client.post(f"{base}/graphql", json=read)).json()
        assert "errors" not in answer
        metrics = (await client.get(f"{base}/metrics")).text
    found = re.search(r'^gateway_process_info\{pid="(\d+)"\} 1\.0$', metrics, re.MULTILINE)
    assert found is not None, "/metrics names the worker process that answers"
    return found.group(1)


@pytest.mark.redis
async def test_two_workers_each_serve_a_share_of_connections_opened_at_once(
    vendor: tuple[Comm100Simulator, int], tmp_path: Path
) -> None:
    """A load tool or a busy client opens its keep-alive connections in one burst. With one
    listening socket shared by the workers, the worker that woke first accepted nearly all of
    them (20 of 20 or 19 of 20 in most tries), leaving the second worker idle. Each worker must
    get a fair share: with 40 connections spread at random, fewer than 5 on one worker happens
    about once in five million runs."""
    _, vendor_port = vendor
    async with two_workers(tmp_path, vendor_port) as (base, process):
        read = {"query": ONE, "variables": {"id": CONTACT}}
        await fresh_connection_post(base, read)  # cached: the burst below measures workers, not the vendor
        workers = Counter(await asyncio.gather(*(worker_behind_one_connection(base, read) for _ in range(40))))
        assert set(workers) <= {str(pid) for pid in children_of(process.pid)}
        assert len(workers) == 2, f"connections per worker pid: {dict(workers)}"
        assert min(workers.values()) >= 5, f"connections per worker pid: {dict(workers)}"


@pytest.mark.redis
async def test_a_restarted_worker_takes_its_share_on_the_port_picked_at_start(
    vendor: tuple[Comm100Simulator, int], tmp_path: Path
) -> None:
    """--port 0 picks one port for every worker; a worker that dies is replaced, and the new one
    listens on that port too and gets connections (each worker has a listening socket of its own)."""
    _, vendor_port = vendor
    async with two_workers(tmp_path, vendor_port, port=0) as (base, process):
        read = {"query": ONE, "variables": {"id": CONTACT}}
        await fresh_connection_post(base, read)
        before = Counter(await asyncio.gather(*(worker_behind_one_connection(base, read) for _ in range(40))))
        assert len(before) == 2, f"connections per worker pid: {dict(before)}"
        assert {int(pid) for pid in before} <= set(children_of(process.pid))
        killed, survivor = sorted(before)
        os.kill(int(killed), signal.SIGKILL)
        for _ in range(200):  # uvicorn's supervisor looks at its workers every half second
            answering = set(await asyncio.gather(*(worker_behind_one_connection(base, read) for _ in range(8))))
            if answering - set(before):
                break  # the replacement listens
            await asyncio.sleep(0.05)
        after = Counter(await asyncio.gather(*(worker_behind_one_connection(base, read) for _ in range(40))))
        assert killed not in after and survivor in after
        assert len(after) == 2, f"connections per worker pid: {dict(after)}"
        assert min(after.values()) >= 5, f"connections per worker pid: {dict(after)}"


def test_several_workers_with_a_memory_cache_are_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, 9, "memory://")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cache.url" in result.stderr and "shared cache" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_worker_that_cannot_listen_says_why_and_stops_the_supervisor(capsys: pytest.CaptureFixture[str]) -> None:
    """Another program listens on the port without sharing it: the worker says so in one line and
    exits with uvicorn's start-up failure code, which stops the supervisor instead of a restart loop."""
    taken = bind("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(SystemExit) as exited:
            listen_for_worker("127.0.0.1", port)
    finally:
        taken.close()
    assert exited.value.code == STARTUP_FAILURE
    assert f"a worker cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_the_supervisors_port_is_sent_to_a_worker_as_a_listener_of_its_own() -> None:
    held = WorkerPort.reserve("127.0.0.1", 0)
    try:
        rebuild, where = held.__reduce__()
        first, second = rebuild(*where), rebuild(*where)
        try:
            assert first.getsockname() == second.getsockname() == held.getsockname()
            assert first.fileno() != second.fileno()
            assert first.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
            assert held.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0  # gets no connection
        finally:
            first.close()
            second.close()
    finally:
        held.close()
