"""Training a predictor: fetch the training rows, post them, learn column types.

``train`` only computes the trained record; the jobs that run it
(``byom.execution.jobs``) decide what the catalog records, so that a RETRAIN can
fail without touching the version that answers queries.
"""

from __future__ import annotations

import logging
import time

from byom.backends.base import ModelBackend, ModelChecker
from byom.backends.formats import Backends
from byom.catalog.records import Predictor, now
from byom.errors import WrongArgumentsError
from byom.sources.registry import Sources
from byom.types import SqlType, common_type

logger = logging.getLogger(__name__)


async def train(
    predictor: Predictor, sources: Sources, backends: Backends, max_rows: int
) -> Predictor:
    """Train (or, for a predict-only format, check) a predictor.

    Returns the record of the trained version; raises ByomError on failure.
    """
    started = time.monotonic()
    trained = await _train(predictor, sources, backends, max_rows)
    elapsed = time.monotonic() - started
    logger.info(
        "predictor %s: version %d ready in %.2f s (%d rows)",
        predictor.name,
        trained.version,
        elapsed,
        trained.training_rows or 0,
    )
    return trained.replace(training_seconds=round(elapsed, 3))


async def _train(
    predictor: Predictor, sources: Sources, backends: Backends, max_rows: int
) -> Predictor:
    backend = backends.for_format(predictor.format)
    if not backend.trainable:
        return await _probe(predictor, sources, backend)

    assert predictor.integration is not None and predictor.select_sql is not None
    source = sources.get(predictor.integration)
    frame = await source.read_all(predictor.select_sql, max_rows)

    # The query's own spelling wins: a source may answer `sqft` for `Sqft`.
    by_lower = {c.lower(): c for c in frame.columns}
    target = by_lower.get(predictor.target.lower())
    if target is None:
        raise WrongArgumentsError(
            f"PREDICT column '{predictor.target}' is not in the training query "
            f"(columns: {', '.join(frame.columns)})"
        )
    missing = [c for c in predictor.inputs if c.lower() not in by_lower]
    if missing:
        # The model would be trained without them, and every query would fail.
        raise WrongArgumentsError(
            f"USING dtype_dict column(s) {', '.join(missing)} of predictor "
            f"'{predictor.name}' are not in the training query "
            f"(columns: {', '.join(frame.columns)})"
        )
    if not frame.rows:
        raise WrongArgumentsError(
            f"the training query of predictor '{predictor.name}' returned no rows"
        )

    column_types: dict[str, str] = {}
    for index, column in enumerate(frame.columns):
        learnt = common_type([row[index] for row in frame.rows])
        if learnt is not SqlType.NULL:
            column_types[column] = learnt.value

    await backend.train(predictor.replace(target=target), frame.columns, frame.rows)
    dtype_dict = {
        by_lower.get(column.lower(), column): kind
        for column, kind in predictor.dtype_dict.items()
    }
    return predictor.replace(
        target=target,
        dtype_dict=dtype_dict,
        column_types=column_types,
        status="complete",
        error=None,
        training_rows=len(frame.rows),
        trained_at=now(),
    )


async def _probe(
    predictor: Predictor, sources: Sources, backend: ModelBackend
) -> Predictor:
    """Check a model trained elsewhere: one row of the FROM query must score.

    A backend that can describe its model checks the predictor against it
    first. Without a FROM query there is no row to send, and the predictor is
    ready as declared.
    """
    if isinstance(backend, ModelChecker):
        await backend.check(predictor)
    if predictor.integration is None or predictor.select_sql is None:
        return predictor.replace(status="complete", error=None, trained_at=now())

    source = sources.get(predictor.integration)
    sample = await source.read_first(predictor.select_sql, 1)
    if not sample.rows:
        raise WrongArgumentsError(
            f"the FROM query of predictor '{predictor.name}' returned no rows "
            "to check the model with"
        )
    by_lower = {c.lower(): i for i, c in enumerate(sample.columns)}
    missing = [c for c in predictor.inputs if c.lower() not in by_lower]
    if missing:
        raise WrongArgumentsError(
            f"the FROM query of predictor '{predictor.name}' lacks input "
            f"column(s): {', '.join(missing)}"
        )
    row = tuple(sample.rows[0][by_lower[c.lower()]] for c in predictor.inputs)
    prediction = await backend.predict(predictor, predictor.inputs, [row])
    # What the model answered is its contract: DESCRIBE and SELECT * show it.
    outputs = {
        key: common_type(values).value for key, values in prediction.columns.items()
    }

    column_types = {
        column: common_type([sample.rows[0][index]]).value
        for column, index in ((c, by_lower[c.lower()]) for c in sample.columns)
        if sample.rows[0][index] is not None
    }
    return predictor.replace(
        status="complete",
        error=None,
        column_types=column_types,
        outputs=outputs,
        trained_at=now(),
    )
