"""`check-config --probe`: ask each configured backend one small question, through the same path a
query takes, and say per backend whether it answered: credentials accepted, reachable, or the
vendor's own error (secrets redacted, as in every answer)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from gateway.config import CacheSettings, GatewaySettings
from gateway.execution import execute
from gateway.runtime import Gateway
from schema import build_schema

PROBE = "query Probe($backends: [String!]) { contacts(first: 1, backends: $backends) { edges { node { id } } } }"
# What each failure code means to someone checking a config.
VERDICTS = {
    "BACKEND_UNAUTHORIZED": "credentials refused",
    "FORBIDDEN": "credentials refused",
    "BACKEND_UNAVAILABLE": "unreachable or failing",
    "BACKEND_TIMEOUT": "no answer in time",
    "BACKEND_BAD_RESPONSE": "answered something unusable",
}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    backend: str
    vendor: str
    ok: bool
    verdict: str  # "ok", or what went wrong in a few words
    detail: str  # the error's code and message (the vendor's own words where it gave some)
    elapsed_ms: float


def probe_settings(settings: GatewaySettings) -> GatewaySettings:
    """The same backends, asked once each: no retries, nothing cached, nothing served from a cache."""
    backends = {
        name: b.model_copy(update={"retries": 0, "ttl_s": 0, "stale_s": 0}) for name, b in settings.backends.items()
    }
    return settings.model_copy(
        update={"backends": backends, "cache": CacheSettings(ttl_s=0, stale_s=0, responses=False)}
    )


async def probe_backends(
    settings: GatewaySettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> list[ProbeResult]:
    settings = probe_settings(settings)
    gateway = Gateway.from_settings(settings, transports=transports)
    schema = build_schema(settings.server)

    async def one(name: str) -> ProbeResult:
        started = time.perf_counter()
        outcome = await execute(schema, gateway, PROBE, {"backends": [name]}, request_id=f"probe-{name}")
        elapsed = (time.perf_counter() - started) * 1000
        vendor = settings.backends[name].vendor
        problems = outcome.body.get("errors") or []
        if not problems:
            return ProbeResult(name, vendor, True, "ok", "", elapsed)
        first = problems[0]
        code = str(first.get("extensions", {}).get("code", "ERROR"))
        return ProbeResult(name, vendor, False, VERDICTS.get(code, code), f"{code}: {first.get('message')}", elapsed)

    try:
        return list(await asyncio.gather(*(one(name) for name in settings.backends)))
    finally:
        await gateway.aclose()


def probe_table(results: list[ProbeResult]) -> str:
    header = ("backend", "vendor", "result", "time", "detail")
    rows = [(r.backend, r.vendor, r.verdict, f"{r.elapsed_ms:.0f} ms", r.detail) for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"
