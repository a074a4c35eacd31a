"""The ``mlflow`` format: an MLflow 2.x+ scoring server (``mlflow models serve``).

Predict only: MLflow models are trained outside byom. ``url.predict`` is the
server's ``/invocations``; byom posts one batch in the body format the
predictor's ``USING body_format`` names, always with an explicit Content-Type::

    dataframe_records  {"dataframe_records": [{"a": 1, "b": 2}, ...]}  (default)
    dataframe_split    {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}
    inputs             {"inputs": {"a": [1, ...], "b": [2, ...]}}
    csv                text/csv: a header row, then one line per row
    parquet            application/vnd.apache.parquet: one table, one column each

``inputs`` is the columnar tensor form: the server turns it into a DataFrame
when the model has a column signature, and otherwise hands the model a dict of
arrays (which a scikit-learn model refuses with a 400). CSV and Parquet are read
by pandas on the server, and Parquet needs pyarrow or fastparquet there. Every
form carries the same values as the JSON bodies (``byom.backends.values``): NULL,
NaN and infinities as missing, integers and decimals with their exact digits,
bytes as UTF-8 text, dates and times as ISO 8601 text and a TIME as MySQL's
text. Parquet keeps its own exact types for numbers: a DECIMAL column is a
Parquet decimal (which MLflow turns into a double for a ``double`` input), and
so is a column of integers beyond 64 bits.

The server answers ``{"predictions": [...]}``: one value per row, or one object
per row from a model returning several columns (each key becomes a column; the
key named like the target, or ``prediction``, is the target). Its errors are
JSON objects with ``error_code`` and ``message``, and a ``stack_trace`` holding
server paths that never reaches a client.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import logging
import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from byom.backends.answers import (
    NotJsonError,
    answer_error,
    decode_json,
    decode_object,
    suffixed_column,
)
from byom.backends.base import Prediction, predictor_headers, records
from byom.backends.call_options import predict_timeout_of
from byom.backends.http import ANSWER_EXCERPT_CHARS, HttpAnswer, HttpClient, redact_url
from byom.backends.values import temporal_text, to_json, value_text
from byom.catalog.records import Predictor
from byom.errors import ModelError, NotSupportedError

logger = logging.getLogger(__name__)

BODY_FORMATS = ("dataframe_records", "dataframe_split", "inputs", "csv", "parquet")
DEFAULT_BODY_FORMAT = "dataframe_records"

JSON_CONTENT_TYPE = "application/json"
# RFC 4180 makes US-ASCII the default charset of text/csv; the server reads UTF-8.
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# The one Parquet type the scoring server knows (CONTENT_TYPE_PARQUET in
# mlflow.pyfunc.scoring_server); application/x-parquet gets a 415.
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# Texts pandas' read_csv takes for a missing value by default (the server keeps
# that default): such a text value would reach the model as NaN, so CSV refuses
# it. pandas._libs.parsers.STR_NA_VALUES in pandas 3.1.
CSV_MISSING_TEXTS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)

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
        caller = f"predictor '{predictor.name}'"
        body = encode_batch(body_format(predictor), columns, rows, caller)
        answer = await self._http.post_json(
            url,
            body.content,
            predict_timeout_of(predictor, self._predict_timeout),
            caller,
            extra_headers=predictor_headers(predictor),
            content_type=body.content_type,
        )
        if not 200 <= answer.status < 300:
            raise _status_error(predictor, answer, columns)

        decoded = decode_object(predictor, url, answer)
        return _to_prediction(predictor, answer, decoded, len(rows))


@dataclass(frozen=True)
class RequestBody:
    """One batch as the bytes posted to ``/invocations`` and their media type."""

    content: bytes
    content_type: str


def body_format(predictor: Predictor) -> str:
    """The body format (one of ``BODY_FORMATS``) this predictor's batches use."""
    chosen = predictor.options.get("body_format")
    return chosen.lower() if isinstance(chosen, str) else DEFAULT_BODY_FORMAT


def encode_batch(
    layout: str, columns: list[str], rows: list[tuple[Any, ...]], caller: str
) -> RequestBody:
    """A batch in the body format layout names, with the Content-Type it needs.

    ``caller`` (such as "predictor 'p'") starts the error raised for a value
    the format cannot carry.
    """
    if layout == "csv":
        return RequestBody(csv_body(columns, rows, caller), CSV_CONTENT_TYPE)
    if layout == "parquet":
        return RequestBody(parquet_body(columns, rows, caller), PARQUET_CONTENT_TYPE)
    return RequestBody(to_json(request_body(layout, columns, rows)), JSON_CONTENT_TYPE)


def request_body(
    layout: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> dict[str, Any]:
    """The JSON body MLflow's ``/invocations`` reads for a batch of rows."""
    if layout == "dataframe_split":
        return {"dataframe_split": {"columns": columns, "data": rows}}
    if layout == "inputs":
        return {
            "inputs": {
                name: [row[index] for row in rows] for index, name in enumerate(columns)
            }
        }
    return {"dataframe_records": records(columns, rows)}


def csv_body(columns: list[str], rows: list[tuple[Any, ...]], caller: str) -> bytes:
    """A batch as RFC 4180 CSV: a header row, CRLF line ends, UTF-8.

    Every value is written as ``byom.backends.values.value_text`` writes it:
    integers in full, floats as the shortest text that reads back as the same
    double, decimals exactly as they are, dates and times as ISO 8601, NULL as
    an empty field; fields holding a comma, a quote or a line break are quoted,
    quotes doubled::

        initial_price,note
        1000,"a,""b"" c"
        2.5,

    A text value that pandas would read as missing (``CSV_MISSING_TEXTS``)
    raises NotSupportedError rather than reach the model as NULL.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                _csv_field(value, name, caller)
                for name, value in zip(columns, row, strict=True)
            ]
        )
    return out.getvalue().encode("utf-8")


def parquet_body(columns: list[str], rows: list[tuple[Any, ...]], caller: str) -> bytes:
    """A batch as one Parquet table, each column's type inferred by pyarrow.

    Integers become int32 when they all fit (MLflow casts that to a ``double``,
    ``long`` or ``integer`` input, but refuses int64 for a ``double`` one as
    unsafe), else int64, or a decimal of scale 0 when one is beyond 64 bits;
    floats, or integers or decimals mixed with floats, become double; other
    decimals a Parquet decimal wide enough for every value of the column (a
    NaN or infinite one is a null); text, dates and times UTF-8 strings, as the
    JSON bodies write them; NULL a null. A column mixing kinds that one Parquet
    column cannot hold (text and numbers) raises NotSupportedError.
    """
    # Loaded here: pyarrow costs about 60 ms and tens of MB at import, which
    # only servers with a Parquet predictor should pay.
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    arrays = []
    for index, name in enumerate(columns):
        values = _parquet_values([row[index] for row in rows])
        kind = pa.int32() if _small_integers(values) else None
        try:
            arrays.append(pa.array(values, type=kind))
        except (pa.ArrowException, OverflowError) as exc:
            raise NotSupportedError(
                f"{caller}: column '{name}' cannot be sent as one Parquet column "
                f"({exc}); use USING body_format = 'dataframe_records'"
            ) from None

    out = io.BytesIO()
    pq.write_table(pa.table(arrays, names=columns), out)
    return out.getvalue()


def _small_integers(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, int) and not isinstance(v, bool) and _INT32_MIN <= v <= _INT32_MAX
        for v in present
    )


def _parquet_values(values: list[Any]) -> list[Any]:
    """One column's values as pyarrow should infer their Parquet type."""
    plain = [_parquet_value(value) for value in values]
    if any(isinstance(value, float) for value in plain):
        # A column with a float in it is a double column: decimals and integers
        # beyond 64 bits in it become doubles too.
        return [float(v) if _wide_number(v) else v for v in plain]
    if any(_beyond_int64(value) for value in plain):
        # Exact as a decimal of scale 0; an int64 column cannot hold them.
        return [decimal.Decimal(v) if _is_integer(v) else v for v in plain]
    return plain


def _parquet_value(value: Any) -> Any:
    # A number stays a number of its exact kind; the rest is the JSON bodies'.
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return value if value.is_finite() else None
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return temporal_text(value)
    return orjson.loads(to_json(value))


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _beyond_int64(value: Any) -> bool:
    return _is_integer(value) and not _INT64_MIN <= value <= _INT64_MAX


def _wide_number(value: Any) -> bool:
    # A number a Parquet double holds only rounded.
    return isinstance(value, decimal.Decimal) or _beyond_int64(value)


def _csv_field(value: Any, column: str, caller: str) -> str | None:
    text = value_text(value)
    if isinstance(value, str | bytes | bytearray | memoryview) and (
        text in CSV_MISSING_TEXTS
    ):
        raise NotSupportedError(
            f"{caller}: column '{column}' holds the text '{text}', which the "
            "MLflow server reads from CSV as a missing value; use USING "
            "body_format = 'dataframe_records' to send it as text"
        )
    return text


def _status_error(
    predictor: Predictor, answer: HttpAnswer, columns: list[str]
) -> ModelError:
    try:
        decoded = decode_json(answer.body)
    except NotJsonError:
        decoded = None
    if not (isinstance(decoded, dict) and isinstance(decoded.get("message"), str)):
        return answer_error(
            predictor, predictor.predict_url, answer, f"HTTP {answer.status}"
        )

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


def _to_prediction(
    predictor: Predictor, answer: HttpAnswer, decoded: dict[str, Any], sent: int
) -> Prediction:
    if "predictions" not in decoded:
        raise answer_error(
            predictor, predictor.predict_url, answer, "without a 'predictions' key"
        )
    predictions = decoded["predictions"]

    if isinstance(predictions, dict):
        # A model returning a dict of arrays: already one list per column.
        columns = _from_column_lists(predictor, answer, predictions, sent)
    elif isinstance(predictions, list):
        if len(predictions) != sent:
            raise answer_error(
                predictor,
                predictor.predict_url,
                answer,
                f"{len(predictions)} predictions for {sent} rows sent",
            )
        columns = _from_rows(predictor, answer, predictions)
    else:
        raise answer_error(
            predictor, predictor.predict_url, answer, "'predictions' that is not a list"
        )

    if predictor.target not in columns:
        keys = ", ".join(sorted(columns))
        raise answer_error(
            predictor,
            predictor.predict_url,
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
        raise answer_error(
            predictor,
            predictor.predict_url,
            answer,
            "predictions that mix objects and single values",
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
            raise answer_error(
                predictor,
                predictor.predict_url,
                answer,
                f"{count} values in '{key}' for {sent} rows sent",
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
            raise answer_error(
                predictor,
                predictor.predict_url,
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
        raise answer_error(
            predictor,
            predictor.predict_url,
            answer,
            "a list or object where one value per row and column belongs",
        )
    return value
