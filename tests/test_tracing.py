"""OpenTelemetry: one span per operation, one per vendor call, none per field, no secrets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.simulators.common import Fault
from tests.conftest import HarnessFactory

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # the global provider can be set once a process
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


async def test_one_span_per_operation_and_per_vendor_call(
    make_harness: HarnessFactory, spans: InMemorySpanExporter
) -> None:
    h = make_harness(only=["support", "voice"], cache={"ttl_s": 0})
    h.sims["voice"].state.inject(Fault("status", status=503))
    result = await h.run(
        # totalCount: the answer waits for every backend (a page alone would not wait for voice).
        "query Everyone { contacts(first: 5) { totalCount edges { node { id displayName emails } } } }",
        operation_name="Everyone",
        request_id="trace-me-1",
    )
    assert result["data"]["contacts"]["edges"]
    finished = spans.get_finished_spans()
    [operation] = [s for s in finished if s.name == "graphql.operation"]
    calls = [s for s in finished if s.name == "backend.call"]
    assert len(finished) == 1 + len(calls)  # nothing per field
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.name"] == "Everyone"
    assert operation.attributes["contact_gateway.request_id"] == "trace-me-1"
    assert operation.attributes["contact_gateway.outcome"] == "partial"
    by_backend = {s.attributes["contact_gateway.backend"]: s for s in calls if s.attributes}
    assert set(by_backend) == {"support", "voice"}
    assert all(s.parent is not None and s.parent.span_id == operation.context.span_id for s in calls)
    assert by_backend["voice"].attributes is not None
    assert by_backend["voice"].attributes["contact_gateway.outcome"] == "BACKEND_UNAVAILABLE"
    assert not by_backend["voice"].status.is_ok
    text = repr([dict(s.attributes or {}) for s in finished])
    assert "comm100-demo-token" not in text and "agentvoice-demo-key" not in text
