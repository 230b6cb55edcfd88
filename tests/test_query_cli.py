"""`contact-gateway query`: an analyst's query file to JSON, CSV or a table, without a server."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import orjson

from gateway.analyst import Progress
from gateway.simulators.registry import DEMO_BACKENDS
from tests.services import serving

EVERYONE = """query Everyone($after: String) {
  contacts(first: 15, after: $after) {
    edges { node { id backend displayName emails phones identities { type value } address { city } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
HEADER = ["id", "backend", "displayName", "emails", "phones", "identities", "address.city"]


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
    from gateway.analyst import run_query
    from gateway.demo import in_process_demo

    settings, transports = in_process_demo()
    query = "{ contacts(first: 500) { totalCount } }"
    result = asyncio.run(run_query(settings, query, None, transports=transports))
    return int(result.body["data"]["contacts"]["totalCount"])


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_of_all_pages_has_the_selection_as_columns_and_one_row_per_contact(tmp_path: Path) -> None:
    done = run(tmp_path, "--format", "csv", "--all-pages")
    assert done.returncode == 0, done.stderr
    header, *rows = read_csv(done.stdout)
    assert header == HEADER  # the query's order, whatever the data holds
    assert len(rows) == demo_contact_count()
    assert len({r[0] for r in rows}) == len(rows)
    assert {r[1] for r in rows} == {d.name for d in DEMO_BACKENDS}
    identities = [json.loads(r[5]) for r in rows]  # a list of objects is one JSON cell
    assert any(len(i) > 1 for i in identities) and all(isinstance(i, list) for i in identities)
    assert "rows" in done.stderr  # progress while paging


def test_columns_do_not_depend_on_the_data(tmp_path: Path) -> None:
    query = """query($b: [String!]) { contacts(first: 50, backends: $b) {
      edges { node { id externalIds { system value } address { city country } } } } }"""
    headers = set()
    for backend in ("support", "voice"):
        done = run(tmp_path, "--format", "csv", "--variables", json.dumps({"b": [backend]}), query=query)
        assert done.returncode == 0, done.stderr
        headers.add(tuple(read_csv(done.stdout)[0]))
    assert headers == {("id", "externalIds", "address.city", "address.country")}


def test_explode_gives_one_row_per_item_and_keeps_items_less_contacts(tmp_path: Path) -> None:
    plain = read_csv(run(tmp_path, "--format", "csv", "--all-pages").stdout)[1:]
    done = run(tmp_path, "--format", "csv", "--all-pages", "--explode", "identities")
    assert done.returncode == 0, done.stderr
    header, *rows = read_csv(done.stdout)
    assert header == [*HEADER[:5], "identities.type", "identities.value", "address.city"]
    expected = sum(max(1, len(json.loads(r[5]))) for r in plain)
    assert len(rows) == expected > len(plain)
    many = next(r for r in plain if len(json.loads(r[5])) > 1)
    exploded = [r for r in rows if r[0] == many[0]]
    assert [[r[5], r[6]] for r in exploded] == [[i["type"], i["value"]] for i in json.loads(many[5])]
    wrong = run(tmp_path, "--format", "csv", "--explode", "emails")
    assert wrong.returncode == 2 and "'identities'" in wrong.stderr and not wrong.stdout


def test_bom_for_excel(tmp_path: Path) -> None:
    done = run(tmp_path, "--format", "csv", "--bom")
    assert done.stdout.startswith("\ufeffid,backend,")
    assert not run(tmp_path, "--format", "csv").stdout.startswith("\ufeff")


def test_json_output_and_a_table_that_never_cuts_an_id(tmp_path: Path) -> None:
    as_json = run(tmp_path, "--variables", '{"after": null}')
    assert as_json.returncode == 0
    body = json.loads(as_json.stdout)
    ids = [e["node"]["id"] for e in body["data"]["contacts"]["edges"]]
    assert len(ids) == 15 and max(len(i) for i in ids) > 40  # Comm100 GUIDs make long ids
    table = run(tmp_path, "--format", "table")
    lines = table.stdout.splitlines()
    assert lines[0].split() == HEADER
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert len(lines) == 2 + 15
    assert [line.split()[0] for line in lines[2:]] == ids


def test_bad_input_is_exit_2_with_line_and_column(tmp_path: Path) -> None:
    bad_variables = run(tmp_path, "--variables", "{nope")
    assert bad_variables.returncode == 2 and "--variables is not JSON" in bad_variables.stderr
    bad_syntax = run(tmp_path, query="{\n  contacts(")
    assert bad_syntax.returncode == 2
    assert f"{tmp_path / 'q.graphql'}:2:12: GRAPHQL_PARSE_FAILED" in bad_syntax.stderr
    bad_field = run(tmp_path, query="{ backends { name } nope }")
    assert bad_field.returncode == 2
    assert ":1:21: GRAPHQL_VALIDATION_FAILED: Cannot query field 'nope'" in bad_field.stderr
    garbage_id = run(tmp_path, "--variables", '{"id": "garbage"}', query="query($id: ID!) { contact(id: $id) { id } }")
    assert garbage_id.returncode == 2 and "contact: BAD_USER_INPUT" in garbage_id.stderr
    assert garbage_id.stdout == ""
    for done in (bad_variables, bad_syntax, bad_field, garbage_id):
        assert "Traceback" not in done.stderr


async def test_a_partial_answer_is_exit_3_unless_allowed(tmp_path: Path) -> None:
    demo = DEMO_BACKENDS[0]
    simulator = demo.make()
    async with serving(simulator.app) as root:
        config = {
            "backends": {
                demo.name: demo.settings(root),
                "down": {**demo.settings("http://127.0.0.1:9"), "retries": 0, "timeout_s": 2},
            }
        }
        (tmp_path / "gateway.yaml").write_text(orjson.dumps(config).decode())
        query = "{ contacts(first: 500) { edges { node { id backend } } } }"
        args = ("--config", str(tmp_path / "gateway.yaml"), "--format", "csv")
        strict, allowed = await asyncio.gather(
            asyncio.to_thread(run, tmp_path, *args, query=query),
            asyncio.to_thread(run, tmp_path, *args, "--allow-partial", query=query),
        )
    assert strict.returncode == 3, strict.stderr
    assert "BACKEND_UNAVAILABLE (backend down)" in strict.stderr and "--allow-partial" in strict.stderr
    rows = read_csv(strict.stdout)[1:]
    assert rows and {r[1] for r in rows} == {demo.name}  # what the live backend gave is still written
    assert allowed.returncode == 0 and allowed.stdout == strict.stdout


def render_terminal(text: str) -> list[str]:
    """What a terminal shows for `text`: a carriage return overwrites the line from its start."""
    screen = []
    for line in text.split("\n"):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part) :]
        screen.append(shown.rstrip())
    return screen


def test_log_lines_never_break_the_progress_line() -> None:
    terminal = io.StringIO()
    handler = logging.StreamHandler(terminal)
    logger = logging.getLogger("gateway.test-progress")
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    try:
        progress = Progress(terminal)
        with progress.around_logging():
            progress.show("page 1: 15 rows so far...")
            logger.warning("backend voice: retrying after a 503")
            progress.show("page 2: 30 rows so far...")
            progress.finish("2 pages, 30 rows.")
    finally:
        root.handlers[:] = saved
    screen = [line for line in render_terminal(terminal.getvalue()) if line]
    assert screen == ["backend voice: retrying after a 503", "2 pages, 30 rows."]
