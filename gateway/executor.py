"""The executor the gateway runs operations with: graphql-core's, as strawberry configures it,
with two changes that matter at scale.

Plain fields are read in one step. Most of what a contact shows is a plain attribute of the model
object its resolver returned (`schema/views.py`): `firstName` is `contact.first_name`, a String.
graphql-core runs every such field the general way all the same: it builds a resolve-info object,
calls strawberry's default resolver through two wrappers, asks whether the result is awaitable,
and walks the type's wrappers to coerce it. For a page of 1,000 contacts that was most of the
execution time, for no gain: the answer is the attribute, coerced by its type. Here such a field
is the attribute, coerced by the same `coerce_output_value` the executor calls, and an object whose
selected fields are all plain is read straight into its result. Anything out of the ordinary on
the way (null where the type says non-null, a value the type refuses, an attribute that raises)
goes the general way instead, which reports it exactly as it always has: the answer is the same
either way, errors included. A field is plain when strawberry built it without a resolver,
extensions or arguments and reads it with the default resolver (`getattr`), and its type is a
scalar or enum, or a list of them, nullable or not. A field of an object type (or a list of one) is
plain too when it is read that way and what it selects is plain in turn: a page's
`edges { cursor node { id displayName } }` is read edge by edge in one step. Such a field is read
so only outside @defer and @stream, where graphql-core decides what goes in which part.

What a request built goes with its response (`GatewayExecutor._released`), by reference counting,
not by a later pass of the garbage collector.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, ClassVar, cast

from graphql import (
    ExecutionResult,
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    Undefined,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# What a reader returns when the general path must answer (it then also reports any error).
GENERAL = object()

# Given to an object type's is_type_of where a plain read has no resolve info to hand: the
# schema's checks read only the value; one that needs the info raises, and the general path answers.
NO_INFO: Any = None

Reader = Callable[[Any], Any]
# The readers of a selection's fields, by response name; empty when some field is not plain.
Plan = tuple[tuple[str, Reader], ...]


def _completer(output: GraphQLOutputType, named: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """How a value of `output` is completed when nothing is wrong with it, returning GENERAL
    when something is; `named` completes a value of the named type inside, not null."""
    non_null = isinstance(output, GraphQLNonNull)
    inner = output.of_type if isinstance(output, GraphQLNonNull) else output
    if isinstance(inner, GraphQLList):
        item = _completer(inner.of_type, named)

        def complete_list(value: Any) -> Any:
            if value is None:
                return GENERAL if non_null else None
            if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
                return GENERAL
            completed = [item(entry) for entry in value]
            return GENERAL if any(entry is GENERAL for entry in completed) else completed

        return complete_list

    def complete_named(value: Any) -> Any:
        if value is None:
            return GENERAL if non_null else None
        return named(value)

    return complete_named


def _leaf(leaf: GraphQLLeafType) -> Callable[[Any], Any]:
    coerce = _coerce(leaf)

    def complete_leaf(value: Any) -> Any:
        coerced = coerce(value)
        return GENERAL if coerced is None or coerced is Undefined else coerced

    return complete_leaf


def _coerce(leaf: GraphQLLeafType) -> Callable[[Any], Any]:
    coerce_output_value: Callable[[Any], Any] = leaf.coerce_output_value
    return coerce_output_value


def _attribute(field: GraphQLField) -> Callable[[Any], Any] | None:
    """How `field` is read when strawberry reads it as a plain attribute, else None."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or field.args:
        return None
    if definition.base_resolver is not None or definition.extensions or not definition.is_basic_field:
        return None
    if definition.default_resolver is not getattr or not getattr(field.resolve, "_is_default", False):
        return None
    return attrgetter(definition.python_name)


def _reading(get: Callable[[Any], Any], complete: Callable[[Any], Any]) -> Reader:
    def read(source: Any) -> Any:
        try:
            return complete(get(source))
        except Exception:
            return GENERAL

    return read


def _reader(field: GraphQLField) -> Reader | None:
    """A one-step reader for `field` when it is a plain leaf (see the module's docstring), else None."""
    named = get_named_type(field.type)
    get = _attribute(field)
    if get is None or not is_leaf_type(named):
        return None
    return _reading(get, _completer(field.type, _leaf(named)))


def plain_readers(schema: GraphQLSchema) -> dict[str, dict[str, Reader]]:
    """For each object type (by name), its plain leaf fields' readers (by field name)."""
    readers: dict[str, dict[str, Reader]] = {}
    for name, named in schema.type_map.items():
        if not isinstance(named, GraphQLObjectType) or name.startswith("__"):
            continue
        found = {field_name: r for field_name, field in named.fields.items() if (r := _reader(field)) is not None}
        if found:
            readers[name] = found
    return readers


def plain_objects(schema: GraphQLSchema) -> dict[str, dict[str, tuple[Callable[[Any], Any], GraphQLField]]]:
    """For each object type (by name), its fields of an object type read as plain attributes."""
    objects: dict[str, dict[str, tuple[Callable[[Any], Any], GraphQLField]]] = {}
    for name, named in schema.type_map.items():
        if not isinstance(named, GraphQLObjectType) or name.startswith("__"):
            continue
        found = {
            field_name: (get, field)
            for field_name, field in named.fields.items()
            if isinstance(get_named_type(field.type), GraphQLObjectType) and (get := _attribute(field)) is not None
        }
        if found:
            objects[name] = found
    return objects


class GatewayExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, reading plain fields in one step and letting go of itself once a
    response is whole (`executor_for` binds a schema)."""

    readers: ClassVar[Mapping[str, Mapping[str, Reader]]] = {}
    objects: ClassVar[Mapping[str, Mapping[str, tuple[Callable[[Any], Any], GraphQLField]]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # By id of graphql-core's grouped field set (kept with it, so a reused id is not mistaken):
        # the plan, and whether it reads object fields too.
        self._plans: dict[int, tuple[GroupedFieldSet, Plan, bool]] = {}
        # Object fields' readers, by id of their field group (kept with it).
        self._objects: dict[int, tuple[FieldDetailsList, Reader | None]] = {}

    def execute_operation(self, serially: bool | None = None) -> Any:
        """graphql-core's, then the executor lets go of itself (see `_released`)."""
        result = super().execute_operation(serially)
        if not self.is_awaitable(result):
            return self._released(result)

        async def released() -> Any:
            return self._released(await result)

        return released()

    def _released(self, result: Any) -> Any:
        """graphql-core's executor holds helpers bound to itself: a reference cycle, so the
        executor, the request context and everything they reach (a page's contacts, the records
        they came from) would wait for the garbage collector instead of going when the response
        does. Once a response is whole, the cycle is cut. (With @defer the later parts still
        need the executor; the collector frees those.)"""
        if isinstance(result, ExecutionResult):
            vars(self).pop("async_helpers", None)
        return result

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """An object whose selected fields are all plain is read field by field into its result
        (no path, resolve info or awaitable check per field); any other, or any value out of the
        ordinary, goes the general way."""
        plan, nested = self._plan(parent_type, grouped_field_set)
        if plan and (position_context is None or not nested):
            result = {}
            for response_name, read in plan:
                value = read(source_value)
                if value is GENERAL:
                    break
                result[response_name] = value
            else:
                return result
        return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> tuple[Plan, bool]:
        """The readers of a selection whose fields are all plain, else empty, and whether some of
        them read object fields. graphql-core collects one grouped field set per object type and
        selection and reuses it for every object of a list, so the plan is made once per request
        and selection."""
        key = id(grouped_field_set)
        known = self._plans.get(key)
        if known is not None and known[0] is grouped_field_set:
            return known[1], known[2]
        plan: Plan = ()
        objects = self.objects.get(parent_type.name, {})
        nested = any(details[0].node.name.value in objects for details in grouped_field_set.values())
        readers: list[tuple[str, Reader]] = []
        for name, details in grouped_field_set.items():
            read = self._field_reader(parent_type, details, None)
            if read is None:
                break
            readers.append((name, read))
        else:
            plan = tuple(readers)
        self._plans[key] = (grouped_field_set, plan, nested)
        return plan, nested

    def _object_reader(
        self, get: Callable[[Any], Any], field: GraphQLField, details: FieldDetailsList
    ) -> Reader | None:
        """A one-step reader for a field of an object type whose selection is all plain leaves
        or such fields in turn, with nothing deferred or streamed; else None. Made once per
        request and field group, like a plan."""
        known = self._objects.get(id(details))
        if known is not None and known[0] is details:
            return known[1]
        read = self._new_object_reader(get, field, details)
        self._objects[id(details)] = (details, read)
        return read

    def _new_object_reader(
        self, get: Callable[[Any], Any], field: GraphQLField, details: FieldDetailsList
    ) -> Reader | None:
        if any(detail.node.directives for detail in details):
            return None  # @stream, or a directive of the gateway's: graphql-core's to handle
        named = cast("GraphQLObjectType", get_named_type(field.type))
        grouped, deferred, _ = self.collect_subfields(named, details)
        if deferred:
            return None
        plan, _ = self._plan(named, grouped)
        if not plan:
            return None
        is_type_of = named.is_type_of

        def complete_object(value: Any) -> Any:
            if is_type_of is not None and not is_type_of(value, NO_INFO):
                return GENERAL
            result = {}
            for response_name, read in plan:
                item = read(value)
                if item is GENERAL:
                    return GENERAL
                result[response_name] = item
            return result

        return _reading(get, _completer(field.type, complete_object))

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        read = self._field_reader(parent_type, field_details_list, position_context)
        if read is not None:
            value = read(source)
            if value is not GENERAL:
                return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _field_reader(
        self, parent_type: GraphQLObjectType, details: FieldDetailsList, position_context: Any
    ) -> Reader | None:
        """The one-step reader of one field, if it is plain."""
        if self.middleware_manager is not None:
            return None
        field_name = details[0].node.name.value
        read = self.readers.get(parent_type.name, {}).get(field_name)
        if read is not None or position_context is not None:
            return read
        spec = self.objects.get(parent_type.name, {}).get(field_name)
        return None if spec is None else self._object_reader(*spec, details)


def executor_for(schema: GraphQLSchema) -> type[GatewayExecutor]:
    """An executor class that knows `schema`'s plain fields."""
    return type(
        "GatewayExecutor", (GatewayExecutor,), {"readers": plain_readers(schema), "objects": plain_objects(schema)}
    )
