"""Running a plan's local step: DuckDB over the joined rows, after prediction.

The joined rows reach DuckDB as Arrow tables typed from the plan's columns, so a
NULL stays NULL and no type is guessed from values. The result's column types
are read from DuckDB's own types, mapped to MySQL's, before any row is fetched
or scored; a query DuckDB rejects fails then, naming the part of the user's SQL
at fault.

A streaming step runs on each scored batch as it arrives, so rows keep flowing
in the source's order. Any other step needs every row at once: the batches are
gathered, at most ``max_local_rows`` rows, and the query runs once, its result
read out in batches. Each query has its own in-memory DuckDB connection that
cannot touch files, URLs or extensions, and one worker thread for it, so the
event loop never waits on DuckDB. The executor imports this module only for a
plan with a local step, as DuckDB and pyarrow take time and memory to load.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import logging
import re
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from duckdb.sqltypes import DuckDBPyType

from byom.errors import ByomError, NotSupportedError, UnknownColumnError
from byom.planning.local_query import SOURCE_RELATION, model_relation
from byom.planning.plan import LocalStep, OutputColumn
from byom.types import SqlType, cast_value

logger = logging.getLogger(__name__)

Row = tuple[Any, ...]
T = TypeVar("T")

CONNECTION_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    # The user's SQL runs here: it must not read files or URLs, or load code.
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    # MySQL answers NULL to a division by zero, DuckDB would fail the query.
    "error_on_division_by_zero": False,
    # MySQL's default collations compare text without regard to case.
    "default_collation": "nocase",
    "threads": 2,
    "lock_configuration": True,
}

_ARROW_TYPES = {
    SqlType.TINY: pa.int8(),
    SqlType.LONGLONG: pa.int64(),
    SqlType.DOUBLE: pa.float64(),
    SqlType.VAR_STRING: pa.string(),
    SqlType.DATE: pa.date32(),
    SqlType.DATETIME: pa.timestamp("us"),
    # A MySQL TIME is a duration (negative, or past a day, as in 838:59:59),
    # which DuckDB holds as an INTERVAL; a time of day fits one as well.
    SqlType.TIME: pa.duration("us"),
    SqlType.BLOB: pa.binary(),
    SqlType.NULL: pa.null(),
}

# DuckDB's result types (DuckDBPyType.id) and the MySQL type each is sent as.
# Booleans are integers in MySQL (a comparison is a BIGINT 0 or 1); HUGEINT is
# what DuckDB's SUM of integers gives, where MySQL's gives a DECIMAL.
_RESULT_TYPES = {
    "boolean": SqlType.LONGLONG,
    "tinyint": SqlType.TINY,
    "smallint": SqlType.LONGLONG,
    "integer": SqlType.LONGLONG,
    "bigint": SqlType.LONGLONG,
    "utinyint": SqlType.LONGLONG,
    "usmallint": SqlType.LONGLONG,
    "uinteger": SqlType.LONGLONG,
    "hugeint": SqlType.NEWDECIMAL,
    "ubigint": SqlType.NEWDECIMAL,
    "uhugeint": SqlType.NEWDECIMAL,
    "float": SqlType.DOUBLE,
    "double": SqlType.DOUBLE,
    "decimal": SqlType.NEWDECIMAL,
    "varchar": SqlType.VAR_STRING,
    "uuid": SqlType.VAR_STRING,
    "date": SqlType.DATE,
    "timestamp": SqlType.DATETIME,
    "timestamp_s": SqlType.DATETIME,
    "timestamp_ms": SqlType.DATETIME,
    "timestamp_ns": SqlType.DATETIME,
    "time": SqlType.TIME,
    "interval": SqlType.TIME,
    "blob": SqlType.BLOB,
    "null": SqlType.NULL,
}

# How DuckDB names a column it cannot find.
MISSING_COLUMN = re.compile(
    r'Referenced column "([^"]*)" not found|does not have a column named "([^"]*)"'
)

# DuckDB errors that mean the query itself is not something byom can run.
_REFUSALS = (
    duckdb.BinderException,
    duckdb.CatalogException,
    duckdb.ParserException,
    duckdb.NotImplementedException,
)


class LocalQuery:
    """One local step on its own DuckDB connection and worker thread."""

    def __init__(self, step: LocalStep, inputs: list[OutputColumn]) -> None:
        self._step = step
        self._parts: list[list[OutputColumn]] = []
        start = 0
        for width in step.widths:
            self._parts.append(inputs[start : start + width])
            start += width
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="byom-local")
        self._connection = duckdb.connect(":memory:", config=CONNECTION_CONFIG)
        self._converters: list[Callable[[Any], Any]] = []
        # A result the client never reads still frees its connection and thread.
        self._closer = weakref.finalize(
            self, _shut_down, self._connection, self._worker
        )

    async def columns(self) -> list[tuple[str, SqlType]]:
        """Bind the query over no rows: its typed columns, or the user's error."""
        await self._call(self._register, self._tables([]))
        described = await self._call(self._describe)
        kinds = [
            result_type(name, kind)
            for name, kind in zip(self._step.names, described, strict=True)
        ]
        self._converters = [converter(kind.id) for kind in described]
        return list(zip(self._step.names, kinds, strict=True))

    async def each_batch(
        self, batches: AsyncIterator[list[Row]]
    ) -> AsyncIterator[list[Row]]:
        """Run the query on each batch as it comes, in order (streaming steps)."""
        try:
            async for rows in batches:
                if not rows:
                    continue
                result = await self._call(self._run_on, rows)
                if result:
                    yield result
        finally:
            await _close(batches)
            self.close()

    async def all_rows(
        self, batches: AsyncIterator[list[Row]], batch_rows: int
    ) -> AsyncIterator[list[Row]]:
        """Gather every batch, run the query once, yield its result in batches."""
        try:
            parts: list[list[pa.Table]] = []
            count = 0
            async for rows in batches:
                count += len(rows)
                if count > self._step.max_rows:
                    raise ByomError(
                        f"the query needs more than max_local_rows "
                        f"({self._step.max_rows}) joined rows in memory to order, "
                        "group or filter them after prediction; filter on table "
                        "columns first or raise the max_local_rows setting"
                    )
                if rows:
                    parts.append(await self._call(self._tables, rows))
            joined = _concatenated(parts) if parts else self._tables([])
            await self._call(self._register, joined)
            logger.debug("local step over %d joined rows", count)
            await self._call(self._execute)
            while chunk := await self._call(self._fetch, batch_rows):
                yield chunk
        finally:
            await _close(batches)
            self.close()

    def close(self) -> None:
        """Stop any query in progress and close the connection after it."""
        self._closer()

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._worker, function, *args)
        try:
            return await future
        except asyncio.CancelledError:
            self._connection.interrupt()
            raise

    # The methods below run on the worker thread.

    def _tables(self, rows: list[Row]) -> list[pa.Table]:
        width = sum(self._step.widths)
        cells = list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]
        tables = []
        start = 0
        for part in self._parts:
            stop = start + len(part)
            tables.append(_arrow_table(part, cells[start:stop], len(rows)))
            start = stop
        return tables

    def _run_on(self, rows: list[Row]) -> list[Row]:
        # One hop to the worker thread per batch: convert, run, read back.
        self._register(self._tables(rows))
        self._execute()
        return self._fetch(None)

    def _register(self, tables: list[pa.Table]) -> None:
        source, *models = tables
        if self._parts[0]:
            self._connection.register(SOURCE_RELATION, source)
        for position, model in enumerate(models):
            self._connection.register(model_relation(position), model)

    def _describe(self) -> list[DuckDBPyType]:
        try:
            return list(self._connection.sql(self._step.sql).types)
        except duckdb.Error as exc:
            raise self._error(exc) from None

    def _execute(self) -> None:
        try:
            self._connection.execute(self._step.sql)
        except duckdb.Error as exc:
            raise self._error(exc) from None

    def _fetch(self, count: int | None) -> list[Row]:
        try:
            rows = (
                self._connection.fetchall()
                if count is None
                else self._connection.fetchmany(count)
            )
        except duckdb.Error as exc:
            raise self._error(exc) from None
        converters = self._converters
        if all(convert is _same for convert in converters):
            return rows
        return [
            tuple(
                convert(value) for convert, value in zip(converters, row, strict=True)
            )
            for row in rows
        ]

    def _error(self, exc: duckdb.Error) -> ByomError:
        reason = str(exc).split("\n", 1)[0]
        missing = MISSING_COLUMN.search(reason)
        if isinstance(exc, duckdb.BinderException) and missing is not None:
            name = missing[1] or missing[2]
            return UnknownColumnError(f"Unknown column '{name}' in 'field list'")
        culprit = self._culprit()
        where = f"'{culprit}'" if culprit else "the query"
        kind = NotSupportedError if isinstance(exc, _REFUSALS) else ByomError
        return kind(f"cannot evaluate {where} after prediction: {reason}")

    def _culprit(self) -> str | None:
        # The first part of the query that fails on its own, over the same rows.
        for text, sql in self._step.probes:
            try:
                self._connection.execute(sql).fetchall()
            except duckdb.Error:
                return text
        return None


def _shut_down(
    connection: duckdb.DuckDBPyConnection, worker: ThreadPoolExecutor
) -> None:
    # Closing waits on the worker thread for a query in progress, which the
    # interrupt ends soon.
    connection.interrupt()
    worker.submit(connection.close)
    worker.shutdown(wait=False)


def _arrow_table(
    columns: list[OutputColumn], cells: list[tuple[Any, ...]], count: int
) -> pa.Table:
    arrays = [_arrow_array(c, list(v)) for c, v in zip(columns, cells, strict=True)]
    if not arrays:
        # Only a single-row step has no table columns; it never registers them.
        return pa.table({"unused": pa.nulls(count)})
    return pa.Table.from_arrays(arrays, names=[column.name for column in columns])


def _arrow_array(column: OutputColumn, values: list[Any]) -> pa.Array:
    kind = column.sql_type
    arrow_type = _ARROW_TYPES.get(kind) or pa.decimal128(38, _scale(values))
    if kind is SqlType.TIME:
        values = [_as_duration(value) for value in values]
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    # Values a source or model gave in another Python type (a bool for a TINY,
    # a string for a DATE): converted as they would be for the client.
    try:
        converted = [cast_value(value, kind) for value in values]
        return pa.array(converted, type=arrow_type)
    except (ValueError, TypeError, ArithmeticError, pa.ArrowException) as exc:
        raise ByomError(
            f"column '{column.name}' holds a value that is not "
            f"{kind.value}, so the query cannot go on after prediction: {exc}"
        ) from None


def _as_duration(value: Any) -> Any:
    # PostgreSQL's drivers read a TIME as a time of day, MySQL's as a timedelta.
    if isinstance(value, dt.time):
        return dt.timedelta(
            hours=value.hour,
            minutes=value.minute,
            seconds=value.second,
            microseconds=value.microsecond,
        )
    return value


def _scale(values: list[Any]) -> int:
    exponents = [
        -exponent
        for value in values
        if isinstance(value, decimal.Decimal)
        and isinstance(exponent := value.as_tuple().exponent, int)
        and exponent < 0
    ]
    return min(max(exponents, default=0), 30)


def _concatenated(parts: list[list[pa.Table]]) -> list[pa.Table]:
    return [_concat([part[i] for part in parts]) for i in range(len(parts[0]))]


def _concat(tables: list[pa.Table]) -> pa.Table:
    # Each batch's DECIMAL columns have the scale of its own values; all take
    # the largest, which holds every value exactly.
    fields = []
    for index, field in enumerate(tables[0].schema):
        if pa.types.is_decimal(field.type):
            scale = max(table.schema.field(index).type.scale for table in tables)
            field = field.with_type(pa.decimal128(38, scale))
        fields.append(field)
    schema = pa.schema(fields)
    return pa.concat_tables([table.cast(schema) for table in tables])


def result_type(name: str, kind: DuckDBPyType) -> SqlType:
    """The MySQL type a DuckDB result column is sent as, or a refusal naming it."""
    found = _RESULT_TYPES.get(kind.id)
    if found is None:
        raise NotSupportedError(
            f"column '{name}' would be a DuckDB {kind}, which byom cannot send "
            "as a MySQL type; CAST it to a number, a string or a date"
        )
    return found


def converter(duckdb_type: str) -> Callable[[Any], Any]:
    """How a DuckDB value becomes the value of its MySQL type, by DuckDB type."""
    kind = _RESULT_TYPES[duckdb_type]
    if duckdb_type in ("boolean", "float", "double") or kind is SqlType.NEWDECIMAL:
        # Booleans become 0 and 1, HUGEINT sums Decimals, NaN a NULL.
        return lambda value: cast_value(value, kind)
    if duckdb_type == "uuid":
        return lambda value: None if value is None else str(value)
    return _same


def _same(value: Any) -> Any:
    return value


async def _close(batches: AsyncIterator[list[Row]]) -> None:
    aclose = getattr(batches, "aclose", None)
    if aclose is not None:
        await aclose()
