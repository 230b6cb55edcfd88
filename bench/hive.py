"""Hive Gateway, the Node peer of issue 19, from npm: installed at pinned versions into a cache
directory outside the repository, composed over an OpenAPI description by GraphQL Mesh's
`mesh-compose`, and served by `hive-gateway` on loopback. Nothing of theirs is kept in the repository:
the packages, the description, the composed supergraph and the gateway's config all live in the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.servers import Running, serving
from gateway.simulators import agentvoice

# Exact versions, so every run measures the same peer (2.15.1 is the version in issue 19's figures).
NPM_PACKAGES = {
    "@graphql-hive/gateway": "2.15.1",
    "@graphql-mesh/compose-cli": "1.8.2",
    "@omnigraph/openapi": "0.112.4",
    "@graphql-mesh/transport-rest": "0.12.2",  # hive-gateway loads it for the "rest" subgraph
}
HIVE_BIN = "node_modules/@graphql-hive/gateway/dist/bin.js"
COMPOSE_BIN = "node_modules/@graphql-mesh/compose-cli/esm/bin.js"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "contact-gateway" / "bench-peers"


def install(directory: Path) -> None:
    """The pinned npm packages in `directory`, installed once (again only when the pins change)."""
    manifest = json.dumps({"private": True, "dependencies": NPM_PACKAGES}, indent=2) + "\n"
    package_json = directory / "package.json"
    installed = (directory / HIVE_BIN).exists() and (directory / COMPOSE_BIN).exists()
    if installed and package_json.exists() and package_json.read_text() == manifest:
        return
    directory.mkdir(parents=True, exist_ok=True)
    package_json.write_text(manifest)
    print(f"bench: installing Hive Gateway {NPM_PACKAGES['@graphql-hive/gateway']} into {directory}", file=sys.stderr)
    # No install scripts: none of these packages needs one to run (protobufjs's only prints a notice).
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=directory,
        check=True,
        timeout=900,
    )


def openapi_description(root: str) -> dict[str, Any]:
    """AgentVoice's one-contact read as OpenAPI 3, the shape the simulator (and the vendor) answers."""
    text = {"type": "string"}
    optional = {"type": "string", "nullable": True}
    contact = {
        "type": "object",
        "properties": {
            "id": text,
            "user_id": text,
            "first_name": optional,
            "last_name": optional,
            "email": optional,
            "phone": optional,
            "company": optional,
            "created_at": text,
            "updated_at": text,
            "last_task_run": optional,
            "total_tasks_run": {"type": "integer"},
            "organization_id": text,
            "crm_id": optional,
            "crm_source": optional,
        },
    }
    schema = {"$ref": "#/components/schemas/Contact"}
    answer = {"description": "The contact", "content": {"application/json": {"schema": schema}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "AgentVoice contacts", "version": "1"},
        "servers": [{"url": root + agentvoice.PREFIX}],
        "paths": {
            "/contacts/{id}": {
                "get": {
                    "operationId": "contact",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": text}],
                    "responses": {"200": answer},
                }
            }
        },
        "components": {"schemas": {"Contact": contact}},
    }


def compose(tools: Path, work: Path, root: str) -> Path:
    """A supergraph of the simulator at `root`, composed by mesh-compose in `work`, a directory under
    the tools directory (the config's imports resolve from its node_modules). Returns its path."""
    description = work / "agentvoice.openapi.json"
    description.write_text(json.dumps(openapi_description(root), indent=2))
    headers = {"x-api-key": agentvoice.DEMO_API_KEY, "x-organization-id": agentvoice.DEMO_ORGANIZATION_ID}
    (work / "mesh.config.mjs").write_text(
        "import { defineConfig } from '@graphql-mesh/compose-cli'\n"
        "import { loadOpenAPISubgraph } from '@omnigraph/openapi'\n"
        "export const composeConfig = defineConfig({\n"
        "  subgraphs: [{ sourceHandler: loadOpenAPISubgraph('agentvoice', {\n"
        f"    source: {json.dumps(str(description))},\n"
        f"    operationHeaders: {json.dumps(headers)},\n"
        "  }) }],\n"
        "})\n"
    )
    supergraph = work / "supergraph.graphql"
    composed = subprocess.run(
        ["node", str(tools / COMPOSE_BIN), "-c", "mesh.config.mjs", "-o", supergraph.name],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if composed.returncode != 0:
        raise RuntimeError(f"mesh-compose failed: {(composed.stderr or composed.stdout)[-1500:]}")
    return supergraph


@contextmanager
def hive_gateway(tools: Path, supergraph: Path, response_cache: bool) -> Iterator[Running]:
    """`hive-gateway` serving the supergraph in one process, with or without its response cache."""
    config = supergraph.parent / ("gateway-cached.config.mjs" if response_cache else "gateway.config.mjs")
    # One cache entry for everyone (no session), for 60 s like the gateway's default cache.ttl_s.
    options = "{ responseCaching: { session: () => null, ttl: 60000 } }" if response_cache else "{}"
    config.write_text(f"export const gatewayConfig = {options}\n")
    command = ["node", str(tools / HIVE_BIN), "supergraph", str(supergraph), "-c", str(config)]
    command += ["--host", "127.0.0.1", "--fork", "1", "--port"]
    with serving(command, env={**os.environ, "NODE_ENV": "production"}) as running:
        yield running
