"""information_schema answered by DuckDB over tables built from byom's catalog.

mysql-mimic runs information_schema queries with sqlglot's Python executor over
tables it generates: LEAST and many other functions are missing, ordinals start
at 0, NULLs are the string 'NULL' and KEYWORDS, ENGINES, STATISTICS do not
exist. JDBC drivers and DBeaver depend on all of them. Here the same queries run
in an in-memory DuckDB database whose tables have MySQL 8's names and columns,
filled from ``Byom.schema()``; the client's MySQL query is transpiled by sqlglot:

    SELECT TABLE_NAME FROM information_schema.tables WHERE TABLE_SCHEMA = 'x'
    -- runs as
    SELECT TABLE_NAME FROM mysql_information_schema.TABLES WHERE TABLE_SCHEMA = 'x'

Comparisons and LIKE ignore case, as under MySQL's default collation. More
before/after pairs are in ``fixtures/information_schema/engine_sql.sql``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from typing import Any

import duckdb
from mysql_mimic.constants import INFO_SCHEMA
from mysql_mimic.results import AllowedResult
from mysql_mimic.schema import BaseInfoSchema
from sqlglot import exp

from byom.errors import (
    ByomError,
    NotSupportedError,
    UnknownColumnError,
    UnknownTableError,
)
from byom.mysql import charsets
from byom.mysql.keywords import KEYWORDS
from byom.mysql.results import static_result
from byom.mysql.table_ddl import ENGINE
from byom.types import SqlType

logger = logging.getLogger(__name__)

DATABASE = "information_schema"
# DuckDB has an information_schema of its own; byom's tables live beside it.
_ENGINE_SCHEMA = "mysql_information_schema"
_CHARSET = "utf8mb4"
_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")

Schema = dict[str, dict[str, dict[str, str]]]
Row = tuple[Any, ...]

# The tables MySQL 8 clients read, with MySQL's columns in MySQL's order. Any
# other table mimic knows is created empty with mimic's columns.
TABLES: dict[str, list[str]] = {
    "SCHEMATA": [
        "CATALOG_NAME",
        "SCHEMA_NAME",
        "DEFAULT_CHARACTER_SET_NAME",
        "DEFAULT_COLLATION_NAME",
        "SQL_PATH",
        "DEFAULT_ENCRYPTION",
    ],
    "TABLES": [
        "TABLE_CATALOG",
        "TABLE_SCHEMA",
        "TABLE_NAME",
        "TABLE_TYPE",
        "ENGINE",
        "VERSION",
        "ROW_FORMAT",
        "TABLE_ROWS",
        "AVG_ROW_LENGTH",
        "DATA_LENGTH",
        "MAX_DATA_LENGTH",
        "INDEX_LENGTH",
        "DATA_FREE",
        "AUTO_INCREMENT",
        "CREATE_TIME",
        "UPDATE_TIME",
        "CHECK_TIME",
        "TABLE_COLLATION",
        "CHECKSUM",
        "CREATE_OPTIONS",
        "TABLE_COMMENT",
    ],
    "COLUMNS": [
        "TABLE_CATALOG",
        "TABLE_SCHEMA",
        "TABLE_NAME",
        "COLUMN_NAME",
        "ORDINAL_POSITION",
        "COLUMN_DEFAULT",
        "IS_NULLABLE",
        "DATA_TYPE",
        "CHARACTER_MAXIMUM_LENGTH",
        "CHARACTER_OCTET_LENGTH",
        "NUMERIC_PRECISION",
        "NUMERIC_SCALE",
        "DATETIME_PRECISION",
        "CHARACTER_SET_NAME",
        "COLLATION_NAME",
        "COLUMN_TYPE",
        "COLUMN_KEY",
        "EXTRA",
        "PRIVILEGES",
        "COLUMN_COMMENT",
        "GENERATION_EXPRESSION",
        "SRS_ID",
    ],
    "KEYWORDS": ["WORD", "RESERVED"],
    "ENGINES": ["ENGINE", "SUPPORT", "COMMENT", "TRANSACTIONS", "XA", "SAVEPOINTS"],
    "CHARACTER_SETS": [
        "CHARACTER_SET_NAME",
        "DEFAULT_COLLATE_NAME",
        "DESCRIPTION",
        "MAXLEN",
    ],
    "COLLATIONS": [
        "COLLATION_NAME",
        "CHARACTER_SET_NAME",
        "ID",
        "IS_DEFAULT",
        "IS_COMPILED",
        "SORTLEN",
        "PAD_ATTRIBUTE",
    ],
    "STATISTICS": [
        "TABLE_CATALOG",
        "TABLE_SCHEMA",
        "TABLE_NAME",
        "NON_UNIQUE",
        "INDEX_SCHEMA",
        "INDEX_NAME",
        "SEQ_IN_INDEX",
        "COLUMN_NAME",
        "COLLATION",
        "CARDINALITY",
        "SUB_PART",
        "PACKED",
        "NULLABLE",
        "INDEX_TYPE",
        "COMMENT",
        "INDEX_COMMENT",
        "IS_VISIBLE",
        "EXPRESSION",
    ],
    "KEY_COLUMN_USAGE": [
        "CONSTRAINT_CATALOG",
        "CONSTRAINT_SCHEMA",
        "CONSTRAINT_NAME",
        "TABLE_CATALOG",
        "TABLE_SCHEMA",
        "TABLE_NAME",
        "COLUMN_NAME",
        "ORDINAL_POSITION",
        "POSITION_IN_UNIQUE_CONSTRAINT",
        "REFERENCED_TABLE_SCHEMA",
        "REFERENCED_TABLE_NAME",
        "REFERENCED_COLUMN_NAME",
    ],
    "ROUTINES": [
        "SPECIFIC_NAME",
        "ROUTINE_CATALOG",
        "ROUTINE_SCHEMA",
        "ROUTINE_NAME",
        "ROUTINE_TYPE",
        "DATA_TYPE",
        "CHARACTER_MAXIMUM_LENGTH",
        "CHARACTER_OCTET_LENGTH",
        "NUMERIC_PRECISION",
        "NUMERIC_SCALE",
        "DATETIME_PRECISION",
        "CHARACTER_SET_NAME",
        "COLLATION_NAME",
        "DTD_IDENTIFIER",
        "ROUTINE_BODY",
        "ROUTINE_DEFINITION",
        "EXTERNAL_NAME",
        "EXTERNAL_LANGUAGE",
        "PARAMETER_STYLE",
        "IS_DETERMINISTIC",
        "SQL_DATA_ACCESS",
        "SQL_PATH",
        "SECURITY_TYPE",
        "CREATED",
        "LAST_ALTERED",
        "SQL_MODE",
        "ROUTINE_COMMENT",
        "DEFINER",
        "CHARACTER_SET_CLIENT",
        "COLLATION_CONNECTION",
        "DATABASE_COLLATION",
    ],
}
_INTEGER_COLUMNS = {
    "ORDINAL_POSITION", "CHARACTER_MAXIMUM_LENGTH", "CHARACTER_OCTET_LENGTH",
    "NUMERIC_PRECISION", "NUMERIC_SCALE", "DATETIME_PRECISION", "TABLE_ROWS",
    "AVG_ROW_LENGTH", "DATA_LENGTH", "MAX_DATA_LENGTH", "INDEX_LENGTH",
    "DATA_FREE", "AUTO_INCREMENT", "VERSION", "CHECKSUM", "RESERVED", "MAXLEN",
    "ID", "SORTLEN", "NON_UNIQUE", "SEQ_IN_INDEX", "CARDINALITY", "SUB_PART",
    "POSITION_IN_UNIQUE_CONSTRAINT", "SRS_ID",
}  # fmt: skip
# Precision and scale MySQL reports for each numeric type.
_NUMERIC = {
    "tinyint": (3, 0),
    "bigint": (19, 0),
    "double": (22, None),
    "decimal": (65, 30),
}
_TEXT_TYPES = {"varchar": 65535, "blob": 65535}
_ENGINE_ROW = (
    ENGINE,
    "DEFAULT",
    "byom: predictors and integration tables",
    "NO",
    "NO",
    "NO",
)
# DuckDB's result type names, as the MySQL column type sent.
_RESULT_TYPES = (
    ("BIGINT", SqlType.LONGLONG),
    ("INTEGER", SqlType.LONGLONG),
    ("SMALLINT", SqlType.LONGLONG),
    ("TINYINT", SqlType.LONGLONG),
    ("UBIGINT", SqlType.LONGLONG),
    ("UINTEGER", SqlType.LONGLONG),
    ("HUGEINT", SqlType.LONGLONG),
    ("BOOLEAN", SqlType.LONGLONG),
    ("DOUBLE", SqlType.DOUBLE),
    ("FLOAT", SqlType.DOUBLE),
    ("DECIMAL", SqlType.NEWDECIMAL),
    ("DATE", SqlType.DATE),
    ("TIMESTAMP", SqlType.DATETIME),
    ("TIME", SqlType.TIME),
    ("BLOB", SqlType.BLOB),
)


class InformationSchema(BaseInfoSchema):
    """byom's information_schema for one query, over a snapshot of the catalog."""

    def __init__(self, schema: Schema, collation: str, database: str | None) -> None:
        self._schema = schema
        self._collation = collation
        self._database = database

    async def query(self, expression: exp.Expression) -> AllowedResult:
        sql = engine_sql(expression, self._database)
        columns, rows = await asyncio.to_thread(self._run, sql)
        return static_result(columns, rows)

    def _run(self, sql: str) -> tuple[list[tuple[str, SqlType]], list[Row]]:
        with _database(self._schema, self._collation).cursor() as cursor:
            try:
                cursor.execute(sql)
            except duckdb.Error as exc:
                logger.debug("information_schema query failed: %s: %s", sql, exc)
                raise _mysql_error(exc) from None
            description = cursor.description or []
            rows = [tuple(_native(v) for v in row) for row in cursor.fetchall()]
        columns = [(d[0], _result_type(str(d[1]))) for d in description]
        return columns, rows


class _Snapshot:
    """The DuckDB database of the latest catalog seen, rebuilt when it changes.

    Building takes about 0.2 s; a client browsing metadata sends dozens of
    queries over an unchanged catalog.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: str | None = None
        self._connection: duckdb.DuckDBPyConnection | None = None

    def connection(self, schema: Schema, collation: str) -> duckdb.DuckDBPyConnection:
        key = repr(
            (collation, sorted((d, sorted(t.items())) for d, t in schema.items()))
        )
        with self._lock:
            if self._connection is None or key != self._key:
                connection = duckdb.connect()
                connection.execute("SET default_collation = 'nocase'")
                _create_tables(connection, table_rows(schema, collation))
                self._key, self._connection = key, connection
            return self._connection


_SNAPSHOT = _Snapshot()


def _database(schema: Schema, collation: str) -> duckdb.DuckDBPyConnection:
    return _SNAPSHOT.connection(schema, collation)


def engine_sql(expression: exp.Expression, database: str | None = None) -> str:
    """The client's MySQL query as DuckDB SQL over byom's information_schema.

    database is the session's: after USE information_schema, tables need no
    qualifier.
    """
    current = (database or "").lower() == DATABASE

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Collate):
            return node.left
        if isinstance(node, exp.Table) and _in_information_schema(node, current):
            node.set("db", exp.to_identifier(_ENGINE_SCHEMA))
            node.set("catalog", None)
            node.set("this", exp.to_identifier(node.name.upper()))
        return node

    rewritten = expression.copy().transform(rewrite)
    if isinstance(rewritten, exp.Select):
        rewritten.set("expressions", [_labelled(p) for p in rewritten.expressions])
    return rewritten.sql(dialect="duckdb")


def _labelled(projection: exp.Expr) -> exp.Expr:
    # MySQL labels an expression with its text, DuckDB with its own rendering
    # of it (LEAST(a, 1) becomes a CASE expression).
    if isinstance(projection, exp.Alias | exp.Column | exp.Star | exp.Null):
        return projection
    if isinstance(projection, exp.Literal) and projection.is_string:
        return exp.alias_(projection, str(projection.this), quoted=True)
    return exp.alias_(projection, projection.sql("mysql"), quoted=True)


def table_rows(schema: Schema, collation: str) -> dict[str, list[Row]]:
    """Every table's rows, for the databases, tables and columns in schema."""
    databases = {DATABASE: _own_tables(), **schema, "mysql": {}}
    rows: dict[str, list[Row]] = {name: [] for name in _all_tables()}
    for database in sorted(databases, key=str.lower):
        rows["SCHEMATA"].append(("def", database, _CHARSET, collation, None, "NO"))
        for table, columns in sorted(databases[database].items()):
            kind = "SYSTEM VIEW" if database == DATABASE else "BASE TABLE"
            rows["TABLES"].append(_table_row(database, table, kind, collation))
            for position, (column, type_text) in enumerate(columns.items(), 1):
                rows["COLUMNS"].append(
                    _column_row(database, table, column, position, type_text, collation)
                )
    rows["KEYWORDS"] = [(word, int(reserved)) for word, reserved in KEYWORDS]
    rows["ENGINES"] = [_ENGINE_ROW]
    rows["CHARACTER_SETS"] = [
        (name, default, description, maxlen)
        for name, description, default, maxlen in charsets.charset_rows()
    ]
    rows["COLLATIONS"] = [
        (name, charset, id_, default, compiled, sortlen, pad)
        for name, charset, id_, default, compiled, sortlen, pad in (
            charsets.collation_rows()
        )
    ]
    return rows


def _table_row(database: str, table: str, kind: str, collation: str) -> Row:
    # Rows, sizes, AUTO_INCREMENT and times are unknown; then the collation,
    # CHECKSUM, CREATE_OPTIONS and TABLE_COMMENT.
    unknown = (None,) * 10
    return ("def", database, table, kind, ENGINE, 10, "Dynamic", *unknown,
            collation, None, "", "")  # fmt: skip


def _column_row(
    database: str,
    table: str,
    column: str,
    position: int,
    type_text: str,
    collation: str,
) -> Row:
    data_type = re.sub(r"\(.*", "", type_text).strip().lower()
    precision, scale = _NUMERIC.get(data_type, (None, None))
    length = _TEXT_TYPES.get(data_type)
    text = data_type == "varchar"
    datetime_precision = 0 if data_type in {"datetime", "time"} else None
    return (
        "def", database, table, column, position, None, "YES", data_type,
        length, None if length is None else length * 4, precision, scale,
        datetime_precision, _CHARSET if text else None, collation if text else None,
        type_text.lower(), "", "", "select", "", "", None,
    )  # fmt: skip


def _own_tables() -> dict[str, dict[str, str]]:
    # information_schema lists its own tables, as MySQL does.
    return {
        name: {column: _column_type(column) for column in columns}
        for name, columns in _all_tables().items()
    }


def _all_tables() -> dict[str, list[str]]:
    tables = {
        name.upper(): [column.upper() for column in columns]
        for name, columns in INFO_SCHEMA[DATABASE].items()
    }
    return {**tables, **TABLES}


def table_names() -> list[str]:
    """The tables of information_schema, for SHOW TABLES."""
    return sorted(_all_tables())


def _column_type(column: str) -> str:
    return "bigint" if column in _INTEGER_COLUMNS else "varchar"


def _create_tables(
    connection: duckdb.DuckDBPyConnection, rows: dict[str, list[Row]]
) -> None:
    connection.execute(f"CREATE SCHEMA {_ENGINE_SCHEMA}")
    for name, columns in _all_tables().items():
        table = exp.table_(name, db=_ENGINE_SCHEMA)
        definitions = [
            exp.ColumnDef(
                this=exp.to_identifier(column),
                kind=exp.DataType.build(
                    "BIGINT" if column in _INTEGER_COLUMNS else "VARCHAR"
                ),
            )
            for column in columns
        ]
        create = exp.Create(
            this=exp.Schema(this=table, expressions=definitions), kind="TABLE"
        )
        connection.execute(create.sql(dialect="duckdb"))
        if rows[name]:
            # One INSERT of literal rows: executemany takes 10 ms a row here.
            values = exp.values([tuple(map(exp.convert, row)) for row in rows[name]])
            connection.execute(exp.insert(values, table).sql(dialect="duckdb"))


def _mysql_error(exc: duckdb.Error) -> ByomError:
    # DuckDB's first line names the culprit; the rest is a caret drawing.
    reason = str(exc).splitlines()[0].replace(_ENGINE_SCHEMA, DATABASE)
    table = _MISSING_TABLE.search(reason)
    if isinstance(exc, duckdb.CatalogException) and table is not None:
        return UnknownTableError(f"Table '{DATABASE}.{table[1]}' doesn't exist")
    if isinstance(exc, duckdb.BinderException) and "column" in reason.lower():
        return UnknownColumnError(reason)
    return NotSupportedError(
        f"this information_schema query is not supported: {reason}"
    )


def _in_information_schema(table: exp.Table, current: bool) -> bool:
    db = table.text("db").lower()
    return db == DATABASE or (
        current and not db and table.name.upper() in _all_tables()
    )


def _result_type(name: str) -> SqlType:
    for prefix, sql_type in _RESULT_TYPES:
        if name.upper().startswith(prefix):
            return sql_type
    return SqlType.VAR_STRING


def _native(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value
