"""Load generation on loopback: `wrk` when installed (a C load generator, so the Python under test
keeps the CPU), else a bounded asyncio + httpx loop. Both report requests/s and latency percentiles."""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

_LUA = """
wrk.method = "{method}"
wrk.body = {body}
{headers}
"""
# Appended to every script: one line wrk prints at the end, which `run_wrk_script` reads.
# `graphql_errors` is counted by scripts that check each answer (see bench/peers.py); `done` runs
# in wrk's main Lua state, so it reads each thread's count through the thread handle.
_REPORT_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  for _, thread in ipairs(threads) do errors = errors + (thread:get("graphql_errors") or 0) end
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), errors))
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for this text


def run_wrk(
    url: str, body: str | None, connections: int, seconds: float, headers: dict[str, str] | None = None
) -> Load:
    lines = [f'wrk.headers["{k}"] = {_lua_string(v)}' for k, v in (headers or {}).items()]
    if body is not None:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    script = _LUA.format(
        method="POST" if body is not None else "GET",
        body=_lua_string(body) if body is not None else "nil",
        headers="\n".join(lines),
    )
    return run_wrk_script(url, script, connections, seconds)


def run_wrk_script(url: str, script: str, connections: int, seconds: float) -> Load:
    """wrk on one thread driven by a Lua `script` of the caller's (which leaves `setup` and `done` to this)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + _REPORT_LUA)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", handle.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        Path(handle.name).unlink()
    fields = next(line for line in out.splitlines() if line.startswith("RESULT")).split()[1:]
    requests, duration_us, p50, p95, p99, errors = (int(f) for f in fields)
    return Load(requests, duration_us / 1e6, p50 / 1000, p95 / 1000, p99 / 1000, errors, "wrk")


async def _python_load(
    url: str, body: str | None, connections: int, seconds: float, headers: dict[str, str] | None
) -> Load:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    sent_headers = {"content-type": "application/json", **(headers or {})}

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            if body is None:
                response = await client.get(url, headers=sent_headers)
            else:
                response = await client.post(url, content=body, headers=sent_headers)
            latencies.append(time.perf_counter() - started)
            errors += response.status_code >= 400

    began = time.perf_counter()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0] if latencies else 0.0] * 99
    return Load(len(latencies), elapsed, cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000, errors, "python")


def generate(
    url: str, body: str | None, *, connections: int, seconds: float, headers: dict[str, str] | None = None
) -> Load:
    """Drive `url` with `connections` concurrent clients for `seconds`."""
    if shutil.which("wrk"):
        return run_wrk(url, body, connections, seconds, headers)
    return asyncio.run(_python_load(url, body, connections, seconds, headers))
