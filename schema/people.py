"""GraphQL types for `people`: one person across vendors, and its pages."""

from __future__ import annotations

from typing import Any

import strawberry

from resolvers import people
from resolvers.contacts import Page
from schema.types import Contact, Node, PageInfo
from schema.views import PAGE_INFO


@strawberry.type(
    description=(
        "One person across vendors: contacts joined because they share a normalised email, an "
        "E.164 phone or an external id (transitively). Never joined on a name alone."
    )
)
class Person(Node):
    id: strawberry.ID = strawberry.field(
        description="`person~<contact id>` of its first contact in configured backend order; stable while it exists."
    )
    display_name: str | None = strawberry.field(description="The first display name among its contacts.")
    emails: list[str] = strawberry.field(description="Its distinct emails (compared case-folded).")
    phones: list[str] = strawberry.field(description="Its distinct phones, in E.164.")
    contacts: list[Contact] = strawberry.field(description="Its contacts in every backend, in configured order.")

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, people.Person | cls)


@strawberry.type(description="One person in a page, with its cursor.")
class PersonEdge:
    cursor: str = strawberry.field(description="Opaque position; pass it as `after`.")
    node: Person = strawberry.field(description="The person.")


@strawberry.type(description="A page of people.")
class PersonConnection:
    edges: list[PersonEdge] = strawberry.field(description="The people of this page.")
    total_count: int | None = strawberry.field(description="People matching the filter.")

    @strawberry.field(description="Where this page stands.")
    def page_info(self, root: strawberry.Parent[Page[Any]]) -> PageInfo:
        return PAGE_INFO(root)
