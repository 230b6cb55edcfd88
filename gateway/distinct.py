"""A contact's phone numbers and emails as it shows them: each once, whatever spellings the vendor
keeps (a Comm100 contact may hold one number in `phone` and again in a WhatsApp identity).

Numbers compare as E.164 (region for numbers without a country code from `server.default_region`)
and are shown that way where they can be read; emails compare without case and surrounding spaces.
The first spelling in the vendor's order wins.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.filtering import normalize_phone


def shown_phone(raw: str, region: str) -> str:
    """A number as a contact shows it: E.164 where it can be read, else as the vendor wrote it."""
    return normalize_phone(raw, region) or raw.strip()


def distinct_phones(raws: Iterable[str], region: str) -> list[str]:
    """Each number once, in order, in E.164 where it can be read."""
    seen: dict[str, None] = {}
    for raw in raws:
        shown = shown_phone(raw, region)
        if shown:
            seen.setdefault(shown, None)
    return list(seen)
