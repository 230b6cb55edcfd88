"""Pure readers of vendor fields, shared by the vendor modules' mappers: a field as trimmed text,
a flag, a time, phone numbers with where they came from. No I/O, no vendor names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.model import PhoneNumber

# The `type` of a number kept in a vendor's plain phone field (not a channel identity).
PHONE_TYPE = "phone"
# A GUID (UUID) in its canonical 8-4-4-4-12 hex form, as vendors that issue GUID ids write them.
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def text(value: Any) -> str | None:
    """A vendor field as a trimmed string, or None when absent, empty or not text-like."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def texts(*values: Any) -> list[str]:
    """The non-empty, distinct strings among `values`, in order."""
    seen: list[str] = []
    for value in values:
        item = text(value)
        if item is not None and item not in seen:
            seen.append(item)
    return seen


def phone_numbers(*entries: tuple[Any, str, str]) -> list[PhoneNumber]:
    """`(value, type, source)` entries as phone numbers: the texts among them (a field holding an
    array gives one entry per text), each distinct entry once, in order."""
    found: list[PhoneNumber] = []
    for value, kind, source in entries:
        for raw in texts(*value) if isinstance(value, list) else texts(value):
            number = PhoneNumber(raw, kind, source)
            if number not in found:
                found.append(number)
    return found


def raw_phones(numbers: Sequence[PhoneNumber]) -> list[str]:
    """The distinct texts of `numbers`, in order (what `Contact.phones` holds)."""
    return texts(*(n.raw for n in numbers))


def flag(value: Any) -> bool | None:
    """A vendor boolean that may arrive as a bool, 0/1 or "true"/"false"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    return None


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 vendor time; a time without a zone is taken as UTC; garbage gives None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
