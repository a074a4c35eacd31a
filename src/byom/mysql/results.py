"""Typed MySQL result sets from byom's results.

Every column gets an explicit MySQL type: mysql-mimic would otherwise guess from
the first value, and sends VARCHAR (which libmysql's binary protocol rejects)
for Decimal and anything it does not know.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from mysql_mimic.charset import CharacterSet
from mysql_mimic.results import ResultColumn, ResultSet
from mysql_mimic.types import ColumnType

from byom.backends.values import time_text
from byom.mysql.compat import batched_result, forwarded_result
from byom.sources.source import PacketBatch
from byom.types import SqlType, double_text


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
    if sql_type is SqlType.TIME and not text_cells:
        return ResultColumn(name, ColumnType.TIME, text_encoder=_time_text)
    return ResultColumn(name, ColumnType[sql_type.value])


def _double_text(column: ResultColumn, value: Any) -> bytes:
    return double_text(float(value))


def _time_text(column: ResultColumn, value: Any) -> bytes:
    # A MySQL driver reads a TIME as a timedelta, whose str() is Python's
    # ("-1 day, 22:30:00"); MySQL writes -01:30:00, and 838:59:59 past a day.
    if isinstance(value, dt.timedelta):
        return time_text(value).encode()
    return value if isinstance(value, bytes) else str(value).encode()


def typed_result(
    columns: list[tuple[str, SqlType]],
    batches: AsyncIterator[Sequence[Sequence[Any]]],
    tables: list[str] | None = None,
    text_cells: Sequence[bool] = (),
) -> ResultSet:
    """A streamed result set with explicit column types (and tables, if known).

    ``text_cells`` marks the columns whose cells are MySQL's text protocol
    bytes already, which only a result going out in the text protocol may
    carry.
    """
    text = list(text_cells) or [False] * len(columns)
    typed = [
        result_column(name, kind, is_text)
        for (name, kind), is_text in zip(columns, text, strict=True)
    ]
    return batched_result(batches, typed, tables or ())


def packet_result(
    columns: list[tuple[str, SqlType]],
    packets: AsyncIterator[PacketBatch],
    definitions: list[bytes],
) -> ResultSet:
    """A result whose rows are a MySQL source's text protocol packets, as sent.

    ``definitions`` are the source's column definition payloads, sent in place
    of byom's so that the client reads the source's own metadata (types,
    lengths, flags, character sets) beside its own bytes. Only a result going
    out in the text protocol may carry them.
    """
    typed = [result_column(name, kind, text_cells=True) for name, kind in columns]
    return forwarded_result(packets, typed, definitions)


def static_result(
    columns: list[tuple[str, SqlType]], rows: list[tuple[Any, ...]]
) -> ResultSet:
    """A small result set built in memory (catalog listings, messages)."""
    return ResultSet(rows=rows, columns=[result_column(n, t) for n, t in columns])
