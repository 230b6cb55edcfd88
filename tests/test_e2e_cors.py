"""CORS from a real browser: a page on another loopback origin calls the gateway with fetch().
A configured origin gets the answer; an unlisted one is refused by Chromium itself."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import async_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.serving import bind, make_server
from gateway.simulators.common import SimulatorTransport
from tests.conftest import demo_backend_settings, settings_for
from tests.services import CHROMIUM_ARGS, chromium, serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = """<!DOCTYPE html><html><body><pre id="out">pending</pre><script>
fetch("%s", {method: "POST", headers: {"content-type": "application/json", "authorization": "Bearer frontend-key-123"},
             body: JSON.stringify({query: "{ backends { name } }"})})
  .then(r => r.json()).then(j => { document.getElementById("out").textContent = "ok " + JSON.stringify(j); })
  .catch(e => { document.getElementById("out").textContent = "blocked " + e; });
</script></body></html>"""


def page_app(graphql_url: str) -> Starlette:
    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE % graphql_url)

    return Starlette(routes=[Route("/", index)])


async def test_configured_origin_succeeds_and_unlisted_origin_is_refused() -> None:
    executable = chromium()
    allowed_sock = bind("127.0.0.1", 0)  # reserve the allowed origin's port before configuring CORS
    allowed_origin = f"http://127.0.0.1:{allowed_sock.getsockname()[1]}"
    sims, configs = demo_backend_settings(["support"])
    gateway = create_app(
        settings_for(
            configs,
            server={"cors": {"allow_origins": [allowed_origin], "allow_headers": ["authorization", "content-type"]}},
            auth={"api_keys": [{"name": "frontend", "key": "frontend-key-123"}]},
        ),
        transports={n: SimulatorTransport(app=s.app) for n, s in sims.items()},
    )
    async with serving(gateway) as gateway_root:
        graphql_url = gateway_root + "/graphql"
        allowed_server = make_server(page_app(graphql_url))
        allowed_task = asyncio.create_task(allowed_server.serve(sockets=[allowed_sock]))
        while not allowed_server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        try:
            async with serving(page_app(graphql_url)) as other_origin, async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                try:
                    results = {}
                    for origin in (allowed_origin, other_origin):
                        page = await browser.new_page()
                        await page.goto(origin + "/")
                        await page.wait_for_function("document.getElementById('out').textContent !== 'pending'")
                        results[origin] = await page.inner_text("#out")
                        await page.close()
                finally:
                    await browser.close()
        finally:
            allowed_server.should_exit = True
            await allowed_task
    assert results[allowed_origin].startswith('ok {"data":{"backends":[{"name":"support"}]}}')
    assert results[other_origin].startswith("blocked TypeError")
    await gateway.state.gateway.aclose()
