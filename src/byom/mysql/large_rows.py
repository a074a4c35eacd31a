"""Result rows of 16 MiB or more, which the MySQL protocol splits over packets.

A packet carries at most 0xFFFFFF bytes; a longer payload goes out as several
packets, the last one shorter than that. mysql-mimic's fast row writer frames
every row as one packet whatever its size, so a huge value (a long text or
blob) corrupts the stream. byom keeps the fast writer for the usual batch and
re-frames a batch only when it has written 16 MiB or more, since only then can
one of its rows be that large.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mysql_mimic.results import ResultColumn
from mysql_mimic.stream import MysqlStream

MAX_PAYLOAD = 0xFFFFFF
_HEADER = 4


async def write_rows(
    stream: MysqlStream, rows: Sequence[Sequence[Any]], columns: Sequence[ResultColumn]
) -> None:
    """Buffer rows as text-protocol packets, splitting any row too large for one."""
    start, sequence = len(stream._buffer), stream.seq.value
    stream.write_text_rows(rows, columns)
    if len(stream._buffer) - start < MAX_PAYLOAD:
        return

    del stream._buffer[start:]
    stream.seq.value = sequence
    for row in rows:
        await _write_row(stream, row, columns)


async def _write_row(
    stream: MysqlStream, row: Sequence[Any], columns: Sequence[ResultColumn]
) -> None:
    start, sequence = len(stream._buffer), stream.seq.value
    stream.write_text_rows([row], columns)
    if len(stream._buffer) - start - _HEADER < MAX_PAYLOAD:
        return

    # The header written for this row is wrong; frame its payload again.
    payload = bytes(stream._buffer[start + _HEADER :])
    del stream._buffer[start:]
    stream.seq.value = sequence
    await stream.write(payload, drain=True)
