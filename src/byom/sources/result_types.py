"""MySQL column types for a source's own query results.

MySQL drivers report MySQL type codes and PostgreSQL drivers report type OIDs, in
the cursor description; SQLite reports none, so its columns are typed from the
values of the first batch (SQLite stores values, not column types, anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from byom.types import SqlType, common_type

_MYSQL_CODES: dict[int, SqlType] = {
    0: SqlType.NEWDECIMAL,
    1: SqlType.LONGLONG,
    2: SqlType.LONGLONG,
    3: SqlType.LONGLONG,
    4: SqlType.DOUBLE,
    5: SqlType.DOUBLE,
    7: SqlType.DATETIME,
    8: SqlType.LONGLONG,
    9: SqlType.LONGLONG,
    10: SqlType.DATE,
    11: SqlType.TIME,
    12: SqlType.DATETIME,
    13: SqlType.LONGLONG,
    # BIT: its value is the bytes of the bits, binary as in MySQL's own results.
    16: SqlType.BLOB,
    246: SqlType.NEWDECIMAL,
}

_POSTGRES_OIDS: dict[int, SqlType] = {
    16: SqlType.TINY,
    17: SqlType.BLOB,
    20: SqlType.LONGLONG,
    21: SqlType.LONGLONG,
    23: SqlType.LONGLONG,
    700: SqlType.DOUBLE,
    701: SqlType.DOUBLE,
    1082: SqlType.DATE,
    1083: SqlType.TIME,
    1114: SqlType.DATETIME,
    1184: SqlType.DATETIME,
    1700: SqlType.NEWDECIMAL,
}

# Codes shared by text and binary columns (TEXT and BLOB, VARCHAR and
# VARBINARY, CHAR and BINARY), and GEOMETRY, binary; the values tell them apart.
_MYSQL_BLOBS = {249, 250, 251, 252, 253, 254, 255}


def result_types(
    dialect: str,
    description: Sequence[Sequence[Any]] | None,
    rows: list[tuple[Any, ...]],
) -> list[SqlType]:
    """One SqlType per result column, from the driver's description and values."""
    if description is None:
        return []
    types: list[SqlType] = []
    for index, column in enumerate(description):
        code = column[1]
        values = [row[index] for row in rows[:100]]
        types.append(_column_type(dialect, code, values))
    return types


def _column_type(dialect: str, code: Any, values: list[Any]) -> SqlType:
    if dialect == "mysql" and isinstance(code, int):
        if code in _MYSQL_BLOBS:
            blob = any(isinstance(v, bytes | bytearray) for v in values)
            return SqlType.BLOB if blob else SqlType.VAR_STRING
        return _MYSQL_CODES.get(code, SqlType.VAR_STRING)
    if dialect == "postgres" and isinstance(code, int):
        return _POSTGRES_OIDS.get(code, SqlType.VAR_STRING)
    learnt = common_type(values)
    return SqlType.VAR_STRING if learnt is SqlType.NULL else learnt


def definition_type(type_code: int, binary: bool) -> SqlType:
    """The SqlType of a MySQL column from its definition: its type code, and
    whether its charset is binary (BLOB and VARBINARY, not TEXT and VARCHAR)."""
    if type_code in _MYSQL_BLOBS:
        return SqlType.BLOB if binary else SqlType.VAR_STRING
    return _MYSQL_CODES.get(type_code, SqlType.VAR_STRING)
