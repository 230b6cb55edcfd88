"""What a sync pass of the contact index reads from a vendor: its pages, each paced by the
backend's `index_calls_per_minute` and asked again while the vendor says "too many" or "later"
(answers that leave the backend's live circuit breaker as it was: `resilience.SYNC_CALL`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway import errors
from gateway.model import Contact
from gateway.resilience import SYNC_CALL, said_try_later


@dataclass(frozen=True, slots=True)
class SyncPage:
    """One page of a sync pass, and where the pass resumes after it (None: the list ended)."""

    contacts: list[Contact]
    resume_from: str | None


# Waits for the sync pass's next call slot (its calls-per-minute pace).
Pace = Callable[[], Awaitable[Any]]
# A sync pass asks again this many times for one page while the vendor says "try later".
SYNC_ATTEMPTS = 6
SYNC_BACKOFF_S = 1.0
# Records of a whole-list answer mapped and written at a time.
SYNC_CHUNK = 1000
T = TypeVar("T")


async def read_for_sync(call: Callable[[], Awaitable[T]], pace: Pace) -> T:
    """One vendor read of a sync pass: paced, and tried again (after the vendor's Retry-After,
    else a growing pause) while the vendor says "too many" or "try later"."""
    for attempt in range(SYNC_ATTEMPTS):
        await pace()
        marked = SYNC_CALL.set(True)  # its "too many" answers leave the live breaker alone
        try:
            return await call()
        except errors.GatewayError as exc:
            # Only a vendor that answered "too many" or "try later" is asked again here;
            # unreachable vendors were already retried by the read itself.
            said_later = said_try_later(exc) or exc.details.get("status") == 503
            if attempt + 1 == SYNC_ATTEMPTS or not said_later:
                raise
            wait = exc.retry_after_s
            await asyncio.sleep(wait if wait is not None else SYNC_BACKOFF_S * 2**attempt)
        finally:
            SYNC_CALL.reset(marked)
    raise AssertionError("unreachable: the last attempt raises")
