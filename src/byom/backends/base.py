"""What every model backend does, and the shape of a model's answer.

A backend knows one wire format (``ray_server``, ``mlflow``). A trainable one
trains with a whole frame in one call; every backend predicts one batch per call.
Batching and concurrency are the executor's business, not the backend's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from byom.backends.values import to_json
from byom.catalog.records import Predictor


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one batch: output columns, each one value per row.

    ``columns`` maps an output column name (the target, ``<target>_confidence``,
    extra keys) to its values, in the order of the rows sent.
    """

    columns: dict[str, list[Any]]


class ModelBackend(Protocol):
    """One model wire format."""

    trainable: bool

    async def train(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """Send every training row in one call; raise ModelError on failure."""

    async def predict(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> Prediction:
        """Score one non-empty batch; the answer has one value per row."""


@runtime_checkable
class ModelChecker(Protocol):
    """A backend that can tell at CREATE whether its model fits the predictor.

    Optional: a format whose endpoint describes its model (``open_inference``)
    refuses a predictor whose columns the model does not take before any query.
    """

    async def check(self, predictor: Predictor) -> None:
        """Raise ByomError when the model cannot serve the predictor as defined."""


def predictor_headers(predictor: Predictor) -> dict[str, str]:
    """HTTP headers the predictor's USING headers asks for (endpoint auth)."""
    given = predictor.options.get("headers") or {}
    return {str(name): str(value) for name, value in given.items()}


def records(columns: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Rows as objects keyed by column (pandas "records" orient)."""
    if rows and len(rows[0]) != len(columns):
        raise ValueError(f"{len(columns)} column names for rows of {len(rows[0])}")
    return _record_builder(len(columns))(rows, *columns)


@functools.cache
def _record_builder(width: int) -> Callable[..., list[dict[str, Any]]]:
    """A function making rows of width values into dicts, given the keys.

    A dict display in a comprehension costs less than half of ``dict(zip())``
    per row, which counts at a million rows. The generated source holds only
    numbered names; the keys are the function's arguments.
    """
    if width == 0:
        return lambda rows: [{} for _ in rows]
    keys = ", ".join(f"k{i}" for i in range(width))
    values = ", ".join(f"v{i}" for i in range(width))
    pairs = ", ".join(f"k{i}: v{i}" for i in range(width))
    source = f"lambda rows, {keys}: [{{{pairs}}} for ({values},) in rows]"
    builder: Callable[..., list[dict[str, Any]]] = eval(source)
    return builder


def records_json(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """Rows as a JSON array of objects (pandas "records"), values as in ``values``."""
    return to_json(records(columns, rows)).decode()
