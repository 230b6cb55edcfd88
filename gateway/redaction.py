"""Keeping secrets out of what the gateway says: every configured secret, and anything shaped like
an Authorization value, is blanked from vendor texts, error messages and log lines; vendor texts
are also cut to a bounded length, so a vendor echoing a request or dumping a page cannot leak or
flood.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[redacted]"
# `Bearer abc...`, `Basic dXNl...`, `apikey k-123...`, `token=...`: whatever a vendor echoes back.
_AUTH_VALUE = re.compile(
    r"(?i)\b(bearer|basic|apikey|api[_-]?key|token|password|x-api-key)(\s*[:=]\s*|\s+)\"?[A-Za-z0-9._~+/=-]{6,}"
)
MAX_MESSAGE = 500
# Shorter values would match ordinary words; config validation asks for longer keys anyway.
_MIN_SECRET = 4


class Redactor:
    """Blanks the given secrets (and Authorization-like values) from any text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(s) for s in known)) if known else None

    def __call__(self, text: str, limit: int = MAX_MESSAGE) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(MASK, text)
        text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        return text if len(text) <= limit else text[: limit - 1] + "…"
