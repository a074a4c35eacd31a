"""OK answers that report how many rows a statement wrote.

mysql-mimic answers OK to any result without columns and always reports 0
affected rows: ``Session.query`` has no way to return a count. A session
returns ``affected_rows_result(n)`` instead; its rows object is empty, so mimic
still sees an OK result, and byom's COM_QUERY handler (``commands``) reads the
count from it into the OK packet, where clients find it (PyMySQL's
``cursor.rowcount``, JDBC's update count).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from mysql_mimic.results import ResultSet


class AffectedRows:
    """The (no) rows of an OK result, carrying the affected-row count."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __iter__(self) -> Iterator[Sequence[Any]]:
        return iter(())


def affected_rows_result(count: int) -> ResultSet:
    """An OK result that reports count affected rows."""
    return ResultSet(rows=AffectedRows(count), columns=[])


def affected_rows_of(result: ResultSet) -> int:
    """The affected-row count an OK result reports (0 unless a write set it)."""
    rows = result.rows
    return rows.count if isinstance(rows, AffectedRows) else 0
