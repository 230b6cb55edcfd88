"""What one GraphQL request carries: the gateway, the caller's scope, per-request loaders, and the
errors of backends that failed while others answered (reported beside the data).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gateway import errors
from gateway.backends.protocol import Backend
from gateway.runtime import Gateway

log = logging.getLogger("gateway.resolvers")


@dataclass(slots=True)
class PartialError:
    error: errors.GatewayError
    path: list[str | int]


@dataclass
class RequestContext:
    gateway: Gateway
    # Backends this caller may use; None means all (no API keys configured, or an unscoped key).
    scope: frozenset[str] | None = None
    request_id: str = "-"
    partial_errors: list[PartialError] = field(default_factory=list)
    loaders: dict[str, Any] = field(default_factory=dict)
    # The request's document, parsed once by the HTTP layer (graphql-core's DocumentNode).
    document: Any = None
    # Backends answered live where the index would have answered, had its first pass completed.
    not_indexed: set[str] = field(default_factory=set)

    def answered_live(self, backends: list[str]) -> None:
        """Say in `extensions.index` that these backends' part came from the live path."""
        if self.gateway.index is not None:  # with `index: false`, live is simply how it works
            self.not_indexed.update(backends)

    def report(self, error: errors.GatewayError, info: Any) -> None:
        """Record an error that costs only part of the answer; the rest still comes back."""
        path = info.path.as_list() if hasattr(info, "path") else []
        self.partial_errors.append(PartialError(error, list(path)))

    def visible_backends(self, names: list[str] | None = None) -> list[Backend]:
        """The backends this caller may use, in configured order, optionally narrowed by name."""
        configured = self.gateway.backends
        if names is not None:
            for name in names:
                self.backend(name)  # unknown or out of scope: refused before any call
            wanted = set(names)
            return [b for n, b in configured.items() if n in wanted]
        return [b for n, b in configured.items() if self.scope is None or n in self.scope]

    def backend(self, name: str) -> Backend:
        backend = self.gateway.backend(name)
        self.check_scope(name)
        return backend

    def check_scope(self, name: str) -> None:
        if self.scope is not None and name not in self.scope:
            raise errors.Forbidden(f"this API key may not use backend '{name}'", backend=name)

    def locate(self, global_id: str) -> tuple[Backend, str]:
        backend, native_id = self.gateway.locate(global_id)
        self.check_scope(backend.name)
        return backend, native_id
