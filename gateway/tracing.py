"""Optional OpenTelemetry tracing: one span per GraphQL operation and one per vendor call, never
per field (per-field spans are what makes traced GraphQL servers slow).

Install the extra (`pip install 'contact-gateway[otel]'`) and configure the OpenTelemetry SDK the
usual way (a TracerProvider with an exporter, e.g. through `opentelemetry-instrument` and the
`OTEL_*` environment variables). Without the package every span here is a no-op costing one call.
Span attributes hold names, codes and paths: never a parameter value, a header or a secret.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

try:
    from opentelemetry import trace as _trace
except ImportError:  # the extra is not installed
    _trace = None  # type: ignore[assignment]

TRACER_NAME = "contact-gateway"


@contextlib.contextmanager
def span(name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    """A span named `name` (a child of the current one), or nothing when tracing is not installed.
    Yields an object with `set_attribute`, or None."""
    tracer = _tracer()
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


_found: list[Any] = []


def _tracer() -> Any:
    """The tracer once an SDK provider is configured; None before (the API alone would still
    attach a context for every no-op span: measurable on every vendor call)."""
    if _found:
        return _found[0]
    if _trace is None or isinstance(_trace.get_tracer_provider(), _trace.ProxyTracerProvider):
        return None
    _found.append(_trace.get_tracer(TRACER_NAME))
    return _found[0]


def outcome(current: Any, value: str, *, error: bool) -> None:
    """Record how the spanned work ended (a gateway error code, or "ok")."""
    if current is None:
        return
    current.set_attribute("contact_gateway.outcome", value)
    if error and _trace is not None:
        current.set_status(_trace.Status(_trace.StatusCode.ERROR, value))
