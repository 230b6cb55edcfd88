"""The caller's API key to its backend scope; keys compare in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from gateway import errors
from gateway.config import ApiKeySettings
from gateway.graphql_http.asgi import HttpRequest
from gateway.graphql_http.payload import RequestRefused


def scope_of(request: HttpRequest, api_keys: Sequence[ApiKeySettings]) -> frozenset[str] | None:
    """The backends this caller may see; None means every backend (also when no keys are set)."""
    if not api_keys:
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    matched: ApiKeySettings | None = None
    if scheme.lower() == "bearer" and token:
        for key in api_keys:  # every key is compared, so the time taken says nothing of which matched
            if hmac.compare_digest(key.key.get_secret_value().encode(), token.strip().encode()):
                matched = key
    if matched is None:
        raise RequestRefused(
            errors.Unauthenticated("a valid API key is required: send Authorization: Bearer <key>"),
            401,
            {"www-authenticate": 'Bearer realm="contact-gateway"'},
        )
    return frozenset(matched.backends) if matched.backends is not None else None
