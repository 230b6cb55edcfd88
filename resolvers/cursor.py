"""Opaque Relay cursors for the cross-backend contact list.

A cursor is base64url of a small versioned JSON document: the query it belongs to (a hash of the
filter, the backends and the flags), the backend being walked and that backend's position, plus a
checksum. A cursor that does not decode, fails its checksum or belongs to another query is
BAD_USER_INPUT, never a server error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

import orjson

from gateway import errors

VERSION = 1


@dataclass(frozen=True, slots=True)
class Cursor:
    backend: str
    position: str


def query_fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def _checksum(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:10]


def encode_cursor(cursor: Cursor, query: str) -> str:
    body = orjson.dumps({"v": VERSION, "q": query, "b": cursor.backend, "p": cursor.position})
    sealed = orjson.dumps({"d": body.decode(), "c": _checksum(body)})
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def decode_cursor(text: str, query: str) -> Cursor:
    """The cursor `text` names, or BAD_USER_INPUT when it is damaged or from another query."""

    def refuse(why: str) -> errors.BadUserInput:
        return errors.BadUserInput(f"the cursor 'after' is not valid: {why}", fields={"after": why})

    try:
        sealed = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        body = sealed["d"].encode()
        if _checksum(body) != sealed["c"]:
            raise refuse("it was altered")
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
