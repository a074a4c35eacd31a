"""SQL over byom's own small tables (the catalog), evaluated by DuckDB.

The catalog tables (``mindsdb.predictors``, ``models``, ``databases`` and the
like) hold a handful of rows. Each query gets a fresh in-memory DuckDB with
those tables, typed from their column types, under a schema named like the
project, so ``SELECT name FROM mindsdb.models`` and, after ``USE mindsdb``,
``SELECT name FROM models`` both read them. Names of columns and tables match
without regard to case, and text compares without regard to case, as with
MySQL's default collations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import duckdb
from sqlglot import exp

from byom.errors import ByomError, NotSupportedError, UnknownColumnError
from byom.execution.executor import QueryResult
from byom.execution.local_step import (
    CONNECTION_CONFIG,
    MISSING_COLUMN,
    converter,
    result_type,
)
from byom.planning.local_query import column_name, is_plain, named
from byom.types import SqlType

Table = tuple[list[tuple[str, SqlType]], list[tuple[Any, ...]]]

# The DuckDB type each catalog column type is stored as.
_COLUMN_TYPES = {
    SqlType.LONGLONG: "BIGINT",
    SqlType.TINY: "TINYINT",
    SqlType.DOUBLE: "DOUBLE",
    SqlType.DATETIME: "TIMESTAMP",
    SqlType.DATE: "DATE",
}


def run_local(
    select: exp.Expression, database: str, tables: dict[str, Table]
) -> QueryResult:
    """Run a SELECT over in-memory tables of one database; typed result."""
    with duckdb.connect(":memory:", config=CONNECTION_CONFIG) as connection:
        _load(connection, database, tables)
        sql = _in_database(select, database, set(tables)).sql(dialect="duckdb")
        try:
            relation = connection.sql(sql)
            names, described = relation.columns, list(relation.types)
            rows = relation.fetchall()
        except duckdb.Error as exc:
            raise _error(exc, database) from None

    columns = [
        (name, result_type(name, kind))
        for name, kind in zip(names, described, strict=True)
    ]
    converters = [converter(kind.id) for kind in described]
    typed = [
        tuple(convert(v) for convert, v in zip(converters, row, strict=True))
        for row in rows
    ]
    return QueryResult(columns, _one_batch(typed))


def _load(
    connection: duckdb.DuckDBPyConnection, database: str, tables: dict[str, Table]
) -> None:
    schema = exp.to_identifier(database, quoted=True).sql(dialect="duckdb")
    connection.execute(f"CREATE SCHEMA {schema}")
    for name, (columns, rows) in tables.items():
        table = exp.table_(name, db=database, quoted=True)
        definitions = [
            exp.ColumnDef(
                this=exp.to_identifier(column, quoted=True),
                kind=exp.DataType.build(_COLUMN_TYPES.get(kind, "VARCHAR")),
            )
            for column, kind in columns
        ]
        create = exp.Create(
            this=exp.Schema(this=table, expressions=definitions), kind="TABLE"
        )
        connection.execute(create.sql(dialect="duckdb"))
        if rows:
            marks = ", ".join("?" * len(columns))
            insert = f"INSERT INTO {table.sql(dialect='duckdb')} VALUES ({marks})"
            connection.executemany(insert, [list(row) for row in rows])


def _in_database(
    select: exp.Expression, database: str, tables: set[str]
) -> exp.Expression:
    """The query with each bare name of a catalog table qualified by the database.

    ``SELECT name FROM models`` (after ``USE mindsdb``) reads mindsdb.models.
    """

    def qualify(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and not node.text("db"):
            if node.name.lower() in tables:
                node = node.copy()
                node.set("db", exp.to_identifier(database))
        return node

    qualified = select.transform(qualify)
    assert isinstance(qualified, exp.Expression)
    if isinstance(qualified, exp.Select):
        # MySQL names an expression's column by its text, DuckDB by its own
        # rendering of it (count(*) would be count_star()).
        labelled = [
            item if is_plain(item) else named(item, column_name(item))
            for item in qualified.expressions
        ]
        qualified.set("expressions", labelled)
    return qualified


def _error(exc: duckdb.Error, database: str) -> ByomError:
    # DuckDB's first line names the culprit; the rest is a caret drawing.
    reason = str(exc).splitlines()[0]
    missing = MISSING_COLUMN.search(reason)
    if isinstance(exc, duckdb.BinderException) and missing is not None:
        name = missing[1] or missing[2]
        return UnknownColumnError(f"Unknown column '{name}' in 'field list'")
    return NotSupportedError(f"cannot run this query on {database}: {reason}")


async def _one_batch(
    rows: list[tuple[Any, ...]],
) -> AsyncIterator[list[tuple[Any, ...]]]:
    yield rows
