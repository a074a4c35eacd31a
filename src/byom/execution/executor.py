"""Running plans: fetch, score in batches, and build typed output rows.

Results stream: each source batch is scored and turned into output rows while
the next batches are read and scored, and the client receives rows as soon as
their batch is done.
"""

from __future__ import annotations

import asyncio
import logging
import operator
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from byom.backends.base import ModelBackend, Prediction
from byom.backends.formats import Backends
from byom.catalog.records import Predictor
from byom.errors import ModelError, ModelUnreachableError, PredictorNotReadyError
from byom.execution.call_size import call_rows, joined_predictions
from byom.execution.pipeline import ordered_map
from byom.planning.plan import (
    DerivedPlan,
    JoinPlan,
    LocalStep,
    ModelCall,
    OutputColumn,
    PassthroughPlan,
    PredictorPlan,
    SinglePredictPlan,
)
from byom.planning.predictor_columns import ERROR_SUFFIX
from byom.sources.registry import Sources
from byom.sources.source import ColumnParser, DataSource, PacketBatch, RowBatch
from byom.types import SqlType, cast_value, common_type, double_texts

logger = logging.getLogger(__name__)

Row = tuple[Any, ...]
In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class QueryResult:
    """Typed result columns and the stream of row batches that fill them.

    ``tables`` names, for each column, the table or predictor alias it comes
    from ("" for an expression), when the plan knows; empty otherwise.
    ``text_cells`` says, for each column, whether its cells are MySQL's text
    for their values, as a MySQL source sent them (bytes for every type but
    text and blobs), rather than Python values of the column's type; empty
    when no column's are. ``packets``, in place of ``batches``, streams the
    rows as the MySQL text protocol packets a MySQL source sent for them, and
    ``column_packets`` holds the source's column definitions for them.
    """

    columns: list[tuple[str, SqlType]]
    batches: AsyncIterator[list[Row]]
    tables: list[str] = field(default_factory=list)
    text_cells: list[bool] = field(default_factory=list)
    packets: AsyncIterator[PacketBatch] | None = None
    column_packets: list[bytes] = field(default_factory=list)


class _Caller:
    """Scores batches with one predictor of a join, in calls the plan allows.

    A fetched batch larger than the call's limits (rows, or the estimated bytes
    of its inputs) goes as several calls, one after the other, so the calls in
    flight stay those the plan allows.
    """

    def __init__(self, call: ModelCall, backend: ModelBackend):
        self._call = call
        self._backend = backend
        self._names = [name for name, _ in call.inputs] + list(call.constants)
        self._positions = [index for _, index in call.inputs]
        self._constants = tuple(call.constants.values())
        self._inputs = _input_picker(self._positions, self._constants)
        self._batch_rows = call.batch_rows
        self._batch_bytes = call.batch_bytes

    async def score(
        self, rows: list[Row], parsers: list[ColumnParser | None]
    ) -> Prediction:
        """The model's answer for every row, in order.

        ``parsers`` (for fetched text cells) make the inputs typed values.
        """
        if parsers:
            inputs = _parsed_inputs(rows, self._positions, parsers, self._constants)
        else:
            inputs = self._inputs(rows)
        size = call_rows(self._names, inputs, self._batch_rows, self._batch_bytes)
        if size >= len(inputs):
            return await self._one_call(inputs)
        parts = [
            await self._one_call(inputs[start : start + size])
            for start in range(0, len(inputs), size)
        ]
        return joined_predictions(parts)

    async def _one_call(self, inputs: list[Row]) -> Prediction:
        predictor = self._call.predictor
        started = time.monotonic()
        prediction = await _predict(self._backend, predictor, self._names, inputs)
        logger.debug(
            "predictor %s: scored %d rows in %.3f s",
            predictor.name,
            len(inputs),
            time.monotonic() - started,
        )
        return prediction


class Executor:
    """Runs plans against the sources and model backends."""

    def __init__(self, sources: Sources, backends: Backends) -> None:
        self._sources = sources
        self._backends = backends

    async def run(
        self,
        plan: PredictorPlan | DerivedPlan | PassthroughPlan,
        *,
        text_cells: bool = False,
    ) -> QueryResult:
        """Start running a plan; rows arrive as the result's batches are read.

        ``text_cells`` allows a passthrough, or a join sending its rows on
        as they are, to keep a MySQL source's text cells; the result says
        which columns did.
        """
        if isinstance(plan, PassthroughPlan):
            return await self._run_passthrough(plan, text_cells)
        if isinstance(plan, DerivedPlan):
            inner = await self.run(plan.inner)
            rows = [
                OutputColumn(name, kind, "row", index=index)
                for index, (name, kind) in enumerate(inner.columns)
            ]
            batch_rows = (
                plan.inner.batch_rows if isinstance(plan.inner, JoinPlan) else 1
            )
            return await _shaped(plan.local, rows, inner, batch_rows)
        _require_ready(plan)
        if isinstance(plan, SinglePredictPlan):
            return await self._run_single(plan)
        return await self._run_join(plan, text_cells)

    async def _run_single(self, plan: SinglePredictPlan) -> QueryResult:
        outputs = list(plan.outputs)
        if plan.empty:
            return await _after_prediction(plan, _typed(outputs), _batches([]))

        predictor = plan.predictor
        columns = list(plan.inputs)
        backend = self._backends.for_format(predictor.format)
        try:
            prediction = await _predict(
                backend, predictor, columns, [tuple(plan.inputs.values())]
            )
        except ModelError as exc:
            raise _naming_null_inputs(exc, plan.inputs) from None
        if plan.star:
            known = {c.key for c in outputs if c.origin == "model"} | set(plan.inputs)
            for key, values in prediction.columns.items():
                if key not in known:
                    kind = common_type(values)
                    kind = SqlType.VAR_STRING if kind is SqlType.NULL else kind
                    outputs.append(OutputColumn(key, kind, "model", key=key))
        rows = _compose(plan, outputs, [()], [prediction])
        return await _after_prediction(plan, _typed(outputs), _batches([rows]))

    async def _run_join(self, plan: JoinPlan, text_cells: bool) -> QueryResult:
        source = self._sources.get(plan.source)
        callers = [
            _Caller(call, self._backends.for_format(call.predictor.format))
            for call in plan.models
        ]

        async def score(batch: RowBatch) -> list[Row]:
            rows, parsers = batch.rows, batch.parsers
            if not rows:
                # Models reject zero rows (MLflow answers 400, Ray 500).
                return []
            if len(callers) == 1:
                predictions = [await callers[0].score(rows, parsers)]
            else:
                # Each predictor scores the batch at the same time as the others;
                # one failing cancels the others' calls.
                try:
                    async with asyncio.TaskGroup() as group:
                        tasks = [
                            group.create_task(c.score(rows, parsers)) for c in callers
                        ]
                except ExceptionGroup as failed:
                    raise failed.exceptions[0] from None
                predictions = [task.result() for task in tasks]
            return _compose(plan, plan.outputs, rows, predictions, text_cells)

        # Only rows sent on as they are may keep the source's text: a local
        # step computes over typed values.
        text_cells = text_cells and plan.local is None and source.sends_text_cells
        fetched = source.stream(plan.fetch_sql, plan.batch_rows, text_cells=text_cells)
        batches = ordered_map(fetched, score, plan.calls_in_flight)
        result = await _after_prediction(plan, _typed(plan.outputs), batches)
        if plan.local is None:
            result.tables = [_alias_of(plan, column) for column in plan.outputs]
        if text_cells:
            result.text_cells = [_as_text(column) for column in plan.outputs]
        return result

    async def _run_passthrough(
        self, plan: PassthroughPlan, text_cells: bool
    ) -> QueryResult:
        source = self._sources.get(plan.source)
        if text_cells and source.forwards_row_packets:
            return await _forwarded(source, plan.sql)
        text_cells = text_cells and source.sends_text_cells
        stream = source.stream(plan.sql, plan.batch_rows, text_cells=text_cells)
        first = await anext(stream)
        columns = list(zip(first.columns, first.types, strict=True))

        async def rows_of(batch: RowBatch) -> list[Row]:
            return batch.rows

        ahead = [first.rows] if first.rows else []
        batches = _read_ahead(stream, rows_of, ahead)
        return QueryResult(columns, batches, text_cells=[text_cells] * len(columns))


async def _forwarded(source: DataSource, sql: str) -> QueryResult:
    """A passthrough whose rows are the source's own packets, sent on as they are."""
    stream = source.stream_packets(sql)
    first = await anext(stream)
    columns = list(zip(first.columns, first.types, strict=True))
    return QueryResult(
        columns,
        _batches([]),
        first.tables,
        packets=_read_ahead(stream, _same_batch),
        column_packets=first.definitions,
    )


async def _same_batch(batch: PacketBatch) -> PacketBatch:
    return batch


async def _read_ahead(
    stream: AsyncGenerator[In],
    convert: Callable[[In], Awaitable[Out]],
    first: list[Out] | None = None,
) -> AsyncIterator[Out]:
    """``first``, then the stream's items converted, closing the stream after.

    Reading one item ahead overlaps the source's read (in a worker thread)
    with sending the previous item to the client.
    """
    ahead = ordered_map(stream, convert, 2)
    try:
        for item in first or []:
            yield item
        async for item in ahead:
            yield item
    finally:
        await ahead.aclose()
        await stream.aclose()


async def _after_prediction(
    plan: PredictorPlan,
    columns: list[tuple[str, SqlType]],
    batches: AsyncIterator[list[Row]],
) -> QueryResult:
    """The result as the plan's local step shapes it, or the joined rows as is."""
    if plan.local is None:
        return QueryResult(columns, batches)
    batch_rows = plan.batch_rows if isinstance(plan, JoinPlan) else 1
    return await _shaped(
        plan.local, plan.outputs, QueryResult(columns, batches), batch_rows
    )


async def _shaped(
    step: LocalStep, inputs: list[OutputColumn], result: QueryResult, batch_rows: int
) -> QueryResult:
    """The result of a local step over the rows of another result."""
    # Imported here: DuckDB and pyarrow are loaded only by queries needing them.
    from byom.execution.local_step import LocalQuery

    query = LocalQuery(step, inputs)
    try:
        typed = await query.columns()
    except BaseException:
        query.close()
        await _close(result.batches)
        raise
    if step.streaming:
        return QueryResult(typed, query.each_batch(result.batches))
    return QueryResult(typed, query.all_rows(result.batches, batch_rows))


async def _close(batches: AsyncIterator[list[Row]]) -> None:
    aclose = getattr(batches, "aclose", None)
    if aclose is not None:
        await aclose()


async def _predict(
    backend: ModelBackend,
    predictor: Predictor,
    columns: list[str],
    rows: list[Row],
) -> Prediction:
    """One predict call; with on_error = 'null', a failure becomes NULL rows.

    The error text goes into ``<target>_error`` for every row of the batch, so
    the query goes on and the user sees which rows were not scored and why.
    """
    try:
        return await backend.predict(predictor, columns, rows)
    except ModelError as exc:
        if predictor.on_error != "null":
            raise
        logger.warning(
            "predictor %s: batch of %d rows left NULL: %s",
            predictor.name,
            len(rows),
            exc.message,
        )
        return Prediction(
            {
                predictor.target: [None] * len(rows),
                predictor.target + ERROR_SUFFIX: [exc.message] * len(rows),
            }
        )


def _naming_null_inputs(exc: ModelError, inputs: dict[str, Any]) -> ModelError:
    # A model that fails on one row often fails on an input the WHERE left out,
    # which went as NULL; its answer (often a bare 500) does not say so.
    nulls = [name for name, value in inputs.items() if value is None]
    if not nulls or isinstance(exc, ModelUnreachableError):
        return exc
    return type(exc)(f"{exc.message} (inputs sent as NULL: {', '.join(nulls)})")


def _require_ready(plan: PredictorPlan) -> None:
    if isinstance(plan, JoinPlan):
        for call in plan.models:
            _require_complete(call.predictor)
    else:
        _require_complete(plan.predictor)


def _require_complete(predictor: Predictor) -> None:
    if predictor.status == "complete":
        return
    if predictor.status == "error":
        raise PredictorNotReadyError(
            f"predictor '{predictor.name}' failed to train: {predictor.error}"
        )
    raise PredictorNotReadyError(
        f"predictor '{predictor.name}' is still {predictor.status}; "
        "query it when its status is 'complete'"
    )


def _input_picker(
    positions: list[int], constants: Row
) -> Callable[[list[Row]], list[Row]]:
    """A function from fetched rows to a call's input rows (values, then constants).

    Built once per call: taking the values with ``itemgetter`` costs a fraction
    of a generator per row, which matters at hundreds of thousands of rows.
    """
    if not positions:
        return lambda rows: [constants] * len(rows)
    if len(positions) == 1:
        index = positions[0]
        return lambda rows: [(row[index], *constants) for row in rows]
    pick = operator.itemgetter(*positions)
    if constants:
        return lambda rows: [pick(row) + constants for row in rows]
    return lambda rows: list(map(pick, rows))


def _parsed_inputs(
    rows: list[Row],
    positions: list[int],
    parsers: list[ColumnParser | None],
    constants: Row,
) -> list[Row]:
    """A call's input rows (values, then constants) from fetched text cells.

    Each input column's cells become the values a typed read gives, a column
    at a time.
    """
    columns: list[Any] = []
    for position in positions:
        cells = [row[position] for row in rows]
        parse = parsers[position]
        columns.append(cells if parse is None else parse(cells))
    columns.extend([value] * len(rows) for value in constants)
    return list(zip(*columns, strict=True)) if columns else [() for _ in rows]


def _as_text(column: OutputColumn) -> bool:
    """Whether a join sending text cells gives this column's cells as text."""
    if column.origin == "row":
        return True
    return column.origin == "model" and column.sql_type is SqlType.DOUBLE


def _compose(
    plan: PredictorPlan,
    outputs: list[OutputColumn],
    rows: list[Row],
    predictions: list[Prediction],
    text_cells: bool = False,
) -> list[Row]:
    """Output rows: fetched values, echoed inputs and cast model answers.

    The usual shape (fetched values first, ``SELECT t.*, p.target``) extends each
    fetched row; any other order is built column by column. ``text_cells``:
    the fetched values are the source's text, and the model's DOUBLE answers
    are made MySQL text too, a whole batch at once.
    """
    fetched = [column.index for column in outputs if column.origin == "row"]
    if all(column.origin == "row" for column in outputs[: len(fetched)]):
        added = [
            _cells(plan, c, rows, predictions, text_cells)
            for c in outputs[len(fetched) :]
        ]
        return _extended(_picked(rows, fetched), added)
    cells = [_cells(plan, c, rows, predictions, text_cells) for c in outputs]
    return list(zip(*cells, strict=True)) if cells else [() for _ in rows]


def _cells(
    plan: PredictorPlan,
    column: OutputColumn,
    rows: list[Row],
    predictions: list[Prediction],
    text_cells: bool,
) -> list[Any]:
    """One output column's values for the batch."""
    if column.origin == "row":
        return [row[column.index] for row in rows]
    if column.origin == "const":
        return [column.value] * len(rows)
    values = predictions[column.call].columns.get(column.key)
    if values is None:
        return [None] * len(rows)
    cast = _cast_all(plan, column, values)
    if text_cells and _as_text(column):
        return double_texts(cast)
    return cast


def _picked(rows: list[Row], positions: list[int]) -> list[Row]:
    """The rows cut to the values at positions, in that order."""
    if rows and positions == list(range(len(rows[0]))):
        return rows
    if not positions:
        return [() for _ in rows]
    if len(positions) == 1:
        index = positions[0]
        return [(row[index],) for row in rows]
    return list(map(operator.itemgetter(*positions), rows))


def _extended(rows: list[Row], added: list[list[Any]]) -> list[Row]:
    """Each row with the values of the added columns after it."""
    if not added:
        return rows
    tails = zip(*added, strict=True)
    return list(map(operator.add, rows, tails))


# A LONGLONG column holds a signed 64-bit integer.
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def _cast_all(
    plan: PredictorPlan, column: OutputColumn, values: list[Any]
) -> list[Any]:
    # A value that is already what the cast would make (a float, an integer in
    # range) is kept after one test, instead of a call of cast_value: a large
    # join gets millions of model answers.
    kind = column.sql_type
    try:
        if kind is SqlType.DOUBLE:
            # A float that is not NaN (NaN != NaN) is its own cast.
            return [
                v if v.__class__ is float and v == v else cast_value(v, kind)
                for v in values
            ]
        if kind is SqlType.LONGLONG:
            return [
                v
                if v.__class__ is int and _BIGINT_MIN <= v <= _BIGINT_MAX
                else cast_value(v, kind)
                for v in values
            ]
        return [cast_value(v, kind) for v in values]
    except (ValueError, TypeError, ArithmeticError) as exc:
        predictor = (
            plan.models[column.call].predictor
            if isinstance(plan, JoinPlan)
            else plan.predictor
        )
        raise ModelError(
            f"predictor '{predictor.name}' answered a value for "
            f"'{column.key}' that is not {column.sql_type.value}: {exc}"
        ) from None


def _alias_of(plan: JoinPlan, column: OutputColumn) -> str:
    # Table columns and echoed inputs come from the fetched row, the rest from
    # a predictor; a constant input is the predictor's too.
    if column.origin == "row":
        return plan.table_alias
    if column.origin == "model":
        return plan.models[column.call].alias
    return plan.models[0].alias if len(plan.models) == 1 else ""


def _typed(outputs: list[OutputColumn]) -> list[tuple[str, SqlType]]:
    return [(c.name, c.sql_type) for c in outputs]


async def _batches(batches: list[list[Row]]) -> AsyncIterator[list[Row]]:
    for batch in batches:
        yield batch
