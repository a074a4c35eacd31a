"""Reading a model's answer: JSON that may hold NaN, and keys that become columns.

Models written in Python often answer with ``json.dumps`` or MLflow's encoder,
which write ``NaN``, ``Infinity`` and ``-Infinity`` for missing or overflowing
numbers. Those tokens are not JSON and orjson refuses them, so an answer orjson
cannot read is read again with Python's parser, which accepts them. A number
that is not finite has no MySQL value and becomes NULL. (FastAPI, and so a Ray
Serve app, refuses to encode NaN and answers 500 instead.)
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from byom.backends.http import HttpAnswer, redact_url
from byom.catalog.records import Predictor
from byom.errors import ModelError

# Answer keys that map onto MindsDB's output columns for target t: t_confidence...
SUFFIXES = {
    "confidence": "_confidence",
    "lower": "_min",
    "upper": "_max",
    "anomaly": "_anomaly",
}


class NotJsonError(ValueError):
    """The body is not JSON, even allowing NaN and Infinity."""


def decode_json(body: bytes) -> Any:
    """The decoded body, with every non-finite number replaced by None."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass

    try:
        decoded = json.loads(body, parse_constant=lambda _token: None)
    except (ValueError, UnicodeDecodeError):
        raise NotJsonError("not JSON") from None
    # Python's parser reads 1e999 as inf without calling parse_constant.
    return _finite(decoded)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def suffixed_column(target: str, key: str) -> str:
    """The output column of an answer key other than the prediction itself."""
    suffix = SUFFIXES.get(key)
    return target + suffix if suffix is not None else key


def answer_error(
    predictor: Predictor, url: str, answer: HttpAnswer, problem: str
) -> ModelError:
    """The error for an answer that breaks its format's contract.

    It names the predictor, the URL without credentials, what is wrong and the
    start of the body: ``predictor 'p': http://m/predict answered without a
    'prediction' key: {"result": [1]}``.
    """
    return ModelError(
        f"predictor '{predictor.name}': {redact_url(url)} answered {problem}: "
        f"{answer.excerpt()}"
    )


def decode_object(predictor: Predictor, url: str, answer: HttpAnswer) -> dict[str, Any]:
    """The answer's body as a JSON object, or the error saying it is not one."""
    try:
        decoded = decode_json(answer.body)
    except NotJsonError:
        decoded = None
    if not isinstance(decoded, dict):
        raise answer_error(
            predictor,
            url,
            answer,
            f"HTTP {answer.status} with a body that is not a JSON object",
        )
    return decoded
