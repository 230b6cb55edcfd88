"""Running ASGI apps with uvicorn: the gateway in front, simulators beside it for `demo`.

Several servers share one event loop; only the gateway's server handles Ctrl-C, and stopping it
stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger("gateway.serving")


class SideServer(uvicorn.Server):
    """A server that leaves signal handling to the main one."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (read it back with getsockname)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(app: ASGIApp, *, side: bool = False, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on")
    return SideServer(config) if side else uvicorn.Server(config)


async def serve_with_sides(
    main: uvicorn.Server,
    main_socket: socket.socket,
    sides: list[tuple[uvicorn.Server, socket.socket]],
) -> None:
    """Serve the side servers, then the main one until it stops; then stop the sides."""
    tasks = [asyncio.create_task(s.serve(sockets=[sock])) for s, sock in sides]
    try:
        while not all(s.started for s, _ in sides):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
        await main.serve(sockets=[main_socket])
    finally:
        for server, _ in sides:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
