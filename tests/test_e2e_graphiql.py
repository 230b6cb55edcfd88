"""GraphiQL in real Chromium, offline: a replaced tab runs under its own operation name, and the
Table plugin shows the list in the last answer and downloads the CSV `contact-gateway query`
writes for the same query."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, Response, async_playwright

from gateway.app import create_app
from gateway.demo import graphiql_tabs, in_process_demo
from tests.services import CHROMIUM_ARGS, chromium, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANALYST_QUERY = """query Analysts {
  contacts(first: 30) {
    edges { node { id backend displayName emails identities { type value } address { city } } }
  }
}"""


@pytest.fixture
async def graphiql_page() -> AsyncIterator[tuple[Page, list[dict[str, object]]]]:
    """GraphiQL of the demo's data, served by real uvicorn; every GraphQL request it sends."""
    executable = chromium()
    settings, transports = in_process_demo()
    app = create_app(settings, transports=transports, graphiql_tabs=graphiql_tabs())
    sent: list[dict[str, object]] = []
    async with serving(app) as root, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(accept_downloads=True)
            page.on(
                "request",
                lambda r: (
                    sent.append(json.loads(r.post_data or "{}"))
                    if r.method == "POST" and r.url.endswith("/graphql")
                    else None
                ),
            )
            await page.goto(root + "/graphql", wait_until="load")
            await page.wait_for_selector(".graphiql-execute-button", timeout=20_000)
            yield page, sent
        finally:
            await browser.close()


def is_run(response: Response) -> bool:
    """A query the user ran (not GraphiQL's own schema introspection)."""
    request = response.request
    return (
        request.method == "POST"
        and request.url.endswith("/graphql")
        and "IntrospectionQuery" not in (request.post_data or "")
    )


async def replace_query_and_run(page: Page, text: str) -> Any:
    """Select all of the query editor, type over it and press Ctrl-Enter at once; the answer."""
    await page.click(".graphiql-query-editor .CodeMirror")
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(text)
    async with page.expect_response(is_run, timeout=20_000) as answered:
        await page.keyboard.press("Control+Enter")
    response = await answered.value
    if response.headers.get("content-type", "").startswith("multipart/"):
        return None  # an answer in parts (@defer): the caller looks at what the page made of it
    return await response.json()


async def test_a_replaced_tab_runs_under_its_new_operation_name(
    graphiql_page: tuple[Page, list[dict[str, object]]],
) -> None:
    page, sent = graphiql_page
    await page.locator(".graphiql-tab").filter(has_text="FollowMerge").first.click()
    await page.locator(".graphiql-query-editor").get_by_text("survivor").first.wait_for(timeout=10_000)
    answer = await replace_query_and_run(page, "query Vendors { backends { name } }")
    ran = [r for r in sent if r.get("operationName") != "IntrospectionQuery"]
    assert ran[-1]["operationName"] == "Vendors"
    assert "errors" not in answer and answer["data"]["backends"]


def cli_csv(tmp_path: Path, query: str) -> str:
    path = tmp_path / "q.graphql"
    path.write_text(query)
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "query", str(path), "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


async def test_table_view_shows_the_rows_and_downloads_the_cli_csv(
    graphiql_page: tuple[Page, list[dict[str, object]]], tmp_path: Path
) -> None:
    page, _ = graphiql_page
    expected = asyncio.create_task(asyncio.to_thread(cli_csv, tmp_path, ANALYST_QUERY))
    answer = await replace_query_and_run(page, ANALYST_QUERY)
    await page.click("[aria-label='Show Table']")
    table = page.locator("table.cg-table")
    await table.wait_for(timeout=10_000)
    headers = await table.locator("thead th").all_inner_texts()
    first_column = await table.locator("tbody tr td:first-child").all_inner_texts()
    async with page.expect_download() as download_info:
        await page.click("button.cg-table-download")
    download = await download_info.value
    downloaded = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    assert headers == ["id", "backend", "displayName", "emails", "identities", "address.city"]
    assert first_column == [e["node"]["id"] for e in answer["data"]["contacts"]["edges"]]
    assert len(first_column) == 30
    assert download.suggested_filename == "Analysts.csv"
    assert downloaded == await expected


DEFERRED_QUERY = """query Deferred {
  contacts(first: 12) { edges { node { id ... @defer { displayName emails } } } }
}"""


async def test_table_view_patches_in_the_deferred_parts(
    graphiql_page: tuple[Page, list[dict[str, object]]], tmp_path: Path
) -> None:
    page, _ = graphiql_page
    expected = asyncio.create_task(asyncio.to_thread(cli_csv, tmp_path, DEFERRED_QUERY))
    await replace_query_and_run(page, DEFERRED_QUERY)
    await page.click("[aria-label='Show Table']")
    table = page.locator("table.cg-table")
    await table.wait_for(timeout=10_000)
    # The deferred parts patch the table once they arrive: every row gets its displayName.
    await page.wait_for_function(
        "() => { const cells = [...document.querySelectorAll('table.cg-table tbody tr td:nth-child(2)')];"
        " return cells.length === 12 && cells.every(c => c.textContent); }",
        timeout=10_000,
    )
    async with page.expect_download() as download_info:
        await page.click("button.cg-table-download")
    download = await download_info.value
    downloaded = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    shown = page.locator(".result-window")
    await shown.get_by_text('"displayName"').first.wait_for(timeout=10_000)  # GraphiQL merged the parts too
    assert downloaded == await expected
