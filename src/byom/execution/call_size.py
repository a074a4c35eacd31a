"""How many rows go in one model call: a row limit and a byte limit.

The byte limit keeps a request body under what the model server accepts (many
refuse bodies over a few MiB) when rows are wide, such as long texts. The size
of a row is estimated from a sample of the batch, serialized as JSON records
(the shape every format's body is closest to), so a batch is not serialized
twice; a batch whose rows differ a lot in size may come out somewhat over or
under the limit.
"""

from __future__ import annotations

from typing import Any

import orjson

from byom.backends.base import Prediction

Row = tuple[Any, ...]

# Rows read to estimate the size of one; spread over the batch.
_SAMPLE_ROWS = 64


def call_rows(
    names: list[str], rows: list[Row], batch_rows: int, batch_bytes: int
) -> int:
    """The number of rows per call for this batch (at least 1).

    >>> call_rows(["text"], [("x" * 1000,)] * 100, batch_rows=50, batch_bytes=10_000)
    9
    """
    if batch_bytes <= 0 or not rows:
        return batch_rows
    step = max(1, len(rows) // _SAMPLE_ROWS)
    sample = rows[::step][:_SAMPLE_ROWS]
    records = [dict(zip(names, row, strict=True)) for row in sample]
    per_row = len(orjson.dumps(records, default=str)) / len(sample)
    return max(1, min(batch_rows, int(batch_bytes // per_row)))


def joined_predictions(parts: list[Prediction]) -> Prediction:
    """The answers of consecutive calls as one, in order.

    A column missing from one call's answer is NULL for that call's rows.
    """
    counts = [_row_count(part) for part in parts]
    names: list[str] = []
    for part in parts:
        names += [name for name in part.columns if name not in names]
    columns: dict[str, list[Any]] = {}
    for name in names:
        values: list[Any] = []
        for part, count in zip(parts, counts, strict=True):
            values += part.columns.get(name) or [None] * count
        columns[name] = values
    return Prediction(columns)


def _row_count(prediction: Prediction) -> int:
    return max((len(values) for values in prediction.columns.values()), default=0)
