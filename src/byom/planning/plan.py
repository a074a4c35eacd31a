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

    ``row``: position ``index`` of the fetched row; ``model``: the model output
    column ``key``; ``const``: the same ``value`` on every row (an echoed input).
    """

    name: str
    sql_type: SqlType
    origin: Origin
    index: int = -1
    key: str = ""
    value: Any = None


@dataclass(frozen=True)
class LocalStep:
    """SQL that DuckDB runs over the joined rows after prediction.

    The rows of a plan with a local step are its ``outputs``: the first
    ``source_columns`` of them form the relation ``source_rows``, the others
    ``predictions``, and ``sql`` (DuckDB dialect) reads them under the query's
    own aliases. ``names`` are the result's column names as MySQL spells them.
    A ``streaming`` step only filters and projects, so it runs batch by batch and
    keeps the rows' order; any other step sees every row at once, at most
    ``max_rows`` of them. ``probes`` pair a part of the user's query (MySQL text)
    with a DuckDB query of that part alone, to name the culprit of an error.
    """

    sql: str
    names: list[str]
    source_columns: int
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
class JoinPlan:
    """``table JOIN predictor``: fetch rows, score them in batches, join by position.

    ``fetch_sql`` runs on ``source`` in its dialect, with the table-only filters,
    order and limit pushed into it. ``model_inputs`` pairs each model input name
    with the position of its value in the fetched row; ``constant_inputs`` are
    the inputs given as ``p.input = constant``, the same on every row. With a
    ``local`` step, ``outputs`` are the joined rows that step reads.
    """

    predictor: Predictor
    source: str
    fetch_sql: str
    model_inputs: list[tuple[str, int]]
    outputs: list[OutputColumn]
    batch_rows: int
    calls_in_flight: int
    notes: list[str] = field(default_factory=list)
    constant_inputs: dict[str, Any] = field(default_factory=dict)
    local: LocalStep | None = None

    def describe(self) -> list[str]:
        """Readable steps, one per line."""
        inputs = [name for name, _ in self.model_inputs]
        inputs += [
            f"{name} = {value!r}" for name, value in self.constant_inputs.items()
        ]
        last = (
            self.local.describe()
            if self.local is not None
            else "output: " + ", ".join(c.name for c in self.outputs)
        )
        return [
            f"fetch from {self.source}: {self.fetch_sql}",
            f"predict with {self.predictor.name} "
            f"({self.predictor.format} at {redact_url(self.predictor.predict_url)}): "
            f"inputs {', '.join(inputs)}; "
            f"{self.batch_rows} rows per call, {self.calls_in_flight} calls in flight",
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
Plan = SinglePredictPlan | JoinPlan | PassthroughPlan | CatalogPlan
