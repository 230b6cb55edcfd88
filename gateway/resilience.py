"""Staying up when a vendor is not: the request deadline, retry policy, circuit breaker and rate
smoothing that `HttpBackend` applies around every vendor call.

- Deadline: each GraphQL request gets `server.deadline_s`; every vendor call is bounded by what
  is left of it (and by the backend's `timeout_s`), so a slow backend costs only its own part.
- Retries (reads only, with stamina): connection failures, 502/503/504 and 429, exponential
  backoff with jitter, a 429's `Retry-After` honoured, never past the deadline.
- Breaker: after `breaker_failures` consecutive failures a backend is cut off for
  `breaker_cooldown_s`; calls then fail fast (or are served stale); one trial call closes it.
- Rate smoothing (aiolimiter): at most `rate_limit.calls` per `rate_limit.per_s` seconds; excess
  waits within the deadline, else fails with BACKEND_UNAVAILABLE (reason RATE_LIMITED).
- The index's background sync (`SYNC_CALL`) paces itself by the vendor's "too many" and "later"
  (429, Retry-After): those answers leave the breaker as it was, so a sync waiting out the vendor's
  rate limit never cuts users off; its other failures count like any call's, so a vendor that is
  down shows as such.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass

from gateway import errors

DEADLINE: ContextVar[float | None] = ContextVar("contact_gateway_deadline", default=None)
# True while a call is made for a background sync pass of the index, not for a user's request.
SYNC_CALL: ContextVar[bool] = ContextVar("contact_gateway_sync_call", default=False)
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# Leave this much of the deadline to shape and send the response.
RESPONSE_MARGIN_S = 0.05
MAX_BACKOFF_S = 2.0


def remaining() -> float | None:
    """Seconds left before this request's deadline; None outside a request."""
    deadline = DEADLINE.get()
    if deadline is None:
        return None
    return deadline - time.monotonic() - RESPONSE_MARGIN_S


def call_budget(timeout_s: float) -> float:
    """How long one vendor call may take: its own timeout, cut by the request's deadline."""
    left = remaining()
    return timeout_s if left is None else max(0.0, min(timeout_s, left))


def read_budget(timeout_s: float, retries: int) -> float:
    """The longest one read may take, retries and backoff included, within the deadline: what a
    lock held for the read must outlast."""
    whole = timeout_s * (retries + 1) + MAX_BACKOFF_S * retries
    left = remaining()
    return whole if left is None else max(0.0, min(whole, left))


def is_retryable(error: errors.GatewayError) -> bool:
    """Failures worth another try for a read: no answer, or an answer saying "try again"."""
    if isinstance(error, errors.BackendTimeout):
        return True
    if isinstance(error, errors.BackendUnavailable):
        status = error.details.get("status")
        return error.details.get("reason") is None and (status is None or status in RETRYABLE_STATUSES)
    return False


def said_try_later(error: errors.GatewayError) -> bool:
    """The vendor answered "too many" (429) or said when to come back (Retry-After): it is up."""
    return error.retry_after_s is not None or error.details.get("status") == 429


def counts_against_breaker(error: BaseException) -> bool:
    """The vendor is failing (not the client, not our credentials)."""
    return isinstance(error, errors.BackendUnavailable | errors.BackendTimeout | errors.BackendBadResponse) and (
        not isinstance(error, errors.BackendUnavailable) or error.details.get("reason") is None
    )


@dataclass
class CircuitBreaker:
    """Consecutive-failure breaker for one backend: closed -> open (cool-down) -> half-open."""

    backend: str
    failures_to_open: int = 5
    cooldown_s: float = 30.0
    consecutive_failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def before_call(self) -> None:
        """Fail fast while open; let exactly one trial call through once the cool-down ended."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self.trial_in_flight:
            self.trial_in_flight = True
            return
        assert self.opened_at is not None
        wait = max(0.0, self.cooldown_s - (time.monotonic() - self.opened_at))
        raise errors.BackendUnavailable(
            f"backend '{self.backend}' is cut off after {self.consecutive_failures} failures in a row;"
            f" next try in {wait:.0f} s",
            backend=self.backend,
            details={"reason": "CIRCUIT_OPEN"},
        )

    def succeeded(self) -> None:
        self.consecutive_failures = 0
        self.opened_at = None
        self.trial_in_flight = False

    def failed(self) -> None:
        self.consecutive_failures += 1
        self.trial_in_flight = False
        if self.opened_at is not None or self.consecutive_failures >= self.failures_to_open:
            self.opened_at = time.monotonic()  # (re)open: a failed trial starts a new cool-down
