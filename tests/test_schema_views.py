"""The casts in schema/views.py are true: a resolver returns the model object and Strawberry reads
the schema type's fields from it by name, so every field without a resolver of its own must be an
attribute of the model (a property counts), a list where the schema has a list, and never null
where the schema says non-null; object types reached through such fields are checked the same way.
"""

from __future__ import annotations

import types
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import graphql
from strawberry.types.base import (
    StrawberryList,
    StrawberryObjectDefinition,
    StrawberryOptional,
    has_object_definition,
)

from gateway import model
from schema.views import VIEWED
from tests.conftest import SCHEMA

# Object types a resolver builds itself rather than viewing a model object.
BUILT_BY_RESOLVERS = {"PhoneNumber"}


def attribute_hints(model_type: Any) -> dict[str, Any]:
    """The type of every attribute of `model_type` (dataclass fields and properties), with a
    generic model's type parameters replaced by its arguments (`Page[Contact]`)."""
    origin = get_origin(model_type) or model_type
    hints = get_type_hints(origin)
    for name, member in vars(origin).items():
        if isinstance(member, property) and member.fget is not None:
            hints[name] = get_type_hints(member.fget)["return"]
    given = dict(zip(getattr(origin, "__parameters__", ()), get_args(model_type), strict=False))

    def substituted(hint: Any) -> Any:
        if isinstance(hint, TypeVar):
            return given.get(hint, Any)
        parameters = getattr(hint, "__parameters__", ())
        return hint[tuple(given.get(p, Any) for p in parameters)] if parameters else hint

    return {name: substituted(hint) for name, hint in hints.items()}


def without_none(hint: Any) -> tuple[Any, bool]:
    """`hint` without None, and whether it allowed None."""
    if get_origin(hint) in (Union, types.UnionType):
        rest = [a for a in get_args(hint) if a is not type(None)]
        allowed = len(rest) < len(get_args(hint))
        return (rest[0] if len(rest) == 1 else Union[tuple(rest)]), allowed  # noqa: UP007
    return hint, hint is Any


def problems(graphql_name: str, model_type: Any, checked: set[str] | None = None) -> list[str]:
    """Every way the schema type `graphql_name` is not a true view of `model_type`."""
    checked = set() if checked is None else checked
    if graphql_name in checked:
        return []
    checked.add(graphql_name)
    definition = SCHEMA.get_type_by_name(graphql_name)
    assert isinstance(definition, StrawberryObjectDefinition), graphql_name
    hints = attribute_hints(model_type)
    found: list[str] = []
    for field in definition.fields:
        if field.base_resolver is not None:
            continue  # reads the model itself (mypy checks it through strawberry.Parent)
        where = f"{graphql_name}.{field.python_name} on {model_type}"
        if field.python_name not in hints:
            found.append(f"{where}: no such attribute")
            continue
        hint, nullable = without_none(hints[field.python_name])
        shown: Any = field.type
        if isinstance(shown, StrawberryOptional):
            shown = shown.of_type
        elif nullable:
            found.append(f"{where}: may be None, the schema says non-null")
        if isinstance(shown, StrawberryList):
            if get_origin(hint) is not list:
                found.append(f"{where}: not a list")
                continue
            shown, hint = shown.of_type, without_none(get_args(hint)[0])[0]
        if isinstance(shown, type) and has_object_definition(shown):
            found += problems(shown.__strawberry_definition__.name, hint, checked)
    return found


def test_every_viewed_schema_type_reads_true_attributes_of_its_model() -> None:
    checked: set[str] = set()
    found = [p for name, model_type in VIEWED.items() for p in problems(name, model_type, checked)]
    assert found == []
    # Every object type of the schema is a view (or reached through one), except the roots and
    # the types a resolver builds itself.
    objects = {
        name
        for name, kind in graphql.build_schema(SCHEMA.as_str()).type_map.items()
        if isinstance(kind, graphql.GraphQLObjectType) and not name.startswith("__")
    }
    assert objects - checked == {"Query", "Mutation", *BUILT_BY_RESOLVERS}


def test_a_view_of_the_wrong_model_is_caught() -> None:
    found = problems("Contact", model.Address)
    assert "Contact.native_id on <class 'gateway.model.Address'>: no such attribute" in found
