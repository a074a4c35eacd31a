"""Typed MySQL result sets from byom's results.

Every column gets an explicit MySQL type: mysql-mimic would otherwise guess from
the first value, and sends VARCHAR (which libmysql's binary protocol rejects)
for Decimal and anything it does not know.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from mysql_mimic.charset import CharacterSet
from mysql_mimic.results import ResultColumn, ResultSet
from mysql_mimic.types import ColumnType

from byom.mysql.compat import batched_result
from byom.types import SqlType


def result_column(
    name: str, sql_type: SqlType, text_cells: bool = False
) -> ResultColumn:
    """The column definition sent for one typed column.

    ``text_cells``: the values are already MySQL's text for the column (bytes
    from a MySQL source), so mimic's default encoder passes them on as they are.
    """
    if sql_type is SqlType.BLOB:
        return ResultColumn(name, ColumnType.BLOB, character_set=CharacterSet.binary)
    if sql_type is SqlType.DOUBLE and not text_cells:
        return ResultColumn(name, ColumnType.DOUBLE, text_encoder=_double_text)
    return ResultColumn(name, ColumnType[sql_type.value])


def _double_text(column: ResultColumn, value: Any) -> bytes:
    # MySQL prints a DOUBLE in its shortest exact form without a trailing ".0"
    # (5436, 4123.812, 1e20); Python's repr gives the same digits.
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    return text.replace("e+", "e").encode()


def typed_result(
    columns: list[tuple[str, SqlType]],
    batches: AsyncIterator[Sequence[Sequence[Any]]],
    tables: list[str] | None = None,
    text_cells: bool = False,
) -> ResultSet:
    """A streamed result set with explicit column types (and tables, if known).

    ``text_cells``: every cell is MySQL's text protocol bytes already, which
    only a result going out in the text protocol may carry.
    """
    typed = [result_column(name, kind, text_cells) for name, kind in columns]
    return batched_result(batches, typed, tables or ())


def static_result(
    columns: list[tuple[str, SqlType]], rows: list[tuple[Any, ...]]
) -> ResultSet:
    """A small result set built in memory (catalog listings, messages)."""
    return ResultSet(rows=rows, columns=[result_column(n, t) for n, t in columns])
