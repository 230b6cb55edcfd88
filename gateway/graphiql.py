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
STATIC_PREFIX = "/graphiql/static"

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
    media_type = ASSETS.get(name)
    if media_type is None:
        return None
    body = resources.files(ASSET_PACKAGE).joinpath(*ASSET_DIR, name).read_bytes()
    return Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def page(endpoint: str = "/graphql", tabs: Sequence[Example] | None = None) -> str:
    """The GraphiQL HTML page; every script and style is served by the gateway."""
    css = "".join(f'<link rel="stylesheet" href="{STATIC_PREFIX}/{n}">' for n, t in ASSETS.items() if t == "text/css")
    scripts = "".join(
        f'<script src="{STATIC_PREFIX}/{n}"></script>' for n, t in ASSETS.items() if t == "text/javascript"
    )
    shown = examples() if tabs is None else tabs
    default_query = shown[0].query if shown else DEFAULT_QUERY
    opened = [
        {"query": t.query, "variables": json.dumps(t.variables, indent=2) if t.variables else None} for t in shown
    ]
    settings = json.dumps({"endpoint": endpoint, "defaultQuery": default_query, "tabs": opened}).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>contact-gateway · GraphiQL</title>
<style>html, body, #graphiql {{ height: 100%; margin: 0; overflow: hidden; width: 100%; }}</style>
{css}
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
{scripts}
<script>
(function () {{
  var settings = {settings};
  var fetcher = GraphiQL.createFetcher({{ url: settings.endpoint }});
  var storedKey = "graphiql:query";
  function App() {{
    var initial = window.localStorage.getItem(storedKey) || settings.defaultQuery;
    var state = React.useState(initial);
    var query = state[0], setQuery = state[1];
    var explorer = GraphiQLPluginExplorer.useExplorerPlugin({{
      query: query, onEdit: setQuery, showAttribution: false
    }});
    return React.createElement(GraphiQL, {{
      fetcher: fetcher,
      query: query,
      onEditQuery: setQuery,
      onTabChange: function (tabs) {{ setQuery(tabs.tabs[tabs.activeTabIndex].query || ""); }},
      plugins: [explorer],
      defaultTabs: settings.tabs,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false
    }});
  }}
  ReactDOM.render(React.createElement(App), document.getElementById("graphiql"));
}})();
</script>
</body>
</html>
"""
