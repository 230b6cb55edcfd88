"""The Starlette app: `/graphql` (and GraphiQL), `/healthz`, `/readyz`, GraphiQL's static files."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway import graphiql, logs
from gateway.config import GatewaySettings
from gateway.graphql_http import GraphQLEndpoint
from gateway.metrics import CONTENT_TYPE
from gateway.runtime import Gateway
from schema import build_schema

# How long shutting down waits for the index's background sync to stop.
SYNC_STOP_S = 5.0
log = logging.getLogger("gateway.app")


GRAPHQL_PATH = "/graphql"


class GatewayApp(Starlette):
    """Starlette, with `/graphql` GETs and POSTs handed from the server straight to the GraphQL
    endpoint (behind CORS when configured): its answers are the gateway's hot path, and Starlette's
    error and exception middlewares, router and request-response wrapper each cost a call per ASGI
    message with nothing to do for it (the endpoint answers its own errors as they would, with a
    bare 500). Every other request, and `/graphql` under a root path or with another method, takes
    the usual way, where the router holds the same endpoint."""

    graphql: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == GRAPHQL_PATH
            and scope["method"] in ("POST", "GET")
            and not scope.get("root_path")
        ):
            scope["app"] = self
            await self.graphql(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: GatewaySettings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    graphiql_tabs: Sequence[graphiql.Example] | None = None,
) -> GatewayApp:
    """Build the app; `transports` routes backends to in-process simulators (tests, demo), and
    `graphiql_tabs` replaces GraphiQL's example tabs (the demo's name its sample records)."""
    gateway = Gateway.from_settings(settings, transports=transports)
    logs.redact_secrets(settings.secrets())
    schema = build_schema(settings.server)
    endpoint = GraphQLEndpoint(schema, gateway, graphiql_tabs)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def operator_only(request: Request) -> Response | None:
        """/metrics and /readyz name the backends and their errors: with server.metrics_api_key
        set, only a caller presenting it may read them."""
        wanted = settings.server.metrics_api_key
        if wanted is None:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), wanted.get_secret_value().encode()
        ):
            return None
        return Response(
            "this endpoint needs Authorization: Bearer <server.metrics_api_key>\n",
            status_code=401,
            media_type="text/plain",
            headers={"www-authenticate": 'Bearer realm="contact-gateway-operator"'},
        )

    async def readyz(request: Request) -> Response:
        refused = operator_only(request)
        if refused is not None:
            return refused
        backends = {name: {"healthy": b.healthy, "lastError": b.last_error} for name, b in gateway.backends.items()}
        ready = all(b["healthy"] for b in backends.values())
        return JSONResponse(
            {"status": "ready" if ready else "degraded", "backends": backends},
            status_code=200 if ready else 503,
        )

    async def static(request: Request) -> Response:
        found = graphiql.asset(request.path_params["name"]) if settings.server.graphiql else None
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers={"etag": found.etag})
        return Response(
            found.body,
            media_type=found.media_type,
            headers={"etag": found.etag, "cache-control": "public, max-age=86400"},
        )

    async def graphiql_table(request: Request) -> Response:
        if not settings.server.graphiql:
            return Response("not found", status_code=404, media_type="text/plain")
        body = await request.body()
        if len(body) > graphiql.MAX_TABLE_REQUEST_BYTES:
            return JSONResponse({"error": "the answer is too large to lay out here"}, status_code=413)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return JSONResponse({"error": "the request is not JSON"}, status_code=400)
        status, table = graphiql.table_view(schema._schema, payload)
        return JSONResponse(table, status_code=status)

    async def metrics(request: Request) -> Response:
        refused = operator_only(request)
        if refused is not None:
            return refused
        return Response(gateway.metrics.render(), media_type=CONTENT_TYPE)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask; an empty answer beats a 404 in the console

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The index fills in the background (first round now, then every index.refresh_s);
        # until a backend's first pass completes, queries on it are answered live.
        syncing = asyncio.create_task(gateway.sync.run_forever()) if gateway.sync is not None else None
        try:
            yield
        finally:
            if syncing is not None:
                # A pass stopped mid-way resumes at its page next time; shutting down never waits
                # on it for long (a database call may not notice the cancellation at once).
                syncing.cancel()
                await asyncio.wait({syncing}, timeout=SYNC_STOP_S)
                if not syncing.done():
                    log.warning("index: the sync did not stop within %g s; shutting down anyway", SYNC_STOP_S)
            await gateway.aclose()

    app = GatewayApp(
        routes=[
            Route(GRAPHQL_PATH, endpoint, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route(graphiql.STATIC_PREFIX + "/{name}", static, methods=["GET"]),
            Route(graphiql.TABLE_PATH, graphiql_table, methods=["POST"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/favicon.ico", favicon, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.graphql = endpoint
    cors = settings.server.cors
    if cors.allow_origins:  # off unless origins are configured
        options: dict[str, Any] = {
            "allow_origins": cors.allow_origins,
            "allow_methods": cors.allow_methods,
            "allow_headers": cors.allow_headers,
            "allow_credentials": cors.allow_credentials,
            "max_age": cors.max_age,
            "expose_headers": ["x-request-id", "etag"],
        }
        app.add_middleware(CORSMiddleware, **options)
        app.graphql = CORSMiddleware(endpoint, **options)
    app.state.gateway = gateway
    app.state.schema = schema
    return app


CONFIG_ENV = "CONTACT_GATEWAY_CONFIG"
LOG_FORMAT_ENV = "CONTACT_GATEWAY_LOG_FORMAT"


def app_from_environment() -> GatewayApp:
    """The app of one `serve --workers N` worker: config path and log format come from the
    environment the parent set (the parent validated the config before starting any worker)."""
    import os

    from gateway import logs
    from gateway.backends.registry import settings_models
    from gateway.config import load_config
    from gateway.serving import settle_heap

    logs.configure(os.environ.get(LOG_FORMAT_ENV, "text"))
    app = create_app(load_config(os.environ[CONFIG_ENV], settings_models()))
    settle_heap()
    return app
