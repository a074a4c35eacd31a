"""LIKE and WHERE of a SHOW statement, evaluated over its rows in DuckDB.

MySQL filters a SHOW result as if it were a table with the columns it shows:
``LIKE`` matches the first column, ``WHERE`` may test any column. Both compare
text without regard to case and LIKE escapes with a backslash, as under MySQL's
default collation. byom puts the rows into a DuckDB table of that shape (the
same engine and collation as ``information_schema``) and keeps the rows the
condition selects, in their order::

    SHOW COLLATION WHERE Charset = 'UTF8MB4' AND Id > 250
    -- runs as
    SELECT "__row" FROM show_rows WHERE Charset = 'UTF8MB4' AND Id > 250

sqlglot reads ``Charset`` after WHERE as the keyword CHARSET and cannot parse
the statement; ``parse_show_where`` parses it again with that word as a name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import duckdb
from sqlglot import TokenType, exp
from sqlglot.dialects import MySQL
from sqlglot.errors import SqlglotError

from byom.errors import ByomError, NotSupportedError, UnknownColumnError
from byom.types import SqlType

logger = logging.getLogger(__name__)

Columns = Sequence[tuple[str, SqlType]]
Rows = list[tuple[Any, ...]]

_TABLE = "show_rows"
_POSITION = "__row"
_DUCKDB_TYPES = {SqlType.LONGLONG: "BIGINT", SqlType.DOUBLE: "DOUBLE"}
_UNKNOWN_COLUMN = re.compile(r'Referenced column "([^"]+)" not found')


def show_condition(show: exp.Show, columns: Columns) -> exp.Expression | None:
    """The condition a SHOW's LIKE or WHERE puts on its rows, or None for none.

    SHOW VARIABLES LIKE 'auto%' -> Variable_name LIKE 'auto%'
    """
    like = show.args.get("like")
    if like is not None:
        first = exp.column(columns[0][0], quoted=True)
        return exp.Like(this=first, expression=like.copy())
    where = show.args.get("where")
    return where.this.copy() if where is not None else None


def filter_rows(columns: Columns, rows: Rows, condition: exp.Expression) -> Rows:
    """The rows, in order, for which condition (MySQL SQL over columns) holds.

    Raises UnknownColumnError for a name that is not a column (MySQL's 1054).
    """
    if not rows:
        return rows
    kept = _matching_positions(columns, rows, _as_duckdb(condition))
    return [rows[position] for position in kept]


def parse_show_where(sql: str) -> exp.Show | None:
    """A SHOW ... WHERE statement that names a column like a keyword, or None.

    ``SHOW COLLATION WHERE Charset = 'utf8mb4'`` fails in sqlglot, which takes
    ``Charset`` for the CHARSET keyword; MySQL takes it for the column.
    """
    dialect = MySQL()
    try:
        tokens = dialect.tokenize(sql)
    except SqlglotError:
        return None
    kinds = [token.token_type for token in tokens]
    if not kinds or kinds[0] != TokenType.SHOW or TokenType.WHERE not in kinds:
        return None
    for token in tokens[kinds.index(TokenType.WHERE) + 1 :]:
        if token.token_type == TokenType.CHARACTER_SET and " " not in token.text:
            token.token_type = TokenType.VAR
    try:
        parsed = dialect.parser().parse(tokens, sql)
    except SqlglotError:
        return None
    statement = parsed[0] if len(parsed) == 1 else None
    return statement if isinstance(statement, exp.Show) else None


def _as_duckdb(condition: exp.Expression) -> str:
    def with_mysql_escape(node: exp.Expr) -> exp.Expr:
        # MySQL's LIKE escapes with a backslash; DuckDB's has no escape.
        if isinstance(node, exp.Like) and not isinstance(node.parent, exp.Escape):
            return exp.Escape(this=node, expression=exp.Literal.string("\\"))
        return node

    return condition.transform(with_mysql_escape).sql(dialect="duckdb")


def _matching_positions(columns: Columns, rows: Rows, condition: str) -> list[int]:
    with duckdb.connect() as connection:
        connection.execute("SET default_collation = 'nocase'")
        connection.execute(_create_sql(columns))
        connection.execute(_insert_sql(columns, rows))
        query = f'SELECT "{_POSITION}" FROM {_TABLE} WHERE {condition} ORDER BY 1'
        try:
            found = connection.execute(query).fetchall()
        except duckdb.Error as exc:
            logger.debug("SHOW condition failed: %s: %s", condition, exc)
            raise _mysql_error(exc) from None
    return [int(position) for (position,) in found]


def _create_sql(columns: Columns) -> str:
    definitions = [
        exp.ColumnDef(
            this=exp.to_identifier(name, quoted=True),
            kind=exp.DataType.build(_DUCKDB_TYPES.get(kind, "VARCHAR")),
        )
        for name, kind in columns
    ]
    definitions.append(
        exp.ColumnDef(
            this=exp.to_identifier(_POSITION, quoted=True),
            kind=exp.DataType.build("BIGINT"),
        )
    )
    table = exp.Schema(this=exp.to_table(_TABLE), expressions=definitions)
    return exp.Create(this=table, kind="TABLE").sql(dialect="duckdb")


def _insert_sql(columns: Columns, rows: Rows) -> str:
    # One INSERT of literal rows: DuckDB's executemany is slow row by row.
    text_columns = [kind not in _DUCKDB_TYPES for _, kind in columns]
    values = [
        tuple(
            exp.convert(str(value) if text and value is not None else value)
            for value, text in zip(row, text_columns, strict=True)
        )
        + (exp.convert(position),)
        for position, row in enumerate(rows)
    ]
    return exp.insert(exp.values(values), _TABLE).sql(dialect="duckdb")


def _mysql_error(exc: duckdb.Error) -> ByomError:
    reason = str(exc).splitlines()[0]
    missing = _UNKNOWN_COLUMN.search(reason)
    if missing is not None:
        return UnknownColumnError(f"Unknown column '{missing[1]}' in 'where clause'")
    return NotSupportedError(f"this SHOW condition is not supported: {reason}")
