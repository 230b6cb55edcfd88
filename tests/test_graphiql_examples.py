"""GraphiQL's example tabs: the demo's run cleanly against its backends; the served ones name no
demo record, and serving the gateway loads no simulator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway import graphiql
from gateway.demo import DEMO_PERSON, graphiql_tabs
from gateway.simulators.registry import DEMO_BACKENDS
from tests.conftest import Harness

DEMO_TABS = graphiql_tabs()


@pytest.mark.parametrize("tab", DEMO_TABS, ids=[t.name for t in DEMO_TABS])
async def test_every_demo_example_runs_without_errors(harness: Harness, tab: graphiql.Example) -> None:
    result = await harness.run(tab.query, dict(tab.variables), operation_name=tab.name)
    assert "errors" not in result, result.get("errors")
    assert result["data"] and all(value for value in result["data"].values())


async def test_the_demo_examples_show_what_they_promise(harness: Harness) -> None:
    by_name = {tab.name: (tab.query, dict(tab.variables)) for tab in DEMO_TABS}
    person = await harness.run(*by_name["FindPerson"])
    [edge] = person["data"]["people"]["edges"]
    # One person, in every vendor whose sample data holds them.
    assert {c["backend"] for c in edge["node"]["contacts"]} == {
        d.name for d in DEMO_BACKENDS if DEMO_PERSON in d.customers
    }
    merge = await harness.run(*by_name["FollowMerge"])
    assert merge["data"]["merged"]["mergedIntoId"] is not None
    assert merge["data"]["survivor"]["id"] != merge["data"]["merged"]["id"]
    agents = await harness.run(*by_name["ListAgents"])
    kinds = {e["node"]["kind"] for e in agents["data"]["contacts"]["edges"]}
    assert kinds == {"AGENT", "USER"}


def test_the_served_page_names_no_demo_record() -> None:
    served = graphiql.page()
    assert [t.name for t in graphiql.examples()] == [t.name for t in DEMO_TABS]
    for tab in DEMO_TABS:
        for value in tab.variables.values():
            if value:
                assert str(value) not in served


def test_serving_the_gateway_imports_no_simulator() -> None:
    code = (
        "import sys, gateway.app, gateway.graphql_http, gateway.graphiql, gateway.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('gateway.simulators')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
