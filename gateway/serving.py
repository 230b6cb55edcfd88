"""Running ASGI apps with uvicorn: the gateway, and for `demo` the simulators beside it.

Several servers share one event loop. Ctrl-C or SIGTERM asks every server to shut down
gracefully, so the process ends with exit 0 and no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import signal
import socket
import sys
from collections.abc import Callable, Generator

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve_all`, which stops every server at once."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int, *, reuse_port: bool = False, listen: bool = True) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back with getsockname).

    `reuse_port` lets several sockets of this user listen on one port (SO_REUSEPORT): the kernel
    then spreads new connections over them. Without `listen`, the socket only holds the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on connections whose
    # socket says TCP, and accepted sockets inherit it. With 0, every response waits on the
    # peer's delayed ACK: ~44 ms a request, capping a connection at ~22 requests/s.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class WorkerPort(socket.socket):
    """The port of `serve --workers N`: the supervisor holds it (bound, not listening), and every
    worker process it is sent to opens a listening socket of its own on it (SO_REUSEPORT).

    With one listening socket shared by the workers, the worker that woke first accepted every
    connection then waiting: a load tool's or a client pool's burst of keep-alive connections
    (40 of 40, 20 of 20 in most tries) went to one worker, and the others idled. The kernel spreads
    new connections over the workers' own sockets by a hash of each connection's addresses.
    uvicorn's supervisor hands its sockets to each worker it starts (and restarts) by pickling
    them; this socket pickles as "listen on my port", so a restarted worker listens afresh. While
    the supervisor holds the port, no other user can take it; it never listens itself, so the
    kernel sends it no connection."""

    @classmethod
    def reserve(cls, host: str, port: int) -> WorkerPort:
        """Hold `port` on `host` (0: a free one, then the same one for every worker)."""
        held = bind(host, port, reuse_port=True, listen=False)
        return cls(held.family, held.type, held.proto, fileno=held.detach())

    def __reduce__(self) -> tuple[Callable[[str, int], socket.socket], tuple[str, int]]:
        host, port = self.getsockname()[:2]
        return listen_for_worker, (host, port)


def listen_for_worker(host: str, port: int) -> socket.socket:
    """In a worker process: its own listening socket on the supervisor's port (see WorkerPort)."""
    try:
        return bind(host, port, reuse_port=True)
    except OSError as exc:
        # Said once, then uvicorn's supervisor stops instead of restarting a worker that cannot listen.
        print(f"contact-gateway: a worker cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(STARTUP_FAILURE) from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Once a server has settled, the collector runs on a clock instead of after every so many
# allocations (CPython's default: 700; it was 10,000 here before). An allocation count makes a big
# answer pay for itself several times over: a 1,000-contact page holds ~25,000 containers alive
# while it is built, and every young pass traverses them again and pushes them on to the older
# generations, whose passes traverse them once more (~20% of the page's CPU, bench/README.md). On
# a clock, a pass traverses only what is alive or cyclic garbage at that moment, a few times a
# second whatever the load; reference counting still frees everything acyclic at once.
COLLECT_EVERY_S = 0.25
# Young passes between passes over the middle and the oldest generation (as CPython counts).
MIDDLE_EVERY = 10
OLDEST_EVERY = 100
# The fallback where no event loop runs yet: young passes every this many allocations.
YOUNG_GENERATION_THRESHOLD = 10_000
_COLLECTING: set[asyncio.Task[None]] = set()


async def collect_on_a_clock() -> None:
    """Collect garbage cycles every COLLECT_EVERY_S (automatic collection is off meanwhile)."""
    passes = 0
    while True:
        await asyncio.sleep(COLLECT_EVERY_S)
        passes += 1
        gc.collect(2 if passes % OLDEST_EVERY == 0 else 1 if passes % MIDDLE_EVERY == 0 else 0)


def _clock_stopped(task: asyncio.Task[None]) -> None:
    _COLLECTING.discard(task)
    gc.enable()


def settle_heap() -> None:
    """Once a server process has started: move everything alive (modules, the schema, settings,
    pools) out of the collector's sight, as it lives as long as the process, and from then on
    collect on a clock (`collect_on_a_clock`), in the running event loop. Reference counting still
    frees what a request drops; the collector only looks for cycles, and only among objects made
    after this call."""
    gc.collect()
    gc.freeze()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, older, oldest)
        return
    gc.disable()
    task = loop.create_task(collect_on_a_clock())
    _COLLECTING.add(task)
    task.add_done_callback(_clock_stopped)  # however it ends, automatic collection is back


def make_server(app: ASGIApp, *, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on")
    return QuietServer(config)


async def serve_all(
    servers: list[tuple[uvicorn.Server, socket.socket]],
    on_ready: Callable[[], None] | None = None,
    *,
    settle: bool = False,
) -> None:
    """Serve every server until a signal (or any server) stops; then stop them all.

    `on_ready` runs once every server listens (the place to print "serving on ..."); with
    `settle`, the heap is settled then (`settle_heap`): for a process that only serves."""
    loop = asyncio.get_running_loop()

    def stop_all() -> None:
        for server, _ in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_all)
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in servers]
    try:
        while not all(server.started for server, _ in servers) and not any(t.done() for t in tasks):  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # uvicorn exposes `started` as a flag, not an event
        if all(server.started for server, _ in servers):
            if settle:
                settle_heap()
            if on_ready is not None:
                on_ready()
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_all()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
