"""The caller's API key to its backend scope; keys compare in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from gateway import errors
from gateway.config import ApiKeySettings
from gateway.graphql_http.asgi import HttpRequest
from gateway.graphql_http.payload import RequestRefused


class ApiKeys:
    """The configured keys, each encoded once with the scope it grants (frozen once, so the
    response cache's per-scope lookups hash it once)."""

    def __init__(self, keys: Sequence[ApiKeySettings]) -> None:
        self.keys = [
            (key.key.get_secret_value().encode(), frozenset(key.backends) if key.backends is not None else None)
            for key in keys
        ]

    def scope_of(self, request: HttpRequest) -> frozenset[str] | None:
        """The backends this caller may see; None means every backend (also when no keys are set)."""
        if not self.keys:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        matched = False
        scope: frozenset[str] | None = None
        if scheme.lower() == "bearer" and token:
            given = token.strip().encode()
            for secret, granted in self.keys:  # every key is compared: the time says nothing of which matched
                if hmac.compare_digest(secret, given):
                    matched, scope = True, granted
        if not matched:
            raise RequestRefused(
                errors.Unauthenticated("a valid API key is required: send Authorization: Bearer <key>"),
                401,
                {"www-authenticate": 'Bearer realm="contact-gateway"'},
            )
        return scope
