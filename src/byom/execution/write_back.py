"""Writing a query's rows into an integration's table, batch by batch.

``INSERT INTO pg.scores SELECT t.id, p.number_of_rooms FROM mydb.t JOIN mindsdb.p``
runs the SELECT as any other query and writes each of its batches into the
target in a transaction of its own. The next batch is asked for only once the
previous one is committed, so a slow target slows the query down (the query
itself still reads ahead as far as its own ``calls_in_flight`` allows) and
memory holds a few batches, never the whole result.

Columns map as MySQL maps them: by position onto the table's columns, or onto
the INSERT's column list. CREATE TABLE ... SELECT first creates the table from
the query's column names and types; if the first batch fails, the table is
dropped again, but batches committed before a later failure stay written.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import sqlalchemy as sa
from sqlglot import exp

from byom.errors import (
    AlreadyExistsError,
    ByomError,
    ColumnCountError,
    UnknownColumnError,
)
from byom.execution.executor import QueryResult, Row
from byom.planning.derived import refuse_duplicate_names
from byom.sources.source import DataSource
from byom.sql.write_statements import WriteBack

logger = logging.getLogger(__name__)


async def write_back(
    statement: WriteBack,
    source: DataSource,
    run: Callable[[exp.Expression], Awaitable[QueryResult]],
) -> int:
    """Run the statement's query with run and write its rows; return the count.

    The target is checked before the query starts (1146 for a missing table,
    1050 for CREATE of an existing one), so no model is called in vain.
    """
    table: sa.Table | None = None
    if statement.create:
        if await source.has_table(statement.table, statement.schema):
            if statement.if_not_exists:
                return 0
            raise AlreadyExistsError(f"Table '{statement.target}' already exists")
    else:
        table = await source.writable_table(statement.table, statement.schema)

    result = await run(statement.query)
    batches = result.batches
    try:
        if table is None:
            refuse_duplicate_names([name for name, _ in result.columns])
            table = await source.create_table(
                statement.table, statement.schema, result.columns
            )
            names = [column.name for column in table.columns]
        else:
            names = target_columns(statement, table, len(result.columns))
        return await _write_batches(statement, table, names, batches, source)
    finally:
        await _close(batches)


def target_columns(statement: WriteBack, table: sa.Table, count: int) -> list[str]:
    """The table's columns the query's columns go into, in the query's order.

    Raises 1136 when the counts differ and 1054 for a listed column the table
    does not have (names match in any case, as in MySQL).
    """
    stored = {column.name.lower(): column.name for column in table.columns}
    if statement.columns is None:
        names = [column.name for column in table.columns]
    else:
        names = []
        for name in statement.columns:
            if name.lower() not in stored:
                raise UnknownColumnError(
                    f"Unknown column '{name}' in 'field list' of '{statement.target}'"
                )
            names.append(stored[name.lower()])
    if len(names) != count:
        raise ColumnCountError(
            "Column count doesn't match value count at row 1: "
            f"'{statement.target}' takes {len(names)} column(s), the query "
            f"gives {count}"
        )
    return names


async def _write_batches(
    statement: WriteBack,
    table: sa.Table,
    names: list[str],
    batches: AsyncIterator[list[Row]],
    source: DataSource,
) -> int:
    written = 0
    committed = 0
    try:
        async for batch in batches:
            if batch:
                written += await source.write_rows(table, names, batch)
                committed += 1
    except BaseException:
        if statement.create and committed == 0:
            await _drop_unwritten(table, source)
        elif committed:
            logger.warning(
                "%s: failed after %d rows were committed; they stay written",
                statement.target,
                written,
            )
        raise
    logger.info("%s: %d rows written", statement.target, written)
    return written


async def _drop_unwritten(table: sa.Table, source: DataSource) -> None:
    # Nothing was written: leave no empty table behind. The first failure is
    # the one the client needs to see, so a failing DROP is only logged.
    try:
        await source.drop_table(table)
    except ByomError as exc:
        logger.warning("table %s left behind: %s", table.fullname, exc.message)


async def _close(batches: AsyncIterator[list[Row]]) -> None:
    aclose = getattr(batches, "aclose", None)
    if aclose is not None:
        await aclose()
