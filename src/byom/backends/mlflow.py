"""The ``mlflow`` format: an MLflow 2.x+ scoring server (``mlflow models serve``).

Predict only: MLflow models are trained outside byom. ``url.predict`` is the
server's ``/invocations``; byom posts one batch as a JSON DataFrame, in the body
format the predictor's ``USING body_format`` names::

    dataframe_records  {"dataframe_records": [{"a": 1, "b": 2}, ...]}  (default)
    dataframe_split    {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}

The server answers ``{"predictions": [...]}``: one value per row, or one object
per row from a model returning several columns (each key becomes a column; the
key named like the target, or ``prediction``, is the target). Its errors are
JSON objects with ``error_code`` and ``message``, and a ``stack_trace`` holding
server paths that never reaches a client.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from byom.backends.answers import NotJsonError, decode_json, suffixed_column
from byom.backends.base import Prediction, predictor_headers, records, to_json
from byom.backends.http import ANSWER_EXCERPT_CHARS, HttpAnswer, HttpClient, redact_url
from byom.catalog.records import Predictor
from byom.errors import ModelError, NotSupportedError

logger = logging.getLogger(__name__)

BODY_FORMATS = ("dataframe_records", "dataframe_split")
DEFAULT_BODY_FORMAT = "dataframe_records"

# The error class MLflow gives when the columns sent do not fit the signature;
# the message quotes the data first, so byom adds the columns it sent.
_SCHEMA_ERROR_CLASS = "SCHEMA_ENFORCEMENT_FAILED"


class MlflowBackend:
    """Calls an MLflow scoring server (or anything speaking its JSON)."""

    trainable = False

    def __init__(self, http: HttpClient, predict_timeout: float) -> None:
        self._http = http
        self._predict_timeout = predict_timeout

    async def train(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """Refused: an MLflow model is trained and logged outside byom."""
        raise NotSupportedError(
            f"predictor '{predictor.name}': format 'mlflow' cannot train; "
            "MLflow models are trained outside byom"
        )

    async def predict(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> Prediction:
        """Score one batch and map the ``predictions`` onto output columns."""
        url = predictor.predict_url
        body = to_json(request_body(body_format(predictor), columns, rows))
        answer = await self._http.post_json(
            url,
            body,
            self._predict_timeout,
            f"predictor '{predictor.name}'",
            extra_headers=predictor_headers(predictor),
        )
        if not 200 <= answer.status < 300:
            raise _status_error(predictor, answer, columns)

        try:
            decoded = decode_json(answer.body)
        except NotJsonError:
            decoded = None
        if not isinstance(decoded, dict):
            raise _answer_error(
                predictor,
                answer,
                f"HTTP {answer.status} with a body that is not a JSON object",
            )
        return _to_prediction(predictor, answer, decoded, len(rows))


def body_format(predictor: Predictor) -> str:
    """The JSON layout this predictor's batches are sent in."""
    chosen = predictor.options.get("body_format")
    return chosen.lower() if isinstance(chosen, str) else DEFAULT_BODY_FORMAT


def request_body(
    layout: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> dict[str, Any]:
    """The body MLflow's ``/invocations`` reads for a batch of rows."""
    if layout == "dataframe_split":
        return {"dataframe_split": {"columns": columns, "data": rows}}
    return {"dataframe_records": records(columns, rows)}


def _status_error(
    predictor: Predictor, answer: HttpAnswer, columns: list[str]
) -> ModelError:
    try:
        decoded = decode_json(answer.body)
    except NotJsonError:
        decoded = None
    if not (isinstance(decoded, dict) and isinstance(decoded.get("message"), str)):
        return _answer_error(predictor, answer, f"HTTP {answer.status}")

    # Only the message: the stack trace holds the server's file paths.
    code = decoded.get("error_code")
    problem = f"HTTP {answer.status}" + (f" ({code})" if isinstance(code, str) else "")
    text = _excerpt(decoded["message"])
    if decoded.get("error_class") == _SCHEMA_ERROR_CLASS:
        text += f" (byom sent the columns: {', '.join(columns)})"
    return ModelError(
        f"predictor '{predictor.name}': {redact_url(predictor.predict_url)} "
        f"answered {problem}: {text}"
    )


def _excerpt(message: str) -> str:
    # MLflow messages quote DataFrames over several lines; a SQL error is one.
    flat = re.sub(r"\s+", " ", message).strip()
    cut = flat[:ANSWER_EXCERPT_CHARS]
    return cut + ("..." if len(flat) > ANSWER_EXCERPT_CHARS else "")


def _answer_error(predictor: Predictor, answer: HttpAnswer, problem: str) -> ModelError:
    return ModelError(
        f"predictor '{predictor.name}': {redact_url(predictor.predict_url)} "
        f"answered {problem}: {answer.excerpt()}"
    )


def _to_prediction(
    predictor: Predictor, answer: HttpAnswer, decoded: dict[str, Any], sent: int
) -> Prediction:
    if "predictions" not in decoded:
        raise _answer_error(predictor, answer, "without a 'predictions' key")
    predictions = decoded["predictions"]

    if isinstance(predictions, dict):
        # A model returning a dict of arrays: already one list per column.
        columns = _from_column_lists(predictor, answer, predictions, sent)
    elif isinstance(predictions, list):
        if len(predictions) != sent:
            raise _answer_error(
                predictor,
                answer,
                f"{len(predictions)} predictions for {sent} rows sent",
            )
        columns = _from_rows(predictor, answer, predictions)
    else:
        raise _answer_error(predictor, answer, "'predictions' that is not a list")

    if predictor.target not in columns:
        keys = ", ".join(sorted(columns))
        raise _answer_error(
            predictor,
            answer,
            f"predictions without a '{predictor.target}' or 'prediction' key "
            f"(keys: {keys})",
        )
    return Prediction(columns)


def _from_rows(
    predictor: Predictor, answer: HttpAnswer, predictions: list[Any]
) -> dict[str, list[Any]]:
    if not any(isinstance(p, dict) for p in predictions):
        return {predictor.target: [_scalar(predictor, answer, p) for p in predictions]}
    if not all(isinstance(p, dict) for p in predictions):
        raise _answer_error(
            predictor, answer, "predictions that mix objects and single values"
        )

    # One object per row, as MLflow writes a DataFrame: each key is a column,
    # and a key some rows lack is NULL there.
    keys = list(dict.fromkeys(key for p in predictions for key in p))
    names = _column_names(predictor, answer, keys)
    return {
        names[key]: [_scalar(predictor, answer, p.get(key)) for p in predictions]
        for key in keys
    }


def _from_column_lists(
    predictor: Predictor, answer: HttpAnswer, predictions: dict[str, Any], sent: int
) -> dict[str, list[Any]]:
    names = _column_names(predictor, answer, list(predictions))
    columns: dict[str, list[Any]] = {}
    for key, values in predictions.items():
        if not isinstance(values, list) or len(values) != sent:
            count = len(values) if isinstance(values, list) else "no list of"
            raise _answer_error(
                predictor, answer, f"{count} values in '{key}' for {sent} rows sent"
            )
        columns[names[key]] = [_scalar(predictor, answer, v) for v in values]
    return columns


def _column_names(
    predictor: Predictor, answer: HttpAnswer, keys: list[str]
) -> dict[str, str]:
    names: dict[str, str] = {}
    for key in keys:
        is_target = key == "prediction" or key.lower() == predictor.target.lower()
        names[key] = (
            predictor.target if is_target else suffixed_column(predictor.target, key)
        )

    taken: dict[str, str] = {}
    for key, name in names.items():
        if name in taken:
            raise _answer_error(
                predictor,
                answer,
                f"both '{taken[name]}' and '{key}', which are the same column '{name}'",
            )
        taken[name] = key
    return names


def _scalar(predictor: Predictor, answer: HttpAnswer, value: Any) -> Any:
    # A model answering a 2-D array with one column gives one-element lists.
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, list | dict):
        raise _answer_error(
            predictor,
            answer,
            "a list or object where one value per row and column belongs",
        )
    return value
