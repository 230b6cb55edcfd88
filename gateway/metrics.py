"""Prometheus metrics (prometheus-client), one registry per app: GraphQL requests, backend calls,
cache events, breaker state, coalesced calls, index passes and the answering process. Labels never
carry ids, filters or secrets; client-chosen operation names are bounded so they cannot blow up the
series count.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_NAMES = 200
BREAKER_STATES = {"closed": 0.0, "half-open": 1.0, "open": 2.0}


class _StateCollector(Collector):
    """Breaker states and in-flight coalesced reads, read at scrape time."""

    def __init__(self, breakers: Callable[[], Mapping[str, str]], inflight: Callable[[], Mapping[str, int]]) -> None:
        self.breakers = breakers
        self.inflight = inflight

    def collect(self) -> Iterable[GaugeMetricFamily]:
        state = GaugeMetricFamily(
            "gateway_backend_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", labels=["backend"]
        )
        for backend, name in self.breakers().items():
            state.add_metric([backend], BREAKER_STATES[name])
        yield state
        inflight = GaugeMetricFamily(
            "gateway_backend_inflight_reads", "Distinct vendor reads in flight (shared by coalesced callers)",
            labels=["backend"],
        )  # fmt: skip
        for backend, count in self.inflight().items():
            inflight.add_metric([backend], float(count))
        yield inflight


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gateway_graphql_requests", "GraphQL requests by operation and outcome",
            ["operation", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "gateway_graphql_request_seconds", "GraphQL request latency", ["operation"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
        )  # fmt: skip
        self.backend_calls = Counter(
            "gateway_backend_calls", "Vendor calls by backend, operation and outcome",
            ["backend", "operation", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.backend_seconds = Histogram(
            "gateway_backend_call_seconds", "Vendor call latency", ["backend", "operation"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.cache_events = Counter(
            "gateway_cache_events", "Cache hits, misses, stale answers and coalesced waits by backend",
            ["backend", "event"], registry=self.registry,
        )  # fmt: skip
        self.response_cache = Counter(
            "gateway_response_cache_events", "Whole-response cache hits, misses and stores", ["event"],
            registry=self.registry,
        )  # fmt: skip
        self.index_passes = Counter(
            "gateway_index_passes", "Index sync passes by backend and outcome (synced, failed, skipped)",
            ["backend", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.index_records = Gauge(
            "gateway_index_records", "Contacts in a backend's index after its last completed pass", ["backend"],
            registry=self.registry,
        )  # fmt: skip
        # Under `serve --workers N` each scrape is answered by one worker, with that worker's counts:
        # its pid says which one (and, over several scrapes, that every worker takes connections).
        Info("gateway_process", "The worker process answering this scrape", registry=self.registry).info(
            {"pid": str(os.getpid())}
        )
        self._operations: set[str] = set()
        self._children: dict[tuple[str | None, str], tuple[Any, Any]] = {}
        self._response_cache_children: dict[str, Any] = {}

    def watch(self, breakers: Callable[[], Mapping[str, str]], inflight: Callable[[], Mapping[str, int]]) -> None:
        self.registry.register(_StateCollector(breakers, inflight))

    def operation_label(self, name: str | None) -> str:
        """A client's operationName as a label, bounded in form and number."""
        if not name:
            return "anonymous"
        if not _OPERATION_NAME.match(name):
            return "invalid"
        if name not in self._operations:
            if len(self._operations) >= MAX_OPERATION_NAMES:
                return "other"
            self._operations.add(name)
        return name

    def observe_request(self, operation: str | None, outcome: str, seconds: float) -> None:
        children = self._children.get((operation, outcome))
        if children is None:  # labels() costs a lock and a lookup: keep each pair's children
            label = self.operation_label(operation)
            children = self.requests.labels(label, outcome), self.request_seconds.labels(label)
            if len(self._children) < MAX_OPERATION_NAMES * 8:
                self._children[(operation, outcome)] = children
        children[0].inc()
        children[1].observe(seconds)

    def response_cache_event(self, event: str) -> None:
        child = self._response_cache_children.get(event)
        if child is None:  # a handful of events: each child is looked up (under a lock) once
            child = self._response_cache_children[event] = self.response_cache.labels(event)
        child.inc()

    def observe_call(self, backend: str, operation: str, outcome: str, seconds: float) -> None:
        self.backend_calls.labels(backend, operation, outcome).inc()
        self.backend_seconds.labels(backend, operation).observe(seconds)

    def cache_event(self, backend: str, event: str) -> None:
        self.cache_events.labels(backend, event).inc()

    def observe_pass(self, backend: str, outcome: str, records: int | None) -> None:
        self.index_passes.labels(backend, outcome).inc()
        if records is not None:
            self.index_records.labels(backend).set(records)

    def render(self) -> bytes:
        return generate_latest(self.registry)
