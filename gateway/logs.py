"""Logging set-up: text or JSON lines, each record stamped with the GraphQL request id it served."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from pythonjsonlogger.json import JsonFormatter

from gateway.http import REQUEST_ID
from gateway.redaction import Redactor

MAX_LOG_MESSAGE = 4000
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (the one the response and the vendor calls carry) to every record, and
    blanks every configured secret (and Authorization-like value) from its message."""

    redact = Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        message = record.getMessage()
        cleaned = self.redact(message, limit=MAX_LOG_MESSAGE)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_secrets(secrets: Iterable[str]) -> None:
    """From now on, log lines never show these values (the config's secrets)."""
    RequestIdFilter.redact = Redactor(secrets)


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Connection-level chatter from the HTTP client would log every vendor URL at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Alembic narrates every step of the index's migrations at INFO.
    logging.getLogger("alembic").setLevel(logging.WARNING)
