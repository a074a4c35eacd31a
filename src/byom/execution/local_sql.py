"""SQL over byom's own small tables (the catalog), evaluated in memory.

The catalog tables hold a handful of rows, so sqlglot's Python executor is
enough and keeps MySQL's semantics for LIKE, IS NULL, ORDER BY and aggregates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlglot import exp
from sqlglot.errors import ExecuteError
from sqlglot.executor import execute

from byom.errors import NotSupportedError, UnknownColumnError
from byom.execution.executor import QueryResult
from byom.types import SqlType, common_type

Table = tuple[list[tuple[str, SqlType]], list[tuple[Any, ...]]]

# sqlglot's executor needs a type name for each column even when a table is empty.
_TYPE_NAMES = {
    SqlType.LONGLONG: "BIGINT",
    SqlType.DOUBLE: "DOUBLE",
    SqlType.DATETIME: "DATETIME",
}


def run_local(
    select: exp.Expression, database: str, tables: dict[str, Table]
) -> QueryResult:
    """Run a SELECT over in-memory tables of one database; typed result."""
    data = {
        name: [dict(zip([c for c, _ in cols], row, strict=True)) for row in rows]
        for name, (cols, rows) in tables.items()
    }
    schema = {
        name: {c: _TYPE_NAMES.get(t, "TEXT") for c, t in cols}
        for name, (cols, _) in tables.items()
    }
    try:
        result = execute(
            select, dialect="mysql", tables={database: data}, schema={database: schema}
        )
    except ExecuteError as exc:
        raise NotSupportedError(f"cannot run this query on {database}: {exc}") from None
    except KeyError as exc:
        raise UnknownColumnError(f"Unknown column {exc} in 'field list'") from None

    known = {c: t for cols, _ in tables.values() for c, t in cols}
    columns: list[tuple[str, SqlType]] = []
    for index, name in enumerate(result.columns):
        kind = known.get(name) or common_type([row[index] for row in result.rows])
        columns.append((name, SqlType.VAR_STRING if kind is SqlType.NULL else kind))
    return QueryResult(columns, _one_batch(list(result.rows)))


async def _one_batch(
    rows: list[tuple[Any, ...]],
) -> AsyncIterator[list[tuple[Any, ...]]]:
    yield rows
