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
scalar or enum, or a list of them, nullable or not.

What a request built goes with its response (`GatewayExecutor._released`), by reference counting,
not by a later pass of the garbage collector.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, ClassVar

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
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# What a reader returns when the general path must answer (it then also reports any error).
GENERAL = object()

Reader = Callable[[Any], Any]
# The readers of a selection's fields, by response name; empty when some field is not plain.
Plan = tuple[tuple[str, Reader], ...]


def _completer(output: GraphQLOutputType) -> Callable[[Any], Any] | None:
    """How a value of `output` is completed when nothing is wrong with it, returning GENERAL
    when something is; None when `output` is not made of leaves."""
    non_null = isinstance(output, GraphQLNonNull)
    inner = output.of_type if isinstance(output, GraphQLNonNull) else output
    if isinstance(inner, GraphQLList):
        item = _completer(inner.of_type)
        if item is None:
            return None

        def complete_list(value: Any) -> Any:
            if value is None:
                return GENERAL if non_null else None
            if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
                return GENERAL
            completed = [item(entry) for entry in value]
            return GENERAL if GENERAL in completed else completed

        return complete_list
    if not is_leaf_type(inner):
        return None
    coerce = _coerce(inner)

    def complete_leaf(value: Any) -> Any:
        if value is None:
            return GENERAL if non_null else None
        coerced = coerce(value)
        return GENERAL if coerced is None or coerced is Undefined else coerced

    return complete_leaf


def _coerce(leaf: GraphQLLeafType) -> Callable[[Any], Any]:
    coerce_output_value: Callable[[Any], Any] = leaf.coerce_output_value
    return coerce_output_value


def _reader(field: GraphQLField) -> Reader | None:
    """A one-step reader for `field` when it is plain (see the module's docstring), else None."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or field.args:
        return None
    if definition.base_resolver is not None or definition.extensions or not definition.is_basic_field:
        return None
    if definition.default_resolver is not getattr or not getattr(field.resolve, "_is_default", False):
        return None
    complete = _completer(field.type)
    if complete is None:
        return None
    get = attrgetter(definition.python_name)

    def read(source: Any) -> Any:
        try:
            return complete(get(source))
        except Exception:
            return GENERAL

    return read


def plain_readers(schema: GraphQLSchema) -> dict[str, dict[str, Reader]]:
    """For each object type (by name), its plain fields' readers (by field name)."""
    readers: dict[str, dict[str, Reader]] = {}
    for name, named in schema.type_map.items():
        if not isinstance(named, GraphQLObjectType) or name.startswith("__"):
            continue
        found = {field_name: r for field_name, field in named.fields.items() if (r := _reader(field)) is not None}
        if found:
            readers[name] = found
    return readers


class GatewayExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, reading plain fields in one step and letting go of itself once a
    response is whole (`executor_for` binds a schema)."""

    readers: ClassVar[Mapping[str, Mapping[str, Reader]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # By id of graphql-core's grouped field set (kept with it, so a reused id is not mistaken).
        self._plans: dict[int, tuple[GroupedFieldSet, Plan]] = {}

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
        plan = self._plan(parent_type, grouped_field_set)
        if plan:
            result = {}
            for response_name, read in plan:
                value = read(source_value)
                if value is GENERAL:
                    break
                result[response_name] = value
            else:
                return result
        return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> Plan:
        """The readers of a selection whose fields are all plain, else empty. graphql-core collects
        one grouped field set per object type and selection and reuses it for every object of a
        list, so the plan is made once per request and selection."""
        key = id(grouped_field_set)
        known = self._plans.get(key)
        if known is not None and known[0] is grouped_field_set:
            return known[1]
        fields = self.readers.get(parent_type.name) if self.middleware_manager is None else None
        plan: Plan = ()
        if fields is not None:
            readers = [(name, fields.get(details[0].node.name.value)) for name, details in grouped_field_set.items()]
            if all(read is not None for _, read in readers):
                plan = tuple((name, read) for name, read in readers if read is not None)
        self._plans[key] = (grouped_field_set, plan)
        return plan

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        fields = self.readers.get(parent_type.name)
        if fields is not None and self.middleware_manager is None:
            read = fields.get(field_details_list[0].node.name.value)
            if read is not None:
                value = read(source)
                if value is not GENERAL:
                    return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)


def executor_for(schema: GraphQLSchema) -> type[GatewayExecutor]:
    """An executor class that knows `schema`'s plain fields."""
    return type("GatewayExecutor", (GatewayExecutor,), {"readers": plain_readers(schema)})
