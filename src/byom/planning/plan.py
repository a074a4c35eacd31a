"""Plans for queries that touch a predictor, as plain step objects.

A plan says what to fetch from which source (SQL already in the source's
dialect), what to send to the model, and how to build each output column. Its
``describe()`` text is what EXPLAIN will print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlglot import exp

from byom.backends.http import redact_url
from byom.catalog.records import Predictor
from byom.types import SqlType

Origin = Literal["row", "model", "const"]


@dataclass(frozen=True)
class OutputColumn:
    """One result column: where its values come from and their type.

    ``row``: position ``index`` of the fetched row; ``model``: the output
    column ``key`` of the plan's model call number ``call``; ``const``: the same
    ``value`` on every row (an echoed input).
    """

    name: str
    sql_type: SqlType
    origin: Origin
    index: int = -1
    key: str = ""
    value: Any = None
    call: int = 0


@dataclass(frozen=True)
class LocalStep:
    """SQL that DuckDB runs over the joined rows after prediction.

    The rows of a plan with a local step are its ``outputs``, cut by
    ``widths`` into relations: the first ``source_rows`` (the fetched columns;
    width 0 for a single-row prediction), then one relation of predictions per
    model call (``predictions``, ``predictions_2``, ...). ``sql`` (DuckDB
    dialect) reads them under the query's own aliases. ``names`` are the
    result's column names as MySQL spells them.
    A ``streaming`` step only filters and projects, so it runs batch by batch and
    keeps the rows' order; any other step sees every row at once, at most
    ``max_rows`` of them. ``probes`` pair a part of the user's query (MySQL text)
    with a DuckDB query of that part alone, to name the culprit of an error.
    """

    sql: str
    names: list[str]
    widths: list[int]
    streaming: bool
    max_rows: int
    probes: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        """One readable line."""
        how = (
            "batch by batch"
            if self.streaming
            else f"over all joined rows (at most {self.max_rows})"
        )
        return f"after prediction, in DuckDB {how}: {self.sql}"


@dataclass(frozen=True)
class SinglePredictPlan:
    """``SELECT ... FROM predictor WHERE a = 1 AND b = 'x'``: one row to score.

    ``inputs`` is the one row sent (every model input; missing ones are None).
    With ``star`` set, extra columns the model answers are appended to outputs.
    ``empty`` plans (``WHERE 1 = 0``, ``LIMIT 0``, an ``OFFSET`` past the row)
    return the columns and no row. With a ``local`` step, outputs are the
    predictor's columns and the step filters and shapes them.
    """

    predictor: Predictor
    inputs: dict[str, Any]
    outputs: list[OutputColumn]
    star: bool = False
    empty: bool = False
    local: LocalStep | None = None

    def describe(self) -> list[str]:
        """Readable steps, one per line."""
        if self.empty:
            steps = [f"empty result with the columns of {self.predictor.name}"]
        else:
            steps = [
                f"predict 1 row with {self.predictor.name} "
                f"({self.predictor.format} at "
                f"{redact_url(self.predictor.predict_url)})"
            ]
        if self.local is not None:
            return [*steps, self.local.describe()]
        if self.empty:
            return steps
        return [*steps, "output: " + ", ".join(c.name for c in self.outputs)]


@dataclass(frozen=True)
class ModelCall:
    """What one predictor of a join is sent for each fetched row.

    ``inputs`` pairs each model input name with the position of its value in
    the fetched row; ``constants`` are the inputs given as ``p.input =
    constant``, the same on every row. A call carries at most ``batch_rows``
    rows and about ``batch_bytes`` bytes of them (0: no byte limit).
    """

    predictor: Predictor
    alias: str
    inputs: list[tuple[str, int]]
    constants: dict[str, Any] = field(default_factory=dict)
    batch_rows: int = 10_000
    batch_bytes: int = 0

    def describe(self, calls_in_flight: int) -> str:
        """One readable line."""
        names = [name for name, _ in self.inputs]
        names += [f"{name} = {value!r}" for name, value in self.constants.items()]
        predictor = self.predictor
        return (
            f"predict with {predictor.name} ({predictor.format} at "
            f"{redact_url(predictor.predict_url)}): inputs {', '.join(names)}; "
            f"{self.batch_rows} rows per call, {calls_in_flight} calls in flight"
        )


@dataclass(frozen=True)
class JoinPlan:
    """``table JOIN predictor``: fetch rows, score them in batches, join by position.

    ``fetch_sql`` runs on ``source`` in its dialect, with the table-only filters,
    order and limit pushed into it, in batches of ``batch_rows``. Each of
    ``models`` scores every fetched row (two predictors: both, concurrently),
    with at most ``calls_in_flight`` batches scored at once. With a ``local``
    step, ``outputs`` are the joined rows that step reads.
    """

    models: list[ModelCall]
    source: str
    fetch_sql: str
    outputs: list[OutputColumn]
    batch_rows: int
    calls_in_flight: int
    notes: list[str] = field(default_factory=list)
    local: LocalStep | None = None
    table_alias: str = ""

    @property
    def predictor(self) -> Predictor:
        """The first predictor of the join (the only one, most often)."""
        return self.models[0].predictor

    def describe(self) -> list[str]:
        """Readable steps, one per line."""
        last = (
            self.local.describe()
            if self.local is not None
            else "output: " + ", ".join(c.name for c in self.outputs)
        )
        calls = [m.describe(self.calls_in_flight) for m in self.models]
        return [
            f"fetch from {self.source}: {self.fetch_sql}",
            *calls,
            last,
            *self.notes,
        ]


@dataclass(frozen=True)
class PassthroughPlan:
    """A query that reads one integration's tables only: run it there, as is.

    ``sql`` is the user's query with the integration's name taken out of every
    table, transpiled to the source's dialect.
    """

    source: str
    sql: str
    batch_rows: int

    def describe(self) -> list[str]:
        """Readable steps, one per line."""
        return [f"run on {self.source}: {self.sql}"]


@dataclass(frozen=True)
class CatalogPlan:
    """A query over byom's own tables (``mindsdb.predictors`` and the like)."""

    query: exp.Expression
    tables: list[str]

    def describe(self) -> list[str]:
        """Readable steps, one per line."""
        return [f"evaluate over the catalog tables {', '.join(self.tables)}"]


PredictorPlan = SinglePredictPlan | JoinPlan


@dataclass(frozen=True)
class DerivedPlan:
    """A query over a prediction in its FROM: the prediction, then ``local`` on it.

    ``local`` reads the inner plan's result columns as one relation.
    """

    inner: PredictorPlan | DerivedPlan
    local: LocalStep

    @property
    def predictor(self) -> Predictor:
        """The inner prediction's (first) predictor."""
        return self.inner.predictor

    def describe(self) -> list[str]:
        """Readable steps, one per line."""
        return [*self.inner.describe(), "then, " + self.local.describe()]


Plan = SinglePredictPlan | JoinPlan | DerivedPlan | PassthroughPlan | CatalogPlan
