"""`contact-gateway query`: an analyst's query file to JSON, CSV or a table, without a server."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from gateway.analyst import flatten, rows_of
from gateway.simulators.registry import DEMO_BACKENDS

EVERYONE = """query Everyone($after: String) {
  contacts(first: 15, after: $after) {
    edges { node { id backend displayName emails phones identities { type value } address { city } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def run(tmp_path: Path, *args: str, query: str = EVERYONE) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "q.graphql"
    path.write_text(query)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "query", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def demo_contact_count() -> int:
    """Every listed contact of the demo (merged-away Comm100 records are left out of lists)."""
    import asyncio

    from gateway.analyst import run_query
    from gateway.demo import in_process_demo

    settings, transports = in_process_demo()
    query = "{ contacts(first: 500) { totalCount } }"
    result = asyncio.run(run_query(settings, query, None, transports=transports))
    return int(result.body["data"]["contacts"]["totalCount"])


def test_csv_of_all_pages_has_one_row_per_contact(tmp_path: Path) -> None:
    done = run(tmp_path, "--format", "csv", "--all-pages")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == demo_contact_count()
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["backend"] for r in rows} == {d.name for d in DEMO_BACKENDS}
    assert list(rows[0])[:5] == ["id", "backend", "displayName", "emails", "phones"]
    assert "address" not in rows[0] and "address.city" in rows[0]
    with_identities = next(r for r in rows if ";" in r["identities.type"])
    assert len(with_identities["identities.type"].split("; ")) == len(with_identities["identities.value"].split("; "))
    assert "rows" in done.stderr  # progress while paging


def test_json_and_table_output(tmp_path: Path) -> None:
    as_json = run(tmp_path, "--variables", '{"after": null}')
    assert as_json.returncode == 0
    body = json.loads(as_json.stdout)
    assert len(body["data"]["contacts"]["edges"]) == 15
    table = run(tmp_path, "--format", "table")
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "backend", "displayName"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert len(lines) == 2 + 15


def test_bad_input_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    bad_variables = run(tmp_path, "--variables", "{nope")
    assert bad_variables.returncode == 2 and "--variables is not JSON" in bad_variables.stderr
    bad_query = run(tmp_path, query="{ contacts(")
    assert bad_query.returncode == 1 and "GRAPHQL_PARSE_FAILED" in bad_query.stderr
    for done in (bad_variables, bad_query):
        assert "Traceback" not in done.stderr


def test_flatten_joins_lists_and_dots_objects() -> None:
    assert flatten({"a": {"b": 1, "c": None}, "l": ["x", "y"], "o": [{"t": "E", "v": "1"}, {"t": "T", "v": "2"}]}) == {
        "a.b": "1",
        "a.c": "",
        "l": "x; y",
        "o.t": "E; T",
        "o.v": "1; 2",
    }
    assert rows_of({"backends": [{"name": "a"}, {"name": "b"}]}) == [{"name": "a"}, {"name": "b"}]
