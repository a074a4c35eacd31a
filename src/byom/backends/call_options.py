"""How big and how patient a predictor's predict calls are: its call options.

Four USING keys size the calls of one predictor, each overriding the server's
setting of the same name::

    batch_rows       rows per predict call                  positive integer
    batch_bytes      most request-body bytes per call       integer, 0: no byte limit
    calls_in_flight  predict calls at once for one query    positive integer
    predict_timeout  seconds for one try of a predict call  positive number

CREATE PREDICTOR stores them in the predictor's options, and a query's own
``USING`` puts its overrides there too, so they are read from the options at
every call rather than once per server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from byom.catalog.records import Predictor
from byom.errors import WrongArgumentsError
from byom.settings import Settings

CALL_OPTION_KEYS = ("batch_rows", "batch_bytes", "calls_in_flight", "predict_timeout")

# Keys that take a whole number, and the least value each allows.
_WHOLE_MINIMUM = {"batch_rows": 1, "batch_bytes": 0, "calls_in_flight": 1}
# The most each whole-number key allows: far past any sensible value, and small
# enough for every count and buffer size they end up in.
_WHOLE_MAXIMUM = {
    "batch_rows": 10_000_000,
    "batch_bytes": 1 << 40,
    "calls_in_flight": 1024,
}
_MEANING = {
    "batch_rows": "rows per predict call",
    "batch_bytes": "bytes, 0 for no byte limit",
    "calls_in_flight": "predict calls at once",
    "predict_timeout": "seconds",
}


@dataclass(frozen=True)
class CallOptions:
    """How one query sends a predictor's rows: batch size, body size, concurrency.

    ``batch_bytes`` of 0 means batches are bounded by rows only.
    """

    batch_rows: int
    batch_bytes: int
    calls_in_flight: int


def call_options(predictor: Predictor, settings: Settings) -> CallOptions:
    """The predictor's call options, each from its USING options or the setting."""
    given = predictor.options
    return CallOptions(
        batch_rows=int(given.get("batch_rows", settings.batch_rows)),
        batch_bytes=int(given.get("batch_bytes", settings.batch_bytes)),
        calls_in_flight=int(given.get("calls_in_flight", settings.calls_in_flight)),
    )


def predict_timeout_of(predictor: Predictor, default: float) -> float:
    """Seconds one try of a predict call may take: USING predict_timeout or default."""
    return float(predictor.options.get("predict_timeout", default))


def check_call_options(options: dict[str, Any]) -> dict[str, Any]:
    """A copy of options with the call options checked and normalised.

    Whole-number keys become ``int`` (``1e4`` is 10000), predict_timeout a
    ``float``; other keys are copied as they are. A wrong value raises
    WrongArgumentsError naming the key::

        USING batch_rows = 0  ->  USING batch_rows must be a positive integer
                                  (rows per predict call), not 0
    """
    checked = dict(options)
    for key, minimum in _WHOLE_MINIMUM.items():
        if key in checked:
            checked[key] = _whole(key, checked[key], minimum, _WHOLE_MAXIMUM[key])
    if "predict_timeout" in checked:
        timeout = checked["predict_timeout"]
        checked["predict_timeout"] = _seconds("predict_timeout", timeout)
    return checked


def _whole(key: str, value: Any, minimum: int, maximum: int) -> int:
    number = _number(value)
    if number is None or number != int(number) or number < minimum:
        kind = "a positive integer" if minimum > 0 else "an integer, 0 or more"
        raise WrongArgumentsError(
            f"USING {key} must be {kind} ({_MEANING[key]}), not {_shown(value)}"
        )
    if number > maximum:
        raise WrongArgumentsError(
            f"USING {key} must be at most {maximum} ({_MEANING[key]}), "
            f"not {_shown(value)}"
        )
    return int(number)


def _seconds(key: str, value: Any) -> float:
    number = _number(value)
    if number is None or number <= 0:
        raise WrongArgumentsError(
            f"USING {key} must be a positive number ({_MEANING[key]}), "
            f"not {_shown(value)}"
        )
    return float(number)


def _number(value: Any) -> int | float | None:
    # Text is refused even when it spells a number: USING takes numbers bare.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool) or value is None:
        return {True: "TRUE", False: "FALSE", None: "NULL"}[value]
    if isinstance(value, dict | list):
        return "a JSON " + ("object" if isinstance(value, dict) else "array")
    return str(value)
