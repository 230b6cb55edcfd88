"""PostgreSQL batches as array parameters: a column of rows travels as one array and the server
unnests them, so a statement stays one short prepared text whatever the batch size, and no
per-row parameter is rendered in Python (SQLite takes its batches as executemany instead)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, cast, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine


def unnested(name: str, columns: Mapping[str, TypeEngine[Any]]) -> Any:
    """`unnest(:a, :b, ...) AS name(a, b, ...)`: one array parameter a column, the rows zipped."""
    arrays = [cast(bindparam(column), postgresql.ARRAY(kind)) for column, kind in columns.items()]
    return func.unnest(*arrays).table_valued(*columns).render_derived(name=name)


def among(column: ColumnElement[Any], ids: Sequence[int], *, is_sqlite: bool) -> ColumnElement[bool]:
    """`column IN (...)` on SQLite; on PostgreSQL `column = ANY(:ids)`, one statement whatever the
    number of ids (an IN list is a new statement, prepared again, for every length)."""
    if is_sqlite:
        return column.in_(ids)
    return column == any_(cast(bindparam("ids", list(ids)), postgresql.ARRAY(BigInteger())))
