"""Real parts for end-to-end tests: Chromium, Redis, PostgreSQL, and processes on loopback ports.

`pytest` alone must work on a fresh machine, so a missing Chromium or a stopped Redis is set up
here when this user can (root with apt-get); otherwise the test is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

import pytest
from starlette.types import ASGIApp

from gateway.serving import bind, make_server

CHROMIUM = "/usr/bin/chromium"
# A session working beside another may point its tests at a private Redis (its own port), so two
# test runs never flush each other's databases.
REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("CONTACT_GATEWAY_TEST_REDIS_PORT", "6379"))
# Chromium must not reach anything but loopback: no CDN can rescue a broken page in these tests.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


def _apt_install(package: str) -> str | None:
    """Install a Debian package; None on success, else why not."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return "apt-get is not available to this user"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300, env=env, check=False)
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", package], capture_output=True, timeout=600, env=env, check=False
    )
    return None if done.returncode == 0 else f"apt-get install {package} failed"


@cache
def chromium() -> str:
    """The Chromium executable, installed on first need; skips the test when it cannot be had."""
    if not os.path.exists(CHROMIUM):
        why = _apt_install("chromium")
        if why is not None or not os.path.exists(CHROMIUM):
            pytest.skip(f"Debian chromium is not installed and cannot be installed here: {why}")
    return CHROMIUM


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@cache
def redis_available() -> str | None:
    """None when Redis answers at REDIS_HOST:REDIS_PORT (started here if needed), else why not."""
    if _port_open(REDIS_HOST, REDIS_PORT):
        return None
    if shutil.which("redis-server") is None:
        why = _apt_install("redis-server")
        if why is not None:
            return f"no Redis at {REDIS_HOST}:{REDIS_PORT} and {why}"
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", REDIS_HOST, "--port", str(REDIS_PORT),
         "--save", "", "--appendonly", "no"],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    if _answers_within(REDIS_HOST, REDIS_PORT, 5.0):
        return None
    return f"no Redis answers at {REDIS_HOST}:{REDIS_PORT} and redis-server could not be started"


def redis_url(db: int) -> str:
    """The test Redis's database `db` (each test module keeps to its own database)."""
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


# Whether the test being run is marked `redis` (kept by tests/conftest.py): a test that asks for
# Redis without the mark fails, so the mark stays on every test that needs Redis.
REDIS_MARKED = [False]


def require_redis() -> None:
    """Skip the (`redis`-marked) test with the reason when no Redis can be had."""
    if not REDIS_MARKED[0]:
        pytest.fail("this test needs Redis: mark it @pytest.mark.redis", pytrace=False)
    why = redis_available()
    if why is not None:
        pytest.skip(why)


POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
POSTGRES_URL = f"postgresql+asyncpg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/test"


@cache
def postgres_available() -> str | None:
    """None when PostgreSQL answers at 127.0.0.1:5432 (its cluster started here if this user
    can), else why not."""
    if _port_open(POSTGRES_HOST, POSTGRES_PORT):
        return None
    clusters = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not clusters or shutil.which("pg_ctlcluster") is None:
        return f"no PostgreSQL answers at {POSTGRES_HOST}:{POSTGRES_PORT} and none is installed here"
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", clusters[-1], "main", "start"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    if _answers_within(POSTGRES_HOST, POSTGRES_PORT, 10.0):
        return None
    return f"no PostgreSQL answers at {POSTGRES_HOST}:{POSTGRES_PORT} and its cluster could not be started"


def require_postgres() -> None:
    why = postgres_available()
    if why is not None:
        pytest.skip(why)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_within(host: str, port: int, seconds: float) -> bool:
    """Whether something listens on host:port within `seconds` (polled)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return True
        time.sleep(0.05)
    return False


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    if not _answers_within("127.0.0.1", port, timeout):
        raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class RedisServer:
    """A redis-server of a test's own on a free port, to pause, fill, kill and start again."""

    def __init__(self) -> None:
        require_redis()  # also installs redis-server where it can
        self.port = free_port()
        self.url = f"redis://{REDIS_HOST}:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", REDIS_HOST, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing answers (a stalled Redis)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()
            self.process = None


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """`app` served by real uvicorn on a free loopback port; yields its root URL."""
    sock = bind("127.0.0.1", 0)
    server = make_server(app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
