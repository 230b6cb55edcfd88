"""Opaque Relay cursors for the cross-backend lists.

A cursor is base64url of a small versioned JSON document: the query it belongs to (a fingerprint
of the filter, the backends and the flags, identical in every process and after restarts), the
backend being walked and that backend's position, sealed with an HMAC under the gateway's cursor
key (`server.cursor_secret`), so a client cannot forge a position. A cursor that does not decode,
fails its seal or belongs to another query is BAD_USER_INPUT, never a server error.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import hashlib
import hmac
import os
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson

from gateway import errors

VERSION = 2
# The request's signing key (set per request from the gateway's settings). Outside a request
# (tests calling resolvers directly) a key of this process stands in.
_PROCESS_KEY = os.urandom(32)
SIGNING_KEY: ContextVar[bytes] = ContextVar("contact_gateway_cursor_key", default=_PROCESS_KEY)


@dataclass(frozen=True, slots=True)
class Cursor:
    backend: str
    position: str


def _canonical(value: Any) -> Any:
    """A JSON-able form that is the same in every process (sets sorted, enums by value)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted((_canonical(v) for v in value), key=lambda v: orjson.dumps(v))
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def query_fingerprint(*parts: object) -> str:
    canonical = orjson.dumps(_canonical(list(parts)), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


def _seal(body: bytes) -> str:
    return hmac.new(SIGNING_KEY.get(), body, hashlib.sha256).hexdigest()[:32]


def encode_cursor(cursor: Cursor, query: str) -> str:
    body = orjson.dumps({"v": VERSION, "q": query, "b": cursor.backend, "p": cursor.position})
    sealed = orjson.dumps({"d": body.decode(), "s": _seal(body)})
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def decode_cursor(text: str, query: str) -> Cursor:
    """The cursor `text` names, or BAD_USER_INPUT when it is damaged, forged or from another query."""

    def refuse(why: str) -> errors.BadUserInput:
        return errors.BadUserInput(f"the cursor 'after' is not valid: {why}", fields={"after": why})

    try:
        sealed = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        body = sealed["d"].encode()
        if not hmac.compare_digest(_seal(body), str(sealed["s"])):
            raise refuse("it was altered, or issued by another gateway")
        data = orjson.loads(body)
    except errors.BadUserInput:
        raise
    except (
        binascii.Error,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        orjson.JSONDecodeError,
    ):
        raise refuse("it cannot be read") from None
    if not isinstance(data, dict) or data.get("v") != VERSION:
        raise refuse("unknown cursor version")
    if data.get("q") != query:
        raise refuse("it belongs to another query (different filter, backends or flags)")
    backend, position = data.get("b"), data.get("p")
    if not isinstance(backend, str) or not isinstance(position, str):
        raise refuse("it cannot be read")
    return Cursor(backend, position)


def cursor_key(secret: str | None, fallback_secrets: list[str]) -> bytes:
    """The signing key: `server.cursor_secret`, else one derived from the configured credentials
    (stable across restarts and workers, and unknown to clients)."""
    material = secret if secret else "\x1f".join(sorted(fallback_secrets))
    return hashlib.sha256(b"contact-gateway cursors\x00" + material.encode()).digest()
