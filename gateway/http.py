"""Calling one vendor: `httpx.Request`s sent over the backend's pooled transport, per-call timeout
within the request deadline, retries of reads, circuit breaker, rate smoothing, status mapping,
decoding and the read cache. The only place that does HTTP to vendors.

Requests go to the transport itself, not through `httpx.AsyncClient.send`: of what the client adds
per call the gateway uses nothing (redirects are refused, credentials are fixed headers, vendor
cookies are not kept), and its cookie extraction alone (urllib's cookiejar, fed a URL parsed anew
on every response) cost more than the transport's own work. Measured in bench/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextvars import ContextVar
from importlib.metadata import version
from typing import Any

import httpx
import orjson
import stamina
from aiolimiter import AsyncLimiter

from gateway import errors, tracing
from gateway.cache import ReadCache
from gateway.cache_entries import call_key
from gateway.config import BackendSettings
from gateway.metrics import Metrics
from gateway.redaction import Redactor
from gateway.resilience import (
    MAX_BACKOFF_S,
    SYNC_CALL,
    CircuitBreaker,
    call_budget,
    counts_against_breaker,
    is_retryable,
    read_budget,
    remaining,
    said_try_later,
)
from gateway.transport import vendor_transport

log = logging.getLogger("gateway.http")
# Sent on every vendor call; a backend's own headers (its credentials, an operator's overrides) are
# added over these. Compressed answers are decoded while they are read.
DEFAULT_HEADERS = {
    "accept": "application/json",
    "accept-encoding": "gzip, deflate",
    "user-agent": f"contact-gateway/{version('contact-gateway')}",
}
# Vendor call URLs kept parsed (see `vendor_url`): the lists and counts asked for again and again.
URLS_KEPT = 512
# The GraphQL request being served; sent to vendors as X-Request-ID so their logs can be matched.
REQUEST_ID: ContextVar[str] = ContextVar("contact_gateway_request_id", default="-")


class VendorClient:
    def __init__(
        self,
        name: str,
        settings: BackendSettings,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
        cache: ReadCache | None = None,
        ttl_s: float = 0.0,
        stale_s: float = 0.0,
        metrics: Metrics | None = None,
        check: Callable[[Any], None] | None = None,
    ) -> None:
        self.name = name
        self.metrics = metrics
        # A vendor's own error signal inside a 2xx body (an envelope status): raises before the
        # answer is cached or counted as a success.
        self.check = check
        self.settings = settings
        self.base_params = dict(params)
        self.cache = cache
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        # Whose data this is: the backend and a hash of its URL, tenant and credentials.
        self.cache_namespace = f"{name}:{settings.credential_fingerprint()}"
        self.breaker = CircuitBreaker(name, settings.breaker_failures, settings.breaker_cooldown_s)
        limit = settings.rate_limit
        self.limiter = AsyncLimiter(limit.calls, limit.per_s) if limit is not None else None
        self.last_error: str | None = None
        # Whatever a vendor says back is cleaned of this backend's secrets before anyone sees it.
        self.redact = Redactor(settings.secrets())
        # Header names compare without case: an operator's `Authorization` replaces ours.
        merged = httpx.Headers(DEFAULT_HEADERS)
        merged.update(headers)
        self.headers = merged.raw
        self.base_url = settings.url.rstrip("/") + "/"
        self.extensions = {"timeout": httpx.Timeout(settings.timeout_s).as_dict()}
        self.transport = transport or vendor_transport(settings.transport, settings.url)

    @property
    def healthy(self) -> bool:
        return self.breaker.state != "open"

    # ------------------------------------------------------------------ reads and writes

    async def read(self, path: str, params: Mapping[str, Any] | None = None, *, fresh: bool = False) -> Any:
        """GET a JSON document: cached, coalesced, retried. `fresh` skips the cache (a read that a
        write is about to be built on must see the vendor's current record)."""
        left = remaining()
        if left is not None and left <= 0:
            # Past the deadline nothing more is read, not even from the cache: a loop over
            # cached pages ends here too.
            raise errors.BackendTimeout(f"backend '{self.name}' was not read: the request's deadline passed")
        if self.cache is None or fresh:
            return await self._read_retrying(path, params)
        s = self.settings
        return await self.cache.fetch(
            self.cache_namespace,
            call_key("GET", path, {**self.base_params, **(params or {})}),
            self.ttl_s,
            self.stale_s,
            lambda: self._read_retrying(path, params),
            backend=self.name,
            lease_s=read_budget(s.timeout_s, s.retries) + 1.0,
        )

    async def write(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """Send a write once: never retried, since the vendor may have applied it already."""
        return await self._call(method, path, params, body)

    async def forget_cached_reads(self) -> bool:
        """After a write: every cached read of this backend is stale, on every instance. False
        when that could not be recorded in the shared cache before the deadline."""
        if self.cache is None:
            return True
        return await self.cache.bump(self.cache_namespace, backend=self.name)

    @contextlib.asynccontextmanager
    async def stream(self, path: str, params: Mapping[str, Any] | None = None) -> AsyncIterator[AsyncIterator[bytes]]:
        """GET a long answer (a sync pass's whole list) as its bytes arrive: never cached, never
        retried, not cut at `max_response_bytes`; whoever reads it bounds it (see
        `gateway.backends.whole_list`). Opening it keeps one call's rules (rate limit, breaker,
        `timeout_s` and the deadline up to the headers, status mapping); a failure while it is read,
        the reader's own included, is redacted and counted against the breaker like a call's."""
        await self._take_rate_slot()
        self.breaker.before_call()
        started = time.perf_counter()
        outcome = "ok"
        response: httpx.Response | None = None
        try:
            response = await self._open_stream(path, params)
            yield self._body_chunks(response)
        except errors.GatewayError as exc:
            outcome = exc.code
            exc.redact(self.redact)
            self.last_error = exc.code
            if counts_against_breaker(exc):
                self.breaker.failed()
            else:
                self.breaker.succeeded()
            raise
        except BaseException:
            outcome = "cancelled"
            self.breaker.trial_in_flight = False
            raise
        else:
            self.breaker.succeeded()
        finally:
            if response is not None:
                await response.aclose()
            if self.metrics is not None:
                self.metrics.observe_call(self.name, "GET", outcome, time.perf_counter() - started)

    async def _open_stream(self, path: str, params: Mapping[str, Any] | None) -> httpx.Response:
        """Send a GET and wait for a 2xx status (an error's body is read, bounded, for its message)."""
        request = self._request("GET", path, params, None)
        try:
            async with asyncio.timeout(call_budget(self.settings.timeout_s)):
                response = await self.transport.handle_async_request(request)
                if not 200 <= response.status_code < 300:
                    content = await self._read_body(response)
                    self._refuse_status(response.status_code, response.headers, content)
        except TimeoutError:
            raise errors.error_for_transport(httpx.ReadTimeout("call timed out"), self.name, write=False) from None
        except httpx.RequestError as exc:
            raise errors.error_for_transport(exc, self.name, write=False) from None
        return response

    async def _body_chunks(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body's (decoded) chunks; a connection broken on the way is a coded error."""
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.RequestError as exc:
            raise errors.error_for_transport(exc, self.name, write=False) from None

    async def _read_retrying(self, path: str, params: Mapping[str, Any] | None) -> Any:
        backoff = self.settings.retry_backoff_s

        def retry_after(exc: Exception) -> bool | float:
            if not isinstance(exc, errors.GatewayError) or not is_retryable(exc):
                return False
            left = remaining()
            wait = exc.retry_after_s
            if wait is not None:  # the vendor said when: wait that long, if the deadline allows
                return wait if left is None or wait < left else False
            return left is None or left > backoff

        # Most calls succeed at once: the first attempt is made without setting stamina up (~27 us
        # a call, and a reference cycle of ~50 objects left for the collector). A failure that may
        # be retried is handed to stamina as its first attempt's, so the waits, Retry-After and
        # attempt count are stamina's, as if it had made that attempt itself.
        try:
            return await self._call("GET", path, params, None)
        except errors.GatewayError as exc:
            if self.settings.retries == 0 or retry_after(exc) is False:
                raise
            first_failure: list[errors.GatewayError] = [exc]
        async for attempt in stamina.retry_context(
            on=retry_after,
            attempts=self.settings.retries + 1,
            timeout=remaining(),
            wait_initial=backoff,
            wait_max=MAX_BACKOFF_S,
            wait_jitter=backoff,
        ):
            with attempt:
                if first_failure:
                    raise first_failure.pop()
                return await self._call("GET", path, params, None)
        raise AssertionError("unreachable: stamina re-raises the last failure")

    async def _call(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> Any:
        """One attempt, through the rate limiter and the breaker."""
        await self._take_rate_slot()
        self.breaker.before_call()
        try:
            result = await self._send(method, path, params, body)
        except errors.GatewayError as exc:
            exc.redact(self.redact)
            self.last_error = exc.code
            if SYNC_CALL.get() and said_try_later(exc):
                self.breaker.trial_in_flight = False  # a sync's pace, not the vendor's health
            elif counts_against_breaker(exc):
                self.breaker.failed()
            else:
                self.breaker.succeeded()  # the vendor answered: it is up, the request was wrong
            raise
        except BaseException:
            self.breaker.trial_in_flight = False
            raise
        self.breaker.succeeded()
        return result

    async def _take_rate_slot(self) -> None:
        if self.limiter is None:
            return
        budget = remaining()
        try:
            async with asyncio.timeout(budget):
                await self.limiter.acquire()
        except TimeoutError:
            raise errors.BackendUnavailable(
                f"backend '{self.name}' is at its configured rate limit; try again shortly",
                backend=self.name,
                details={"reason": "RATE_LIMITED"},
            ) from None

    async def _send(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        attributes = {"contact_gateway.backend": self.name, "http.request.method": method, "url.path": path}
        with tracing.span("backend.call", attributes) as current:
            try:
                return await self._send_once(method, path, params, body)
            except errors.GatewayError as exc:
                outcome = exc.code
                raise
            except BaseException:
                outcome = "cancelled"
                raise
            finally:
                tracing.outcome(current, outcome, error=outcome != "ok")
                if self.metrics is not None:
                    self.metrics.observe_call(self.name, method, outcome, time.perf_counter() - started)

    def _request(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> httpx.Request:
        headers = [*self.headers, (b"x-request-id", REQUEST_ID.get().encode())]
        if body is not None:
            headers.append((b"content-type", b"application/json"))
        query = _clean_params({**self.base_params, **(params or {})})
        try:
            return httpx.Request(
                method,
                vendor_url(self.base_url + path.lstrip("/"), tuple(query.items()) if query else ()),
                content=None if body is None else orjson.dumps(body),
                headers=headers,
                extensions=self.extensions,
            )
        except httpx.InvalidURL:
            raise errors.BadUserInput(
                f"the input cannot be sent to backend '{self.name}' (it does not fit in a request URL)",
                backend=self.name,
            ) from None

    async def _send_once(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> Any:
        is_write = method != "GET"
        budget = call_budget(self.settings.timeout_s)
        request = self._request(method, path, params, body)
        try:
            # httpx's timeouts bound each phase (connect, each read); this bounds the whole call,
            # so a vendor dripping bytes slowly cannot hold a request past timeout_s or the deadline.
            async with asyncio.timeout(budget):
                status, response_headers, content = await self._exchange(request)
        except TimeoutError:
            raise errors.error_for_transport(httpx.ReadTimeout("call timed out"), self.name, write=is_write) from None
        except httpx.RequestError as exc:
            raise errors.error_for_transport(exc, self.name, write=is_write) from None
        self._refuse_status(status, response_headers, content)
        if status == 204 or not content or content.isspace():
            if is_write:
                return None
            raise errors.bad_response(self.name, f"an empty answer (HTTP {status}) to a read")
        try:
            payload = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise errors.bad_response(self.name, "the body is not JSON") from None
        if payload is None and not is_write:
            raise errors.bad_response(self.name, "null instead of a document")
        if self.check is not None:
            self.check(payload)
        return payload

    def _refuse_status(self, status: int, response_headers: httpx.Headers, content: bytes) -> None:
        """Raise the coded error for an answer that is not a success (an error status, a redirect)."""
        if status >= 400:
            error = errors.error_for_status(status, self.name, errors.vendor_message(_json_or_none(content)))
            error.retry_after_s = parse_retry_after(response_headers.get("retry-after"))
            raise error
        if 300 <= status < 400:
            # Redirects are never followed (they could take credentials elsewhere): an error.
            raise errors.bad_response(self.name, f"HTTP {status} redirect (redirects are not followed)")

    async def _exchange(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        """Send and read the body, at most `max_response_bytes` of it."""
        response = await self.transport.handle_async_request(request)
        return response.status_code, response.headers, await self._read_body(response)

    async def _read_body(self, response: httpx.Response) -> bytes:
        """The whole body, at most `max_response_bytes` of it; the response is closed after."""
        limit = self.settings.max_response_bytes
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise self._too_large(limit)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise self._too_large(limit)
                chunks.append(chunk)
        finally:
            await response.aclose()
        return b"".join(chunks)

    def _too_large(self, limit: int) -> errors.BackendBadResponse:
        return errors.bad_response(self.name, f"the answer is larger than {limit} bytes (max_response_bytes)")

    async def aclose(self) -> None:
        await self.transport.aclose()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or odd."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@functools.lru_cache(maxsize=URLS_KEPT)
def vendor_url(address: str, query: tuple[tuple[str, str], ...]) -> httpx.URL:
    """The URL of a vendor call. httpx parses and checks every part of a URL it is given (~30 us);
    a list's first page, a count, a record read twice are the same URL every time, so it is kept."""
    return httpx.URL(address, params=query or None)


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    cleaned: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        cleaned[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return cleaned


def _json_or_none(content: bytes) -> Any:
    try:
        return orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return None
