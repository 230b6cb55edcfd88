"""GraphiQL served by the gateway itself, with no CDN: analysts may be offline or behind a proxy.

The JavaScript and CSS come from the installed `graphene-django-graphiql-static` package (read
through importlib.resources, nothing copied into this repository); the HTML page around them is
ours and starts GraphiQL with the Explorer plugin and example tabs. The examples here name no
record; the demo passes its own, filled with its sample data (nothing on the serving path imports
the simulators).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from graphql import GraphQLSchema

from gateway import tabular

ASSET_PACKAGE = "graphene_django_graphiql_static"
ASSET_DIR = ("static", "graphene_django_graphiql_static")
ASSETS = {
    "graphiql.min.css": "text/css",
    "style.css": "text/css",
    "react.production.min.js": "text/javascript",
    "react-dom.production.min.js": "text/javascript",
    "graphiql.min.js": "text/javascript",
    "graphiql-plugin-explorer.umd.js": "text/javascript",
}
# Ours: the page's script and its Table plugin (package data of `gateway`, beside this module).
OWN_ASSETS = {"contact-gateway-graphiql.js": "text/javascript"}
OWN_ASSET_DIR = "graphiql_ui"
STATIC_PREFIX = "/graphiql/static"
TABLE_PATH = "/graphiql/table"

DEFAULT_QUERY = """# Welcome to contact-gateway. Press the play button (or Ctrl-Enter) to run a query.
# More examples are in the other tabs; the Explorer (left) builds queries by clicking.
#
# Contact ids are readable: <backend>:<nativeId>. Try contact(id: "...") with one you see below.

query FirstContacts {
  contacts(first: 10) {
    totalCount
    edges {
      node {
        id
        backend
        vendor
        kind
        displayName
        emails
        phones
        identities { type value }
        mergedIntoId
      }
    }
    pageInfo { hasNextPage endCursor }
  }
  backends { name vendor healthy capabilities }
}
"""


@dataclass(frozen=True, slots=True)
class Example:
    """One GraphiQL tab: an operation and the variables it opens with."""

    name: str
    query: str
    variables: Mapping[str, object] = field(default_factory=dict)


FIND_PERSON = """# One person across every vendor: contacts joined by email, phone or external id.
query FindPerson($email: String!) {
  people(filter: {email: $email}, first: 5) {
    edges {
      node {
        id
        displayName
        emails
        phones
        contacts { id backend vendor kind displayName phones externalIds { system value } }
      }
    }
  }
}
"""
FOLLOW_MERGE = """# A Comm100 contact merged into another: followMerges walks to the surviving record.
query FollowMerge($id: ID!) {
  merged: contact(id: $id, followMerges: false) { id displayName mergedIntoId mergedInto { id } }
  survivor: contact(id: $id) { id displayName company emails }
}
"""
LIST_AGENTS = """# Staff rather than customers: MotionCX agents and Genesys users.
query ListAgents {
  contacts(filter: {kinds: [AGENT, USER]}, first: 50) {
    totalCount
    edges { node { id backend kind displayName emails phones alias disabled } }
  }
}
"""
PAGE_THROUGH = """# Relay paging over every backend as one list: copy pageInfo.endCursor into $after.
query PageThrough($after: String) {
  contacts(first: 25, after: $after) {
    edges { cursor node { id backend displayName } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""


def examples(
    person_email: str = "someone@example.com", merged_id: str = "support:<a merged contact's id>"
) -> tuple[Example, ...]:
    """The example tabs; the values name records (put in your own; the demo fills in its own)."""
    return (
        Example("FirstContacts", DEFAULT_QUERY),
        Example("FindPerson", FIND_PERSON, {"email": person_email}),
        Example("FollowMerge", FOLLOW_MERGE, {"id": merged_id}),
        Example("ListAgents", LIST_AGENTS),
        Example("PageThrough", PAGE_THROUGH, {"after": None}),
    )


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@cache
def asset(name: str) -> Asset | None:
    """One GraphiQL file from the installed package, or None when it is not one we serve."""
    if name in OWN_ASSETS:
        media_type = OWN_ASSETS[name]
        body = resources.files("gateway").joinpath(OWN_ASSET_DIR, name).read_bytes()
    elif name in ASSETS:
        media_type = ASSETS[name]
        body = resources.files(ASSET_PACKAGE).joinpath(*ASSET_DIR, name).read_bytes()
    else:
        return None
    return Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def page(endpoint: str = "/graphql", tabs: Sequence[Example] | None = None) -> str:
    """The GraphiQL HTML page; every script and style is served by the gateway."""
    css = "".join(f'<link rel="stylesheet" href="{STATIC_PREFIX}/{n}">' for n, t in ASSETS.items() if t == "text/css")
    scripts = "".join(
        f'<script src="{STATIC_PREFIX}/{n}"></script>'
        for n, t in (*ASSETS.items(), *OWN_ASSETS.items())
        if t == "text/javascript"
    )
    shown = examples() if tabs is None else tabs
    default_query = shown[0].query if shown else DEFAULT_QUERY
    opened = [
        {"query": t.query, "variables": json.dumps(t.variables, indent=2) if t.variables else None} for t in shown
    ]
    settings = {"endpoint": endpoint, "tableEndpoint": TABLE_PATH, "defaultQuery": default_query, "tabs": opened}
    embedded = json.dumps(settings).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>contact-gateway · GraphiQL</title>
<style>
html, body, #graphiql {{ height: 100%; margin: 0; overflow: hidden; width: 100%; }}
.cg-table-panel {{ display: flex; flex-direction: column; height: 100%; }}
.cg-table-bar {{ align-items: center; display: flex; gap: 1em; justify-content: space-between; padding-bottom: .5em; }}
.cg-table-scroll {{ flex: 1; overflow: auto; }}
.cg-table {{ border-collapse: collapse; font-size: 12px; }}
.cg-table th, .cg-table td {{ border: 1px solid hsla(var(--color-neutral), var(--alpha-background-heavy));
  padding: 2px 6px; text-align: left; vertical-align: top; white-space: nowrap; }}
.cg-table th {{ position: sticky; top: 0; background: hsl(var(--color-base)); }}
.cg-table-note {{ padding: .5em 0; }}
.cg-table-error {{ color: hsl(var(--color-error)); }}
</style>
{css}
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="graphiql-settings" type="application/json">{embedded}</script>
{scripts}
</body>
</html>
"""


# The Table plugin posts the last answer here; the layout is `contact-gateway query`'s.
MAX_TABLE_REQUEST_BYTES = 32 * 1024 * 1024


def table_view(schema: GraphQLSchema, payload: Any) -> tuple[int, dict[str, Any]]:
    """`{query, operationName, data}` laid out as `{columns, rows, csv}` (status 200), or
    `{error}` (status 400) when the query cannot be laid out."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return 400, {"error": "expected a JSON object with the query and the data it answered"}
    name = payload.get("operationName")
    document, problems = tabular.check_document(schema, payload["query"])
    if problems or document is None:
        return 400, {"error": "the query does not validate: " + "; ".join(p.message for p in problems)}
    try:
        plan = tabular.plan_table(schema, document, name if isinstance(name, str) else None)
    except tabular.TableError as exc:
        return 400, {"error": str(exc)}
    rows = tabular.table_rows(plan, payload.get("data"))
    return 200, {"columns": [c.name for c in plan.columns], "rows": rows, "csv": tabular.to_csv(plan.columns, rows)}
