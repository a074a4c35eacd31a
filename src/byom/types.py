"""SQL types of result columns, and the conversions into and out of them.

byom never lets the MySQL library guess a column's type from a Python value: each
result column carries a ``SqlType`` taken from the source's metadata, from the
predictor's ``dtype_dict`` or from the training data. Values are converted to
plain Python objects of that type before they reach the wire.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import math
from typing import Any, cast

import orjson
import sqlalchemy.types as sat


class SqlType(enum.Enum):
    """The MySQL column types byom sends (names match mysql-mimic's ColumnType)."""

    TINY = "TINY"
    LONGLONG = "LONGLONG"
    DOUBLE = "DOUBLE"
    NEWDECIMAL = "NEWDECIMAL"
    VAR_STRING = "VAR_STRING"
    DATE = "DATE"
    DATETIME = "DATETIME"
    TIME = "TIME"
    BLOB = "BLOB"
    NULL = "NULL"


# Lightwood type names used in dtype_dict, and the column type of each. Loose
# types (categorical, binary) are refined from the training data when known.
DTYPE_SQL_TYPES: dict[str, SqlType] = {
    "integer": SqlType.LONGLONG,
    "float": SqlType.DOUBLE,
    "binary": SqlType.VAR_STRING,
    "categorical": SqlType.VAR_STRING,
    "tags": SqlType.VAR_STRING,
    "date": SqlType.DATE,
    "datetime": SqlType.DATETIME,
    "rich_text": SqlType.VAR_STRING,
    "short_text": SqlType.VAR_STRING,
    "text": SqlType.VAR_STRING,
}


# How SHOW COLUMNS and information_schema spell each type.
_TYPE_NAMES = {
    SqlType.TINY: "tinyint",
    SqlType.LONGLONG: "bigint",
    SqlType.DOUBLE: "double",
    SqlType.NEWDECIMAL: "decimal",
    SqlType.VAR_STRING: "varchar",
    SqlType.DATE: "date",
    SqlType.DATETIME: "datetime",
    SqlType.TIME: "time",
    SqlType.BLOB: "blob",
    SqlType.NULL: "null",
}


def type_name(sql_type: SqlType) -> str:
    """The lower-case MySQL type name of a column type."""
    return _TYPE_NAMES[sql_type]


def from_sqlalchemy(column_type: sat.TypeEngine[Any]) -> SqlType:
    """The column type for a type reflected from a source by SQLAlchemy."""
    checks: list[tuple[type[sat.TypeEngine[Any]], SqlType]] = [
        (sat.Boolean, SqlType.TINY),
        (sat.Integer, SqlType.LONGLONG),
        (sat.Float, SqlType.DOUBLE),
        (sat.Numeric, SqlType.NEWDECIMAL),
        (sat.DateTime, SqlType.DATETIME),
        (sat.Date, SqlType.DATE),
        (sat.Time, SqlType.TIME),
        (sat.LargeBinary, SqlType.BLOB),
        (sat._Binary, SqlType.BLOB),
    ]
    for kind, sql_type in checks:
        if isinstance(column_type, kind):
            return sql_type
    return SqlType.VAR_STRING


# The column type CREATE TABLE ... SELECT gives each result type. Text is TEXT
# everywhere: MySQL counts every VARCHAR's full width against its 65,535-byte
# row limit, which a wide result would pass, and PostgreSQL's TEXT is unbounded.
# A column of nothing but NULLs gets TEXT too, the type that takes anything.
_SQLALCHEMY_TYPES: dict[SqlType, sat.TypeEngine[Any]] = {
    SqlType.TINY: sat.SmallInteger(),
    SqlType.LONGLONG: sat.BigInteger(),
    SqlType.DOUBLE: sat.Double(),
    SqlType.NEWDECIMAL: sat.Numeric(38, 10),
    SqlType.VAR_STRING: sat.Text(),
    SqlType.DATE: sat.Date(),
    SqlType.DATETIME: sat.DateTime(),
    SqlType.TIME: sat.Time(),
    SqlType.BLOB: sat.LargeBinary(),
    SqlType.NULL: sat.Text(),
}


def to_sqlalchemy(sql_type: SqlType) -> sat.TypeEngine[Any]:
    """The SQLAlchemy type of a new table's column that holds sql_type values."""
    return _SQLALCHEMY_TYPES[sql_type]


def from_value(value: Any) -> SqlType:
    """The column type that holds a Python value exactly (for literals and data)."""
    if value is None:
        return SqlType.NULL
    if isinstance(value, bool):
        return SqlType.TINY
    if isinstance(value, int):
        return SqlType.LONGLONG
    if isinstance(value, float):
        return SqlType.DOUBLE
    if isinstance(value, decimal.Decimal):
        return SqlType.NEWDECIMAL
    if isinstance(value, dt.datetime):
        return SqlType.DATETIME
    if isinstance(value, dt.date):
        return SqlType.DATE
    if isinstance(value, dt.time | dt.timedelta):
        return SqlType.TIME
    if isinstance(value, bytes | bytearray | memoryview):
        return SqlType.BLOB
    return SqlType.VAR_STRING


def common_type(values: list[Any]) -> SqlType:
    """The one type that holds every value of a column (training data)."""
    kinds = {from_value(v) for v in values} - {SqlType.NULL}
    if not kinds:
        return SqlType.NULL
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {SqlType.LONGLONG, SqlType.DOUBLE, SqlType.TINY}:
        return SqlType.DOUBLE
    if kinds <= {SqlType.LONGLONG, SqlType.NEWDECIMAL, SqlType.TINY}:
        return SqlType.NEWDECIMAL
    return SqlType.VAR_STRING


def cast_value(value: Any, sql_type: SqlType) -> Any:
    """Convert a model's answer to the Python value of a column type.

    Raises ValueError when the value cannot be that type without loss that would
    mislead (a label where a number is declared). An integer column takes a float
    only when it is integral: a model answering 2.0 for a class means 2.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if sql_type is SqlType.LONGLONG:
        return _in_bigint_range(_to_int(value))
    if sql_type is SqlType.DOUBLE:
        return float(value)
    if sql_type is SqlType.NEWDECIMAL:
        return decimal.Decimal(str(value))
    if sql_type is SqlType.TINY:
        return int(bool(value)) if isinstance(value, bool) else _to_int(value)
    if sql_type is SqlType.DATE:
        return dt.date.fromisoformat(str(value)[:10])
    if sql_type is SqlType.DATETIME:
        return dt.datetime.fromisoformat(str(value))
    if sql_type is SqlType.VAR_STRING:
        return _label(value)
    return value


# A LONGLONG column holds a signed 64-bit integer.
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def _in_bigint_range(value: int) -> int:
    if not _BIGINT_MIN <= value <= _BIGINT_MAX:
        raise ValueError(f"{value} is out of the BIGINT range")
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return _to_int(float(text))
    raise ValueError(f"{value!r} is not a number")


def _label(value: Any) -> str:
    # A class label the model answered as a float (2.0) reads as "2".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def double_text(value: float) -> bytes:
    """A DOUBLE as the MySQL text protocol carries it, in its shortest exact form.

    MySQL writes no trailing ".0" and no "+" in an exponent (5436, 4123.812,
    1e20); orjson's shortest round-trip digits are the same as Python's repr,
    and faster to get.

    >>> double_text(5436.0), double_text(1e20), double_text(1e-7)
    (b'5436', b'1e20', b'1e-7')
    """
    text = orjson.dumps(value) if math.isfinite(value) else repr(value).encode()
    if text.endswith(b".0"):
        text = text[:-2]
    return text.replace(b"e+", b"e")


def double_texts(values: list[Any]) -> list[bytes | None]:
    """``double_text`` of every value (None stays None), in a few C-level passes.

    One orjson array is cut into its numbers: a batch of model answers costs a
    fraction of a Python call per value.
    """
    text = orjson.dumps(values)
    nulls = values.count(None)
    if text.count(b"null") != nulls:
        # orjson writes an infinity as null; such a batch goes value by value.
        return [None if v is None else double_text(v) for v in values]
    text = text[1:-1].replace(b"e+", b"e") + b","
    cells = text.replace(b".0,", b",").split(b",")
    cells.pop()
    if nulls:
        return [None if cell == b"null" else cell for cell in cells]
    return cast(list[bytes | None], cells)
