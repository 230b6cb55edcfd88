"""The example queries GraphiQL opens with run cleanly against the demo's backends."""

from __future__ import annotations

import pytest

from gateway.graphiql import EXAMPLES
from tests.conftest import Harness


@pytest.mark.parametrize(("name", "query", "variables"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
async def test_every_example_runs_without_errors(
    harness: Harness, name: str, query: str, variables: dict[str, object]
) -> None:
    result = await harness.run(query, dict(variables), operation_name=name)
    assert "errors" not in result, result.get("errors")
    assert result["data"] and all(value for value in result["data"].values())


async def test_the_examples_show_what_they_promise(harness: Harness) -> None:
    by_name = {name: (query, variables) for name, query, variables in EXAMPLES}
    person = await harness.run(*by_name["FindPerson"])
    [edge] = person["data"]["people"]["edges"]
    assert len({c["backend"] for c in edge["node"]["contacts"]}) == 4  # one person, four vendors
    merge = await harness.run(*by_name["FollowMerge"])
    assert merge["data"]["merged"]["mergedIntoId"] is not None
    assert merge["data"]["survivor"]["id"] != merge["data"]["merged"]["id"]
    agents = await harness.run(*by_name["ListAgents"])
    kinds = {e["node"]["kind"] for e in agents["data"]["contacts"]["edges"]}
    assert kinds == {"AGENT", "USER"}
