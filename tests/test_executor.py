"""Plain fields read in one step (gateway/executor.py) answer exactly what graphql-core's
general path answers: the same data, and the same errors at the same paths when a value is out of
the ordinary (null in a non-null field, a value its type refuses, an attribute that raises).

Each case executes one document over the same objects twice, with the gateway's executor and with
strawberry's own, and compares the whole response.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import ExecutionResult, GraphQLSchema, parse
from graphql.execution import ExperimentalIncrementalExecutionResults, experimental_execute_incrementally
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.backends.comm100 import to_contact
from gateway.config import ServerSettings
from gateway.model import Contact
from gateway.simulators.comm100 import sample_records
from resolvers.contacts import Edge, Page
from resolvers.cursor import Cursor
from schema import build_schema

FIELDS = """
  id backend nativeId kind displayName firstName lastName company title emails disabled
  createdAt updatedAt mergedIntoId vendor
"""
DOCUMENTS = {
    "page": f"{{ contacts(first: 10) {{ totalCount edges {{ node {{ {FIELDS} }} }} }} }}",
    "aliases and typename": (
        "{ contacts(first: 10) { edges { node { first: firstName again: firstName __typename id kind } } } }"
    ),
    "skip and include": (
        "query($no: Boolean = false) { contacts(first: 10) { edges { node {"
        " id firstName @include(if: $no) lastName @skip(if: $no) emails } } } }"
    ),
    "fragments": (
        "{ contacts(first: 10) { edges { node { ...Names ... on Contact { emails } } } } }"
        " fragment Names on Contact { displayName firstName lastName }"
    ),
    "defer": "{ contacts(first: 10) { edges { node { id ... @defer { firstName emails company } } } } }",
    "one": f'{{ contact(id: "x") {{ {FIELDS} }} }}',
    "objects in objects": (
        '{ contact(id: "x") { id address { city country } identities { type value } } '
        "contacts(first: 10) { edges { cursor node { address { city } identities { value } } } } }"
    ),
    "streamed edges": "{ contacts(first: 10) { edges @stream(initialCount: 1) { cursor node { id } } } }",
    "deferred edges": "{ contacts(first: 10) { ... @defer { edges { node { id firstName } } } } }",
}


def sample() -> Contact:
    record = next(r for r in sample_records() if r.get("contactIdentities"))
    return to_contact(record, "support")


def odd_contacts() -> Iterator[tuple[str, Contact]]:
    good = sample()
    yield "ordinary", good
    yield "null in a non-null field", dataclasses.replace(good, backend=None)  # type: ignore[arg-type]
    yield "a number in a String field", dataclasses.replace(good, first_name=5)  # type: ignore[arg-type]
    yield "an object in a String field", dataclasses.replace(good, company=object())  # type: ignore[arg-type]
    yield "a value outside the enum", dataclasses.replace(good, kind="NOPE")  # type: ignore[arg-type]
    yield "a text in a Boolean field", dataclasses.replace(good, disabled="yes")  # type: ignore[arg-type]
    yield "a text in a DateTime field", dataclasses.replace(good, created_at="noon")  # type: ignore[arg-type]
    yield "an address that is not one", dataclasses.replace(good, address="somewhere")  # type: ignore[arg-type]
    yield "identities not a list", dataclasses.replace(good, identities=None)  # type: ignore[arg-type]
    yield "not a contact", object()  # type: ignore[misc]
    # `emails` is a property of the model (each email once): these make it raise
    yield "null among emails", dataclasses.replace(good, emails=["a@x.example", None])  # type: ignore[list-item]
    yield "emails not a list", dataclasses.replace(good, emails=None)  # type: ignore[arg-type]


CASES = list(odd_contacts())
# Cases FIELDS shows without an error: a number is a valid String; it selects no object fields.
UNSEEN_IN_FIELDS = {"a number in a String field", "an address that is not one", "identities not a list"}


def schema_over(contacts: list[Contact], one: Contact) -> GraphQLSchema:
    """The gateway's schema with its root fields answering `contacts` and `one` (a fresh schema:
    the patch stays in this test)."""
    built = build_schema()._schema
    assert built.query_type is not None
    page = Page([Edge(Cursor("support", str(n)), "f", c) for n, c in enumerate(contacts)], False, False, len(contacts))
    built.query_type.fields["contacts"].resolve = lambda *_, **__: page
    built.query_type.fields["contact"].resolve = lambda *_, **__: one
    return built


async def formatted(schema: GraphQLSchema, document: str, executor: type[StrawberryGraphQLCoreExecutionContext]) -> Any:
    context = SimpleNamespace(gateway=SimpleNamespace(settings=SimpleNamespace(server=ServerSettings())))
    result = experimental_execute_incrementally(schema, parse(document), context_value=context, executor_class=executor)
    if not isinstance(result, ExecutionResult | ExperimentalIncrementalExecutionResults):
        result = await result
    if isinstance(result, ExecutionResult):
        return result.formatted
    return [result.initial_result.formatted, *[part.formatted async for part in result.subsequent_results]]


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
@pytest.mark.parametrize(("case", "contact"), CASES, ids=[c for c, _ in CASES])
async def test_plain_fields_answer_as_the_general_path(document: str, case: str, contact: Contact) -> None:
    # the odd contact among ordinary ones: an error costs only its own entry
    schema = schema_over([sample(), contact, sample()], contact)
    ours = await formatted(schema, document, build_schema().executor)
    general = await formatted(schema, document, StrawberryGraphQLCoreExecutionContext)
    assert ours == general
    if case == "ordinary":
        assert "errors" not in str(ours)
    elif document in (DOCUMENTS["page"], DOCUMENTS["one"]) and case not in UNSEEN_IN_FIELDS:
        assert "errors" in str(ours)


def test_a_contacts_own_fields_are_read_in_one_step() -> None:
    """What makes a 1,000-contact page cheap: every field of Contact without arguments or a
    resolver of its own (emails included: the model shows them distinct) is plain."""
    readers = build_schema().executor.readers
    assert {"id", "backend", "kind", "displayName", "firstName", "emails", "createdAt", "mergedIntoId"} <= set(
        readers["Contact"]
    )
    assert "phones" not in readers["Contact"]  # it needs the configured region: a resolver


async def test_a_pages_edges_are_read_in_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """The edges of a page, their cursors and nodes, cost no resolve info each: only the fields
    with resolvers of their own (contacts, totalCount) take graphql-core's general path."""
    built: list[str] = []
    general = StrawberryGraphQLCoreExecutionContext.build_resolve_info

    def counted(self: Any, field_def: Any, *args: Any) -> Any:
        info = general(self, field_def, *args)
        built.append(info.field_name)
        return info

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "build_resolve_info", counted)
    schema = schema_over([sample() for _ in range(50)], sample())
    document = "{ contacts(first: 50) { totalCount edges { cursor node { id displayName address { city } } } } }"
    ours = await formatted(schema, document, build_schema().executor)
    assert len(ours["data"]["contacts"]["edges"]) == 50
    assert sorted(built) == ["contacts", "totalCount"]
    built.clear()
    assert await formatted(schema, document, StrawberryGraphQLCoreExecutionContext) == ours
    assert len(built) > 50  # the general path: a resolve info per edge and node at least
