"""Queries that read no table, evaluated in the session with typed columns.

mysql-mimic evaluates a bare ``SELECT 1`` itself, but anything with FROM DUAL, a
WHERE, ORDER BY or a set operation went on to byom's planner, which looked for a
table called DUAL. JDBC drivers send such queries for metadata::

    SELECT ' ' AS TABLE_CAT FROM DUAL WHERE 1=0           -- getSchemas()
    SELECT 'TABLE' AS TABLE_TYPE UNION SELECT 'VIEW'      -- getTableTypes()

Each SELECT is run by sqlglot's executor. UNION is combined here, because the
executor's own UNION reorders rows and lower-cases column names; MySQL keeps the
rows in the order the branches give them and the names as written.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.executor import execute
from sqlglot.optimizer.annotate_types import annotate_types

from byom.errors import NotSupportedError
from byom.types import SqlType, from_value

# The sqlglot types of typed expressions, as the MySQL column type sent.
_TYPES = {
    **dict.fromkeys(exp.DataType.INTEGER_TYPES, SqlType.LONGLONG),
    **dict.fromkeys(exp.DataType.REAL_TYPES, SqlType.DOUBLE),
    **dict.fromkeys(exp.DataType.TEXT_TYPES, SqlType.VAR_STRING),
    exp.DataType.Type.DECIMAL: SqlType.NEWDECIMAL,
    exp.DataType.Type.BOOLEAN: SqlType.LONGLONG,
    exp.DataType.Type.DATE: SqlType.DATE,
    exp.DataType.Type.DATETIME: SqlType.DATETIME,
    exp.DataType.Type.TIMESTAMP: SqlType.DATETIME,
    exp.DataType.Type.TIME: SqlType.TIME,
}

Columns = list[tuple[str, SqlType]]
Rows = list[tuple[Any, ...]]


def is_constant_query(expression: exp.Expression) -> bool:
    """True for a SELECT or UNION that reads no table (DUAL aside)."""
    if not isinstance(expression, exp.Select | exp.Union):
        return False
    if any(_is_excluded(node) for node in expression.walk()):
        return False
    return all(_is_dual(table) for table in expression.find_all(exp.Table))


def run_constant_query(expression: exp.Expression) -> tuple[Columns, Rows]:
    """The typed columns and rows of a constant query."""
    try:
        return _run(expression.copy())
    except (SqlglotError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise NotSupportedError(
            f"cannot evaluate this query without a table: {exc or type(exc).__name__}"
        ) from None


def _run(expression: exp.Expr) -> tuple[Columns, Rows]:
    if isinstance(expression, exp.Select):
        return _run_select(expression)
    assert isinstance(expression, exp.Union)
    if any(expression.args.get(key) for key in ("order", "limit", "offset")):
        raise NotSupportedError(
            "ORDER BY or LIMIT after a UNION of constants is not supported"
        )
    columns, rows = _run(expression.left)
    right_columns, right_rows = _run(expression.right)
    if len(columns) != len(right_columns):
        raise NotSupportedError(
            "The used SELECT statements have a different number of columns"
        )
    rows = rows + right_rows
    if expression.args.get("distinct"):
        rows = list(dict.fromkeys(rows))
    merged = [
        (name, kind if kind is not SqlType.NULL else other)
        for (name, kind), (_, other) in zip(columns, right_columns, strict=True)
    ]
    return merged, rows


def _run_select(select: exp.Select) -> tuple[Columns, Rows]:
    select.set("from_", None)
    names = [_label(projection) for projection in select.expressions]
    result = execute(select)
    rows = [tuple(_native(value) for value in row) for row in result.rows]
    typed = annotate_types(select.copy(), dialect="mysql")
    columns = []
    for index, (name, projection) in enumerate(
        zip(names, typed.expressions, strict=True)
    ):
        columns.append((name, _column_type(projection, [r[index] for r in rows])))
    return columns, rows


def _label(projection: exp.Expression) -> str:
    # MySQL labels a column with its alias, a string literal with its text, and
    # any other expression with the expression as written.
    if isinstance(projection, exp.Alias):
        return projection.alias
    if isinstance(projection, exp.Literal) and projection.is_string:
        return str(projection.this)
    return projection.sql("mysql")


def _column_type(projection: exp.Expression, values: list[Any]) -> SqlType:
    kind = _TYPES.get(projection.type.this) if projection.type else None
    if kind is not None:
        return kind
    found = {from_value(v) for v in values} - {SqlType.NULL}
    if len(found) == 1:
        return found.pop()
    # NULL (or nothing known): MySQL reports NULL columns as a binary string.
    return SqlType.VAR_STRING if found else SqlType.NULL


def _native(value: Any) -> Any:
    # MySQL has no boolean type: 1 = 1 is 1.
    return int(value) if isinstance(value, bool) else value


def _is_dual(table: exp.Table) -> bool:
    return table.name.upper() == "DUAL" and not table.db and not table.catalog


def _is_excluded(node: exp.Expr) -> bool:
    # A subquery in FROM or a join is the planner's business, even over DUAL.
    return isinstance(node, exp.Placeholder | exp.Parameter | exp.Subquery | exp.Join)
