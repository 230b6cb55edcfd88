"""`@defer` and `@stream`: the later parts of an answer, shaped as the clients that read them expect.

graphql-core's incremental executor speaks the newer spec draft (`pending`, `completed`, ids).
Apollo Client and urql read the 2022-08-24 draft (`incremental: [{data | items, path, label,
errors}]`, `hasNext`). Every later part says both: each incremental entry carries its `path` and
`label` beside its `id`, and a deferred fragment that failed as a whole is also an entry with
`data: null` and its errors. Backend failures recorded while a part ran are reported in that part.

A client that does not accept `multipart/mixed` still gets one JSON answer: `merge_parts` folds
the parts into the first.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from graphql import GraphQLError
from graphql.execution import (
    ExperimentalIncrementalExecutionResults,
    SubsequentIncrementalExecutionResult,
)

from gateway import errors

ErrorShaper = Callable[[GraphQLError], dict[str, Any]]


async def later_parts(
    results: ExperimentalIncrementalExecutionResults,
    shape_error: ErrorShaper,
    new_partial_errors: Callable[[], list[GraphQLError]],
    request_context: contextvars.Context,
    deadline_at: float,
) -> AsyncIterator[dict[str, Any]]:
    """Every part after the first, until the executor says `hasNext: false` or the deadline
    passes (then one last part ends each pending fragment with BACKEND_TIMEOUT)."""
    pending = {p.id: p for p in results.initial_result.pending}
    # The answer so far, to tell a streamed item's index (the 2022 draft puts it in `path`).
    sent = {"data": copy.deepcopy(results.initial_result.data)}
    iterator = aiter(results.subsequent_results)

    async def next_part() -> SubsequentIncrementalExecutionResult:
        return await anext(iterator)

    while True:
        try:
            # Each step runs in the request's own context (its deadline, cache log, request id):
            # this generator is driven later, by the response, outside it.
            step = asyncio.create_task(next_part(), context=request_context)
            async with asyncio.timeout(max(0.0, deadline_at - time.monotonic())):
                value = await step
            late = new_partial_errors()
        except StopAsyncIteration:
            return
        except TimeoutError:
            yield _timed_out(pending, shape_error)
            return
        part = _shape(value, pending, [shape_error(e) for e in late], shape_error, sent)
        merge_parts(sent, [part], into=True)
        yield part
        if not value.has_next:
            return


def _shape(
    value: SubsequentIncrementalExecutionResult,
    pending: dict[str, Any],
    late_errors: list[dict[str, Any]],
    shape_error: ErrorShaper,
    sent: dict[str, Any],
) -> dict[str, Any]:
    for new in value.pending or ():
        pending[new.id] = new
    part: dict[str, Any] = {"hasNext": value.has_next}
    if value.pending:
        part["pending"] = [p.formatted for p in value.pending]
    incremental: list[dict[str, Any]] = []
    for entry in value.incremental or ():
        source = pending[entry.id]
        shaped: dict[str, Any] = {k: v for k, v in entry.formatted.items() if k not in ("errors", "subPath")}
        shaped["path"] = [*source.path, *(getattr(entry, "sub_path", None) or ())]
        if "items" in shaped:  # where the items go: after what the list holds already
            listed = _at(sent.get("data"), shaped["path"])
            shaped["path"].append(len(listed) if isinstance(listed, list) else 0)
        if source.label is not None:
            shaped["label"] = source.label
        if entry.errors:
            shaped["errors"] = [shape_error(e) for e in entry.errors]
        incremental.append(shaped)
    completed = []
    for done in value.completed or ():
        source = pending.pop(done.id, None)
        entry_done: dict[str, Any] = {"id": done.id}
        if done.errors:
            entry_done["errors"] = [shape_error(e) for e in done.errors]
            if source is not None:  # the 2022 draft's way to say a fragment failed as a whole
                failed: dict[str, Any] = {"data": None, "path": list(source.path), "errors": entry_done["errors"]}
                if source.label is not None:
                    failed["label"] = source.label
                incremental.append(failed)
        completed.append(entry_done)
    if late_errors:
        if incremental:
            incremental[0]["errors"] = [*incremental[0].get("errors", []), *late_errors]
        else:
            part["errors"] = late_errors
    if incremental:
        part["incremental"] = incremental
    if completed:
        part["completed"] = completed
    return part


def _timed_out(pending: dict[str, Any], shape_error: ErrorShaper) -> dict[str, Any]:
    error = errors.BackendTimeout("the deferred part did not finish within the deadline (server.deadline_s)")
    entry = {"message": error.message, "extensions": error.extensions()}
    return {
        "hasNext": False,
        "incremental": [{"data": None, "path": list(p.path), "errors": [entry]} for p in pending.values()],
        "completed": [{"id": p.id, "errors": [entry]} for p in pending.values()],
    }


def merge_parts(first: dict[str, Any], later: list[dict[str, Any]], *, into: bool = False) -> dict[str, Any]:
    """One answer from all parts, for a client that cannot read multipart/mixed (`into`: patch
    `first` itself, data only)."""
    body = first if into else {k: v for k, v in first.items() if k not in ("hasNext", "pending")}
    found_errors = list(body.get("errors", []))
    for part in later:
        found_errors += part.get("errors", [])
        for entry in part.get("incremental", []):
            found_errors += entry.get("errors", [])
            path = entry.get("path", [])
            if isinstance(entry.get("items"), list):
                listed = _at(body.get("data"), path[:-1])
                if isinstance(listed, list):
                    listed.extend(entry["items"])
            elif isinstance(entry.get("data"), dict):
                target = _at(body.get("data"), path)
                if isinstance(target, dict):
                    _deep_update(target, entry["data"])
    if found_errors and not into:
        body["errors"] = found_errors
    return body


def _deep_update(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value


def _at(data: Any, path: list[Any]) -> Any:
    for step in path:
        if isinstance(data, dict) and isinstance(step, str):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data):
            data = data[step]
        else:
            return None
    return data
