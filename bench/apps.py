"""The baselines the gateway is measured against, each served by the same uvicorn settings.

- `starlette`: a plain Starlette handler returning a fixed JSON body (the HTTP stack alone);
- `strawberry`: a bare Strawberry app returning the same contact from memory, with defaults;
- `strawberry-cached`: the same with Strawberry's ParserCache and ValidationCache.

Run one: `python -m bench.apps starlette 18002`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

import orjson
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from gateway.serving import bind, make_server, serve_all
from gateway.simulators.registry import DEMO_BACKENDS

CONTACT = {
    "id": "support:ce690833-d5ea-5fb6-8a0e-8ce78001eb1e",
    "displayName": "Noah Dubois",
    "firstName": "Noah",
    "lastName": "Dubois",
    "emails": ["noah.dubois@initech.example"],
    "phones": ["(206) 555-0002"],
    "company": "Initech",
    "title": "CTO",
    "kind": "PERSON",
    "backend": "support",
    "vendor": "COMM100",
}


@strawberry.type
class Contact:
    id: strawberry.ID
    display_name: str | None
    first_name: str | None
    last_name: str | None
    emails: list[str]
    phones: list[str]
    company: str | None
    title: str | None
    kind: str
    backend: str
    vendor: str


STORED = Contact(
    id=strawberry.ID(CONTACT["id"]),  # type: ignore[arg-type]
    display_name="Noah Dubois",
    first_name="Noah",
    last_name="Dubois",
    emails=["noah.dubois@initech.example"],
    phones=["(206) 555-0002"],
    company="Initech",
    title="CTO",
    kind="PERSON",
    backend="support",
    vendor="COMM100",
)


@strawberry.type
class Query:
    @strawberry.field
    def contact(self, id: strawberry.ID) -> Contact | None:
        return STORED if id == STORED.id else None


def strawberry_app(cached: bool) -> ASGIApp:
    """Strawberry's own ASGI app, routed by Starlette like the gateway (which also owns lifespan)."""
    extensions = [ParserCache, ValidationCache] if cached else []
    schema = strawberry.Schema(query=Query, extensions=extensions)
    graphql: ASGIApp = GraphQL(schema, graphql_ide=None)
    return Starlette(routes=[Route("/graphql", graphql, methods=["GET", "POST"])])


def starlette_app() -> ASGIApp:
    body = orjson.dumps({"data": {"contact": CONTACT}})

    async def graphql(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


APPS: dict[str, Callable[[], ASGIApp]] = {
    "starlette": starlette_app,
    "strawberry": lambda: strawberry_app(cached=False),
    "strawberry-cached": lambda: strawberry_app(cached=True),
}


def simulator_app(spec: str) -> ASGIApp:
    """`sim:<demo backend>:<latency s>`: one demo vendor simulator in a process of its own, so
    four of them answer side by side as four real vendors would."""
    _, name, latency = spec.split(":")
    demo = next(d for d in DEMO_BACKENDS if d.name == name)
    sim = demo.make()
    sim.state.latency_s = float(latency)
    return sim.app


def main(argv: list[str]) -> int:
    name, port = argv[0], int(argv[1])
    sock = bind("127.0.0.1", port)
    app = simulator_app(name) if name.startswith("sim:") else APPS[name]()
    asyncio.run(serve_all([(make_server(app), sock)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
