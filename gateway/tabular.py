"""A GraphQL answer as a table: the columns come from the query's selection set, in its order.

The rows are the nodes of the first connection the query selects (`edges { node { ... } }`), else
the items of the first list of objects, else the whole answer as one row. A nested object becomes
dotted columns (`address.city`), a list of scalars one cell joined with "; ", and a list of objects
one JSON cell, or one row per item when it is the field to explode. The columns never depend on
the data, so every page and every export of one query has the same header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
)
from graphql.utilities import get_operation_ast

LIST_SEPARATOR = "; "
UTF8_BOM = "\ufeff"

CellKind = Literal["scalar", "scalar_list", "object_list", "object"]


class TableError(ValueError):
    """The query cannot be laid out as asked (an `--explode` field it does not select)."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # the header: response keys joined with dots
    path: tuple[str, ...]  # response keys from the row (or, when exploded, from the item)
    kind: CellKind
    is_id: bool = False  # an ID: a table never cuts it
    exploded: bool = False  # read from the exploded item rather than the row


@dataclass(frozen=True, slots=True)
class TablePlan:
    rows_at: tuple[str, ...]  # response keys from `data` to the rows' list (or connection)
    connection: bool  # the rows are `edges[].node`
    columns: tuple[Column, ...]
    explode: tuple[str, ...] | None = None  # the list of objects that gives one row per item


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # response key (the alias when there is one)
    node: FieldNode
    type: GraphQLOutputType


def plan_table(
    schema: GraphQLSchema, document: Any, operation_name: str | None = None, explode: str | None = None
) -> TablePlan:
    """The table layout of a parsed, valid document's operation."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        raise TableError(
            "the document has no operation to lay out" + (f" named {operation_name!r}" if operation_name else "")
        )
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    root = schema.get_root_type(operation.operation)
    assert root is not None  # a valid document's operation has its root type
    found = _find_rows(schema, fragments, root, operation.selection_set, ())
    rows_at, connection, row_type, row_selection = found or ((), False, root, operation.selection_set)
    columns = list(_columns(schema, fragments, row_type, row_selection, (), explode_name=None))
    explode_path: tuple[str, ...] | None = None
    if explode is not None:
        candidates = [c for c in columns if c.kind == "object_list"]
        target = next((c for c in candidates if c.name == explode), None)
        if target is None:
            offered = ", ".join(repr(c.name) for c in candidates) or "none"
            raise TableError(f"--explode {explode}: not a list of objects the query selects (these are: {offered})")
        explode_path = target.path
        columns = list(_columns(schema, fragments, row_type, row_selection, (), explode_name=explode))
    return TablePlan(rows_at, connection, tuple(columns), explode_path)


def _fields(
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    parent: GraphQLNamedType,
    selection: SelectionSetNode | None,
) -> Iterator[_Field]:
    """The selected fields in document order, fragments expanded, each response key once."""
    seen: set[str] = set()

    def walk(parent: GraphQLNamedType, selection: SelectionSetNode | None) -> Iterator[_Field]:
        for node in selection.selections if selection else ():
            if isinstance(node, FieldNode):
                key = node.alias.value if node.alias else node.name.value
                if key in seen:
                    continue
                seen.add(key)
                yield _Field(key, node, _field_type(schema, parent, node.name.value))
            elif isinstance(node, InlineFragmentNode):
                condition = schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                yield from walk(condition or parent, node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
                fragment = fragments[node.name.value]
                yield from walk(schema.get_type(fragment.type_condition.name.value) or parent, fragment.selection_set)

    yield from walk(parent, selection)


def _field_type(schema: GraphQLSchema, parent: GraphQLNamedType, name: str) -> GraphQLOutputType:
    if name == "__typename" or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return GraphQLString
    field: GraphQLField = parent.fields[name]
    return field.type


def _is_list(type_: GraphQLOutputType) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _find_rows(
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    parent: GraphQLNamedType,
    selection: SelectionSetNode | None,
    path: tuple[str, ...],
) -> tuple[tuple[str, ...], bool, GraphQLNamedType, SelectionSetNode | None] | None:
    """Where the rows are: the first connection or list of objects, depth first in query order."""
    for field in _fields(schema, fragments, parent, selection):
        named = get_named_type(field.type)
        if is_leaf_type(named):
            continue
        here = (*path, field.key)
        if _is_list(field.type):
            return here, False, named, field.node.selection_set
        for edges in _fields(schema, fragments, named, field.node.selection_set):
            if edges.node.name.value == "edges" and _is_list(edges.type):
                edge_type = get_named_type(edges.type)
                for node in _fields(schema, fragments, edge_type, edges.node.selection_set):
                    if node.node.name.value == "node":
                        return here, True, get_named_type(node.type), node.node.selection_set
        deeper = _find_rows(schema, fragments, named, field.node.selection_set, here)
        if deeper is not None:
            return deeper
    return None


def _columns(
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    parent: GraphQLNamedType,
    selection: SelectionSetNode | None,
    prefix: tuple[str, ...],
    *,
    explode_name: str | None,
    exploded: bool = False,
    item_depth: int = 0,
) -> Iterator[Column]:
    for field in _fields(schema, fragments, parent, selection):
        path = (*prefix, field.key)
        name = ".".join(path)
        named = get_named_type(field.type)
        item_path = path[item_depth:] if exploded else path
        if is_leaf_type(named):
            kind: CellKind = "scalar_list" if _is_list(field.type) else "scalar"
            yield Column(name, item_path, kind, is_id=named.name == "ID", exploded=exploded)
        elif not _is_list(field.type):
            yield from _columns(
                schema, fragments, named, field.node.selection_set, path,
                explode_name=explode_name, exploded=exploded, item_depth=item_depth,
            )  # fmt: skip
        elif name == explode_name and not exploded:
            yield from _columns(
                schema, fragments, named, field.node.selection_set, path,
                explode_name=None, exploded=True, item_depth=len(path),
            )  # fmt: skip
        else:
            yield Column(name, item_path, "object_list", exploded=exploded)


def table_rows(plan: TablePlan, data: Any) -> list[list[str]]:
    """The cells of every row in one answer's `data`, in the plan's column order."""
    found = _at(data, plan.rows_at)
    if plan.rows_at == ():
        items: list[Any] = [data] if data else []
    elif plan.connection:
        edges = found.get("edges") if isinstance(found, Mapping) else None
        items = [e.get("node") for e in edges or () if isinstance(e, Mapping)]
    else:
        items = list(found) if isinstance(found, list) else []
    rows: list[list[str]] = []
    for item in items:
        if plan.explode is None:
            rows.append([_cell(column, item, None) for column in plan.columns])
            continue
        parts = _at(item, plan.explode)
        for part in parts if isinstance(parts, list) and parts else [None]:
            rows.append([_cell(column, item, part) for column in plan.columns])
    return rows


def _at(value: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _cell(column: Column, row: Any, item: Any) -> str:
    value = _at(item if column.exploded else row, column.path)
    if value is None:
        return ""
    if column.kind == "scalar_list" and isinstance(value, list):
        return LIST_SEPARATOR.join(_scalar(v) for v in value)
    if column.kind == "object_list":
        return orjson.dumps(value).decode()
    return _scalar(value)


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return orjson.dumps(value).decode()  # a JSON scalar (`raw`) stays JSON


def to_csv(columns: Sequence[Column], rows: Sequence[Sequence[str]], *, bom: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    writer.writerows(rows)
    return (UTF8_BOM if bom else "") + out.getvalue()


def to_text_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], cell_width: int = 40) -> str:
    """Aligned columns; long cells are cut to `cell_width` with an ellipsis, except ids, which an
    analyst copies from here and must be whole."""

    def clip(text: str, column: Column) -> str:
        text = text.replace("\n", " ")
        return text if column.is_id or len(text) <= cell_width else text[: cell_width - 1] + "…"

    shown = [[clip(cell, column) for cell, column in zip(row, columns, strict=True)] for row in rows]
    headers = [clip(c.name, c) if not c.is_id else c.name for c in columns]
    widths = [max([len(h)] + [len(row[i]) for row in shown]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in shown)
    return "\n".join(lines) + "\n"


def check_document(schema: GraphQLSchema, text: str) -> tuple[Any, list[GraphQLError]]:
    """The parsed document and its parse or validation errors (each with line and column)."""
    from graphql import parse, validate

    try:
        document = parse(text)
    except GraphQLError as exc:
        return None, [exc]
    return document, list(validate(schema, document))
