"""`contact-gateway sync`: one forced full pass per backend into the index, a progress line per
backend, then unused rows expired (`index.expire_s`, said in a line); exit 0 when every backend
synced and 3 when some failed (named on stderr)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TextIO

import httpx

from gateway.config import GatewaySettings
from gateway.config_index import counted, describe_duration
from gateway.index import INDEX_UNAVAILABLE, describe_failure
from gateway.runtime import Gateway

EXIT_SYNCED = 0
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3


async def run_sync(
    settings: GatewaySettings,
    only: Sequence[str] | None,
    *,
    out: TextIO,
    err: TextIO,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
) -> int:
    if settings.index_url() is None:
        print("contact-gateway: the index is off (index: false): nothing to sync", file=err)
        return EXIT_USAGE
    unknown = [name for name in only or [] if name not in settings.backends]
    if unknown:
        configured = ", ".join(settings.backends) or "none"
        print(f"contact-gateway: no backend named {', '.join(unknown)} (configured: {configured})", file=err)
        return EXIT_USAGE
    gateway = Gateway.from_settings(settings, transports=transports)
    try:
        assert gateway.sync is not None
        try:
            await gateway.open_index()
        except INDEX_UNAVAILABLE as exc:  # the database cannot be reached or migrated: say so, no traceback
            print(f"contact-gateway: the index database cannot be opened: {describe_failure(exc)}", file=err)
            return 1
        print(f"index: {settings.index_description()}", file=out, flush=True)
        live = err.isatty()

        def progress(backend: str, records: int) -> None:
            if live:
                print(f"\r  {backend}: {records} records read", end="", file=err, flush=True)

        outcomes = await gateway.sync.sync_all(only, force=True, progress=progress)
        if live:
            print(file=err)
        for outcome in outcomes:
            if outcome.synced:
                print(f"  {outcome.backend}: synced, {outcome.records} records in {outcome.seconds:.1f} s", file=out)
            elif outcome.skipped:
                print(f"  {outcome.backend}: not synced: {outcome.skipped}", file=out)
        expired = await gateway.sync.expire_unused()
        if expired:
            print(
                f"index: expired the rows of {counted(len(expired.namespaces), 'backend namespace')} and"
                f" {counted(expired.deployments, 'deployment')} no gateway has synced for"
                f" {describe_duration(settings.index.expire_s)}",
                file=out,
            )
        failed = [o for o in outcomes if not o.synced]
        for outcome in failed:
            print(f"sync failed: backend {outcome.backend}: {outcome.error or outcome.skipped}", file=err)
        return EXIT_SOME_FAILED if failed else EXIT_SYNCED
    finally:
        await gateway.aclose()
