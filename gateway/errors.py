"""Every error the gateway reports, in one tree, and the one place vendor failures map into it.

Each class is one `extensions.code` of the GraphQL contract. `backend` names the configured
backend that caused the error, when one did; `details` adds machine-readable extensions (the
offending fields of a bad input, the chain of a merge cycle...).

    GatewayError
    ├── Unauthenticated            UNAUTHENTICATED       the client's API key is missing or wrong
    ├── Forbidden                  FORBIDDEN             the key or the vendor refuses this
    ├── BadUserInput               BAD_USER_INPUT        a bad id, filter, cursor or input
    ├── NotFound                   NOT_FOUND             a write named a record the vendor lacks
    ├── NotSupported               NOT_SUPPORTED         a write this backend cannot do
    ├── Conflict                   CONFLICT              the vendor refused a duplicate
    ├── BackendUnauthorized        BACKEND_UNAUTHORIZED  the vendor refused our credentials
    ├── BackendUnavailable         BACKEND_UNAVAILABLE   5xx, refused connection, open breaker
    ├── BackendTimeout             BACKEND_TIMEOUT       no answer within timeout_s / deadline
    ├── BackendBadResponse         BACKEND_BAD_RESPONSE  the vendor answered something unusable
    ├── MergeCycle                 MERGE_CYCLE           a Comm100 merge chain loops
    ├── MergeTargetMissing         MERGE_TARGET_MISSING  a merge chain points at nothing
    ├── GraphQLParseFailed         GRAPHQL_PARSE_FAILED  the document does not parse (or is too big)
    └── CacheUnavailable           CACHE_UNAVAILABLE     a write cannot be serialised: no shared cache
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx


class GatewayError(Exception):
    """Base of every error a client may see; `code` goes into `extensions.code`."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(
        self,
        message: str,
        *,
        backend: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend
        self.details: dict[str, Any] = dict(details or {})
        # A vendor's Retry-After, in seconds: used by the retry policy, never shown to clients.
        self.retry_after_s: float | None = None

    def redact(self, clean: Callable[[str], str]) -> None:
        """Pass the message through `clean` (a vendor's words may echo a credential)."""
        self.message = clean(self.message)
        self.args = (self.message,)

    def extensions(self) -> dict[str, Any]:
        """The `extensions` object of the GraphQL error this becomes."""
        ext: dict[str, Any] = {"code": self.code}
        if self.backend is not None:
            ext["backend"] = self.backend
        ext.update(self.details)
        return ext


class Unauthenticated(GatewayError):
    code = "UNAUTHENTICATED"


class Forbidden(GatewayError):
    code = "FORBIDDEN"


class BadUserInput(GatewayError):
    code = "BAD_USER_INPUT"

    def __init__(
        self,
        message: str,
        *,
        fields: Mapping[str, str] | None = None,
        backend: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        merged = dict(details or {})
        if fields:
            merged["fields"] = dict(fields)
        super().__init__(message, backend=backend, details=merged)
        self.fields = dict(fields or {})


class NotFound(GatewayError):
    code = "NOT_FOUND"


class NotSupported(GatewayError):
    code = "NOT_SUPPORTED"


class Conflict(GatewayError):
    code = "CONFLICT"


class BackendUnauthorized(GatewayError):
    code = "BACKEND_UNAUTHORIZED"


class BackendUnavailable(GatewayError):
    code = "BACKEND_UNAVAILABLE"


class BackendTimeout(GatewayError):
    code = "BACKEND_TIMEOUT"


class BackendBadResponse(GatewayError):
    code = "BACKEND_BAD_RESPONSE"


class MergeCycle(GatewayError):
    code = "MERGE_CYCLE"


class MergeTargetMissing(GatewayError):
    code = "MERGE_TARGET_MISSING"


class GraphQLParseFailed(GatewayError):
    code = "GRAPHQL_PARSE_FAILED"

    def __init__(self, message: str, *, locations: list[dict[str, int]] | None = None) -> None:
        super().__init__(message)
        self.locations = locations or []


class CacheUnavailable(GatewayError):
    """The shared cache cannot be reached for something that needs it (serialising a write)."""

    code = "CACHE_UNAVAILABLE"


# Vendor messages are echoed to clients for 4xx answers; bound them so a vendor dumping a page
# of HTML into an error body cannot flood a response.
_MAX_VENDOR_MESSAGE = 300


def vendor_message(body: Any) -> str | None:
    """The human message a vendor put in an error body, if any (`error`, `message`, ...)."""
    if isinstance(body, Mapping):
        for key in ("error", "message", "Message", "errorMessage", "statusMessage", "title", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:_MAX_VENDOR_MESSAGE]
    return None


def error_for_status(status: int, backend: str, message: str | None = None) -> GatewayError:
    """Map a vendor's HTTP error status to the gateway error a client sees."""
    said = f": {message}" if message else ""
    if status == 400 or status == 422:
        return BadUserInput(f"backend '{backend}' rejected the input{said}", backend=backend)
    if status == 401:
        return BackendUnauthorized(
            f"backend '{backend}' refused the gateway's credentials (HTTP 401){said}", backend=backend
        )
    if status == 403:
        return Forbidden(f"backend '{backend}' forbids this operation (HTTP 403){said}", backend=backend)
    if status == 404:
        return NotFound(f"backend '{backend}' has no such record", backend=backend)
    if status == 409:
        return Conflict(f"backend '{backend}' reports a conflict{said}", backend=backend)
    if status == 429:
        return BackendUnavailable(
            f"backend '{backend}' is rate limiting the gateway (HTTP 429)",
            backend=backend,
            details={"status": status},
        )
    if status >= 500:
        return BackendUnavailable(
            f"backend '{backend}' failed (HTTP {status})",
            backend=backend,
            details={"status": status},
        )
    return BackendBadResponse(
        f"backend '{backend}' answered with unexpected HTTP {status}",
        backend=backend,
        details={"status": status},
    )


def error_for_transport(exc: httpx.RequestError, backend: str, *, write: bool = False) -> GatewayError:
    """Map a failure to get any answer (timeout, refused or dropped connection)."""
    if isinstance(exc, httpx.TimeoutException):
        if write:
            return BackendTimeout(
                f"backend '{backend}' did not answer in time; the write's outcome is unknown",
                backend=backend,
                details={"outcome": "unknown"},
            )
        return BackendTimeout(f"backend '{backend}' did not answer in time", backend=backend)
    return BackendUnavailable(f"backend '{backend}' cannot be reached", backend=backend)


def bad_response(backend: str, what: str) -> BackendBadResponse:
    """The vendor answered, but not with something the gateway can use."""
    return BackendBadResponse(f"backend '{backend}' sent an unusable answer: {what}", backend=backend)
