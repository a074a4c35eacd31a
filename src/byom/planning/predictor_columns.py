"""The columns a predictor shows as a table, and the SQL type of each.

As in MindsDB, a predictor for target ``t`` has every ``dtype_dict`` key as a
column (inputs echo what was given, ``t`` holds the prediction) plus
``t_confidence``, ``t_min``, ``t_max`` and ``t_anomaly``, filled when the model
answers ``confidence``, ``lower``, ``upper`` or ``anomaly``. Other columns the
model answered when it was checked at CREATE follow, then ``t_error`` for a
predictor with ``USING on_error = 'null'``.
"""

from __future__ import annotations

from byom.catalog.records import Predictor
from byom.planning.plan import OutputColumn
from byom.types import DTYPE_SQL_TYPES, SqlType

EXTRA_SUFFIXES: dict[str, SqlType] = {
    "_confidence": SqlType.DOUBLE,
    "_min": SqlType.DOUBLE,
    "_max": SqlType.DOUBLE,
    "_anomaly": SqlType.TINY,
}

# Lightwood types too loose to name a SQL type; the training data's type wins.
_LOOSE = {"categorical", "binary", "tags"}


ERROR_SUFFIX = "_error"


def predictor_columns(predictor: Predictor) -> list[str]:
    """Every column of the predictor's table, in order."""
    columns = list(predictor.dtype_dict)
    columns += [predictor.target + suffix for suffix in EXTRA_SUFFIXES]
    known = {c.lower() for c in columns}
    columns += [c for c in predictor.outputs if c.lower() not in known]
    if predictor.on_error == "null":
        columns.append(predictor.target + ERROR_SUFFIX)
    return columns


def output_type(predictor: Predictor, column: str) -> SqlType:
    """The SQL type of a predictor column (declared, learnt, or by convention)."""
    for suffix, kind in EXTRA_SUFFIXES.items():
        if column == predictor.target + suffix:
            return kind
    dtype = predictor.dtype_dict.get(column)
    if dtype is None:
        found = SqlType(predictor.outputs.get(column, SqlType.VAR_STRING.value))
        return SqlType.VAR_STRING if found is SqlType.NULL else found
    learnt = predictor.column_types.get(column)
    if dtype in _LOOSE and learnt is not None:
        return SqlType(learnt)
    return DTYPE_SQL_TYPES[dtype]


def model_output(name: str, predictor: Predictor, key: str) -> OutputColumn:
    """A result column named name holding the model's answer for column key."""
    return OutputColumn(name, output_type(predictor, key), "model", key=key)
