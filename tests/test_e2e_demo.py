"""End to end: `contact-gateway demo` as a user starts it, real uvicorn, GraphiQL in real Chromium."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import async_playwright

from gateway.backends.registry import VENDORS
from gateway.simulators.people import generated_share
from gateway.simulators.registry import DEMO_BACKENDS
from tests.services import CHROMIUM_ARGS, chromium

pytestmark = pytest.mark.slow

FIRST_QUERY = (
    "{ contacts(first: 10) { totalCount edges { node { id displayName emails phones"
    " identities { type value } mergedIntoId } } } }"
)


@dataclass
class Demo:
    process: asyncio.subprocess.Process
    graphiql_url: str
    banner: str


@pytest.fixture
async def demo() -> AsyncIterator[Demo]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "demo", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    banner = ""
    url = None
    while url is None:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        assert line, f"demo exited early: {banner}"
        banner += line
        if line.startswith("GraphiQL: "):
            url = line.removeprefix("GraphiQL: ").strip()
    yield Demo(process, url, banner)
    if process.returncode is None:
        process.kill()
        await process.wait()


async def test_demo_serves_sample_data_and_stops_cleanly_on_ctrl_c(demo: Demo) -> None:
    assert demo.graphiql_url.startswith("http://127.0.0.1:")
    async with httpx.AsyncClient(timeout=20) as client:
        response = await client.post(demo.graphiql_url, json={"query": FIRST_QUERY})
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    edges = body["data"]["contacts"]["edges"]
    assert len(edges) == 10
    assert body["data"]["contacts"]["totalCount"] >= 40
    assert any(e["node"]["id"].startswith("support:") and e["node"]["identities"] for e in edges)
    assert demo.process.stderr is not None
    said = asyncio.ensure_future(demo.process.stderr.read())  # read while it runs: a full pipe would block it
    demo.process.send_signal(signal.SIGINT)
    await asyncio.wait_for(demo.process.wait(), timeout=20)
    errors = (await said).decode()
    assert demo.process.returncode == 0, errors
    assert "Traceback" not in errors


@pytest.mark.browser
async def test_graphiql_loads_offline_in_chromium_and_runs_a_query(demo: Demo) -> None:
    executable = chromium()
    requested: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            console_errors: list[str] = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            await page.goto(demo.graphiql_url, wait_until="load")
            await page.wait_for_selector(".graphiql-execute-button", timeout=20_000)
            await page.click(".graphiql-execute-button")
            result = page.locator(".result-window")
            await result.get_by_text('"totalCount"').wait_for(timeout=20_000)
            text = await result.inner_text()
            # The Explorer plugin is there too, built from the local files.
            await page.wait_for_selector("[aria-label='Show GraphiQL Explorer']", timeout=5_000)
        finally:
            await browser.close()
    assert '"displayName"' in text and "support:" in text
    assert requested and all(url.startswith("http://127.0.0.1:") for url in requested), requested
    assert not [e for e in console_errors if "Failed to load" in e], console_errors


@pytest.mark.browser
async def test_graphiql_offers_example_tabs_and_the_explorer_builds_from_the_schema(demo: Demo) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(demo.graphiql_url, wait_until="load")
            await page.wait_for_selector(".graphiql-execute-button", timeout=20_000)
            tabs = page.locator(".graphiql-tab")
            titles = [t.strip() for t in await tabs.all_inner_texts()]
            await tabs.filter(has_text="FollowMerge").first.click()
            await page.locator(".graphiql-query-editor").get_by_text("survivor").first.wait_for(timeout=10_000)
            await page.click(".graphiql-execute-button")
            result = page.locator(".result-window")
            await result.get_by_text('"survivor"').wait_for(timeout=20_000)
            merged = await result.inner_text()
            # The Explorer lists the schema's root fields, from the local files, offline.
            await page.click("[aria-label='Show GraphiQL Explorer']")
            explorer = page.locator(".graphiql-explorer-root, .docExplorerWrap").first
            await explorer.get_by_text("people").first.wait_for(timeout=10_000)
            explorer_text = await explorer.inner_text()
        finally:
            await browser.close()
    assert {"FirstContacts", "FindPerson", "FollowMerge", "ListAgents", "PageThrough"} <= set(titles), titles
    merging = next(d.name for d in DEMO_BACKENDS if d.merged_example is not None)
    assert f'"mergedIntoId": "{merging}:' in merged
    assert "contacts" in explorer_text and "backends" in explorer_text


async def test_demo_at_size_indexes_its_generated_contacts_and_answers_from_the_index() -> None:
    count = 300
    shares = [generated_share(rank, count) for rank in range(len(DEMO_BACKENDS))]
    # The contacts of "Company 7", as each vendor maps its generated records (some have no company).
    with_company = sum(
        VENDORS[d.vendor].mapper(record, d.name).company == "Company 7"
        for d, share in zip(DEMO_BACKENDS, shares, strict=True)
        for record in d.generated(share)
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "demo", "--port", "0", "--contacts", str(count),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    url = None
    while url is None:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        assert line, "demo exited early"
        url = line.removeprefix("GraphiQL: ").strip() if line.startswith("GraphiQL: ") else None
    try:
        async with httpx.AsyncClient(timeout=20) as client:

            async def ask(query: str) -> dict[str, object]:
                response = await client.post(url, json={"query": query})
                return response.json()  # type: ignore[no-any-return]

            for _ in range(300):
                states = await ask("{ backends { index { state records } } }")
                indexes = [b["index"] for b in states["data"]["backends"]]  # type: ignore[index]
                if all(i["state"] == "SYNCED" for i in indexes):
                    break
                await asyncio.sleep(0.1)
            assert [i["records"] for i in indexes] == [count] * len(DEMO_BACKENDS)
            people = await ask("{ people(first: 5) { totalCount edges { node { contacts { id } } } } }")
            assert "extensions" not in people  # answered by the index
            assert people["data"]["people"]["totalCount"] == shares[-1].stop  # type: ignore[index]
            by_company = await ask('{ contacts(first: 5, filter: {company: "Company 7"}) { totalCount } }')
            assert by_company["data"]["contacts"]["totalCount"] == with_company  # type: ignore[index]
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), timeout=20)
    errors = (await process.stderr.read()).decode()
    assert process.returncode == 0 and "Traceback" not in errors, errors
