"""The processes a bench run starts: vendor simulators in a thread of the bench, and the gateway and
the baselines (`bench/apps.py`) each as a server process of its own on a free loopback port."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.serving import bind, make_server
from gateway.simulators.registry import Simulator

Running = tuple[str, subprocess.Popen[bytes]]  # a server's /graphql URL and its process


class Vendors:
    """Simulators served by real uvicorn on loopback ports, in a background thread."""

    def __init__(self, sims: dict[str, Simulator]) -> None:
        self.sims = sims
        self.roots: dict[str, str] = {}
        servers = []
        for name, sim in sims.items():
            sock = bind("127.0.0.1", 0)
            self.roots[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"
            servers.append((make_server(sim.app), sock))
        self._servers = servers
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._thread.start()
        while not all(server.started for server, _ in servers):
            time.sleep(0.01)

    async def _serve(self) -> None:
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in self._servers))

    def latency(self, seconds: float) -> None:
        for sim in self.sims.values():
            sim.state.latency_s = seconds

    def calls(self) -> int:
        return sum(len(sim.state.calls) for sim in self.sims.values())

    def stop(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True
        self._thread.join(timeout=10)


def free_port() -> int:
    sock = bind("127.0.0.1", 0)
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited early")
        try:
            httpx.get(url)  # any answer will do: it listens
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url}: the server did not come up")


@contextmanager
def serving(command: list[str], env: dict[str, str] | None = None) -> Iterator[Running]:
    """A server process on a free port (its number appended to `command`); yields its /graphql URL."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([*command, str(port)], stdout=subprocess.DEVNULL, stderr=log, env=env)
        url = f"http://127.0.0.1:{port}/graphql"
        try:
            try:
                wait_until_up(url, process)
            except RuntimeError:
                log.seek(0)
                said = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"{' '.join(command)} did not start:\n{said}") from None
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=20)


@contextmanager
def gateway(backends: dict[str, dict[str, Any]], **sections: Any) -> Iterator[Running]:
    """The gateway over `backends`, without the contact index unless `index` is given: its sync
    would compete for the CPU the read-path scenarios measure (bench/index.py measures it)."""
    config = {"backends": backends, "index": False, **sections}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(orjson.dumps(config).decode())  # JSON is YAML
    try:
        command = [sys.executable, "-m", "gateway.cli", "serve", "--config", handle.name, "--port"]
        with serving(command) as running:
            yield running
    finally:
        Path(handle.name).unlink()


def baseline(name: str) -> Any:
    return serving([sys.executable, "-m", "bench.apps", name])


def children(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (a supervisor's workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        if int(after_name[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def post(url: str, body: str) -> dict[str, Any]:
    response = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=30)
    answer: dict[str, Any] = response.json()
    if answer.get("errors"):
        raise RuntimeError(f"the bench query failed: {answer['errors']}")
    return answer
