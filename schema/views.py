"""How the gateway's own objects are shown as schema types: as themselves, never copied.

Strawberry reads each field of an object type by attribute name from whatever the resolver
returned, so a resolver hands back the model object (a `gateway.model.Contact`, a page, a person)
and the schema type is only its view. A `View` is the one place the typing says so (a cast);
tests/test_schema_views.py proves every cast true: each field of a viewed schema type (and of the
object types it reaches) that has no resolver of its own is an attribute of the model, nullable
only where the schema allows null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from gateway import model
from resolvers.backends import BackendView
from resolvers.contacts import Page
from resolvers.people import Person as PersonModel

if TYPE_CHECKING:
    from schema.people import Person, PersonConnection
    from schema.types import Backend, Contact, ContactConnection, PageInfo

ModelT = TypeVar("ModelT")
ShownT = TypeVar("ShownT")

# Each viewed GraphQL object type, by name, and the model type it reads (a generic page with its
# item type), for the test.
VIEWED: dict[str, Any] = {}


class View(Generic[ModelT, ShownT]):
    """`model_type` shown as the GraphQL object type `graphql_name`, as is."""

    __slots__ = ()

    def __init__(self, model_type: type[ModelT], graphql_name: str) -> None:
        VIEWED[graphql_name] = model_type

    def __call__(self, value: ModelT) -> ShownT:
        return cast("ShownT", value)

    def optional(self, value: ModelT | None) -> ShownT | None:
        return cast("ShownT | None", value)

    def each(self, values: list[ModelT]) -> list[ShownT]:
        return cast("list[ShownT]", values)


CONTACT: View[model.Contact, Contact] = View(model.Contact, "Contact")
CONTACT_PAGE: View[Page[model.Contact], ContactConnection] = View(Page[model.Contact], "ContactConnection")
PERSON: View[PersonModel, Person] = View(PersonModel, "Person")
PERSON_PAGE: View[Page[PersonModel], PersonConnection] = View(Page[PersonModel], "PersonConnection")
PAGE_INFO: View[Page[Any], PageInfo] = View(Page, "PageInfo")
BACKEND: View[BackendView, Backend] = View(BackendView, "Backend")
