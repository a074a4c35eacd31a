"""How byom writes a SQL value for a model: one exact text per value, in every body.

The same value always gives the same bytes, whatever the format (``ray_server``
records, MLflow's JSON forms and CSV, Open Inference BYTES tensors)::

    NULL, NaN, ±Infinity          null             (an empty field in CSV)
    BIGINT, any integer           12345678901234567890123   (exact, beyond 64 bits too)
    DOUBLE                        0.1              (shortest text of the double)
    DECIMAL                       12345678901234567.89      (exact digits and scale:
                                                   Decimal's own text, 1.50, 1E-7)
    Decimal NaN or Infinity       null
    DATE                          "2024-02-29"
    DATETIME, TIMESTAMP           "2024-02-29T10:11:12", "...T10:11:12.000120"
                                  (ISO 8601 with a T, which pandas read_json and
                                  to_datetime parse; an offset when the value has one)
    TIME as a time of day         "10:11:12", "10:11:12.500000"
    TIME as PyMySQL gives it      "-01:30:00", "838:59:59" (MySQL's own text of a
    (a timedelta)                 TIME, which may be negative or beyond 24 hours)
    BLOB, BINARY                  the bytes as UTF-8 text (invalid bytes as U+FFFD)

A DECIMAL goes as a JSON number rather than a string, as MindsDB sent it, so a
model reads a number; its digits are written as the source gave them, so a
parser that keeps decimals (``json.loads(..., parse_float=Decimal)``) gets the
value exactly, and one that reads doubles rounds only once.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import orjson

# The integers orjson writes itself; beyond them it refuses, whatever default says.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def to_json(value: Any) -> bytes:
    """A request body as JSON text, every value written as the module describes."""
    try:
        return orjson.dumps(value, default=_json_default)
    except orjson.JSONEncodeError:
        # Integers beyond 64 bits and times of day with a zone never reach
        # default; the slower copy spells them out, and raises again if the
        # trouble was something else.
        return orjson.dumps(_spelled_out(value), default=_json_default)


def decimal_text(value: decimal.Decimal) -> str | None:
    """A decimal's exact text, a valid JSON number; None for NaN and infinities."""
    return str(value) if value.is_finite() else None


def time_text(value: dt.timedelta) -> str:
    """A duration as MySQL writes a TIME: ``[-]HH:MM:SS[.ffffff]``, hours unbounded.

    >>> time_text(dt.timedelta(hours=-1, minutes=-30))
    '-01:30:00'
    """
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minute, second = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{fraction:06d}" if fraction else text


def temporal_text(value: dt.date | dt.time | dt.timedelta) -> str:
    """A date, date and time, time of day or TIME as the JSON bodies write it."""
    if isinstance(value, dt.timedelta):
        return time_text(value)
    if isinstance(value, dt.time) and value.tzinfo is not None:
        return value.isoformat()
    text: str = orjson.loads(orjson.dumps(value))
    return text


def value_text(value: Any) -> str | None:
    """A value as text, carrying what the JSON bodies carry; None for NULL and NaN.

    An integer or decimal is its exact text, a float the shortest text that
    reads back as the same double, a boolean ``true`` or ``false``, a string
    itself, bytes their UTF-8 text, and a date or time the text the module
    describes. CSV fields and text tensors are written with it.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return decimal_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return temporal_text(value)
    encoded = to_json(value)
    decoded = orjson.loads(encoded)
    return decoded if isinstance(decoded, str) else encoded.decode()


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        text = decimal_text(value)
        return None if text is None else orjson.Fragment(text)
    if isinstance(value, dt.timedelta):
        return time_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    raise TypeError(f"cannot send a {type(value).__name__} value to a model")


def _spelled_out(value: Any) -> Any:
    """A copy in which the values orjson refuses before default are replaced."""
    if isinstance(value, int) and not isinstance(value, bool):
        inside = _INT_MIN <= value <= _INT_MAX
        return value if inside else orjson.Fragment(str(value))
    if isinstance(value, dict):
        return {key: _spelled_out(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_spelled_out(item) for item in value]
    if isinstance(value, dt.time) and value.tzinfo is not None:
        return value.isoformat()
    return value
