"""What carries the vendor calls under httpx: aiohttp's connection pool by default, chosen by
measurement (bench/README.md). httpcore's pool checks every pooled connection for expiry on every
request (a socket call each), so its CPU per call grows with the number of connections; aiohttp's
does not. `transport: httpcore` on a backend goes back to httpx's own, through the proxy that
HTTP(S)_PROXY / ALL_PROXY name for the vendor's URL (NO_PROXY honoured); this one uses none.

aiohttp's failures are mapped the way the gateway reads httpx's: a connection the vendor dropped is
"cannot be reached" (BACKEND_UNAVAILABLE), not a timeout.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

# A vendor's pooled connections: beyond this many calls in flight, calls wait for a free one.
MAX_CONNECTIONS = 100
KEEPALIVE_S = 30.0
# aiohttp failures that mean "no usable answer came" (the connection broke), whatever the
# transport's own mapping made of them.
_BROKEN = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientPayloadError)


class VendorTransport(AiohttpTransport):
    """httpx over aiohttp, failures mapped as httpx's own transport would report them."""

    def __init__(self) -> None:
        super().__init__(limits=httpx.Limits(max_connections=MAX_CONNECTIONS, keepalive_expiry=KEEPALIVE_S))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.TransportError as exc:
            raise _remapped(exc, request) from exc.__cause__


def _remapped(exc: httpx.TransportError, request: httpx.Request) -> httpx.TransportError:
    cause = exc.__cause__
    if isinstance(cause, _BROKEN):
        return httpx.RemoteProtocolError(str(cause) or type(cause).__name__, request=request)
    if isinstance(cause, aiohttp.ServerTimeoutError) and not isinstance(exc, httpx.TimeoutException):
        return httpx.ReadTimeout(str(cause), request=request)
    exc.request = request
    return exc


def vendor_transport(kind: str, url: str) -> httpx.AsyncBaseTransport:
    """The transport a backend's calls to `url` go over."""
    if kind == "aiohttp":
        return VendorTransport()
    return httpx.AsyncHTTPTransport(proxy=environment_proxy(url))


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY)."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")
