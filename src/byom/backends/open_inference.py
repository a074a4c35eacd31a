"""The ``open_inference`` format: the Open Inference Protocol (KServe v2), over REST.

MLServer, KServe and Triton speak it. Predict only: the model is trained and
deployed outside byom. ``url.predict`` names the model, as its base URL or its
infer URL; both of these mean the same model::

    http://host:8080/v2/models/rooms                  (metadata: GET this)
    http://host:8080/v2/models/rooms/infer            (inference: POST here)
    http://host:8080/v2/models/rooms/versions/2[/infer]

At CREATE byom reads the model's metadata and refuses a predictor whose input
columns differ from the inputs the model declares. Each batch is sent as one
1-D tensor per input column, named and typed as the metadata declares (or, for
a model that declares no inputs, named like the column and typed from
``dtype_dict``: integer → INT64, float → FP64, any other type → BYTES)::

    {"inputs": [{"name": "sqft", "shape": [2], "datatype": "INT64",
                 "data": [900, 500]}, ...]}

The answer's outputs become columns: the output named like the PREDICT column,
or else the first one, is the prediction; each other output is a column named
as the ``mlflow`` format names extra keys (``confidence`` becomes
``<target>_confidence``, any other name stays as it is). Every output must hold
exactly one value per row. A number that is not finite becomes NULL, as in
every format (``byom.backends.answers``). Errors are ``{"error": "..."}``
objects; a Python traceback in a plain-text answer (MLServer's default) is
quoted by its last line only, because its frames hold the server's paths.
"""

from __future__ import annotations

import datetime
import decimal
import logging
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from byom.backends.answers import (
    NotJsonError,
    answer_error,
    decode_json,
    decode_object,
    suffixed_column,
)
from byom.backends.base import Prediction, predictor_headers
from byom.backends.call_options import predict_timeout_of
from byom.backends.http import ANSWER_EXCERPT_CHARS, HttpAnswer, HttpClient, redact_url
from byom.backends.values import temporal_text, to_json
from byom.catalog.records import Predictor
from byom.errors import ModelError, NotSupportedError, WrongArgumentsError

logger = logging.getLogger(__name__)

# A model's path: the protocol's prefix may sit under a gateway's own path.
_MODEL_PATH = re.compile(r"(?P<root>.*)/v2/models/(?P<name>[^/]+)(?:/versions/[^/]+)?")

_BITS = (8, 16, 32, 64)
# Tensor datatypes of the protocol, by the kind of value byom sends in them.
_KINDS = {
    "BOOL": "bool",
    "BYTES": "bytes",
    **{f"INT{bits}": "int" for bits in _BITS},
    **{f"UINT{bits}": "int" for bits in _BITS},
    **{f"FP{bits}": "float" for bits in (16, 32, 64)},
}
# The values each integer datatype holds; a value outside is refused, not wrapped.
_INT_RANGES = {
    **{f"INT{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in _BITS},
    **{f"UINT{bits}": (0, 2**bits - 1) for bits in _BITS},
}
# The datatype for a dtype_dict type when the model declares none.
_DTYPE_DATATYPES = {"integer": "INT64", "float": "FP64"}
_DEFAULT_DATATYPE = "BYTES"

_TRACEBACK_START = "Traceback (most recent call last):"


@dataclass(frozen=True)
class ModelUrls:
    """Where one model answers: its name, metadata URL and infer URL."""

    model: str
    metadata: str
    infer: str


@dataclass(frozen=True)
class ModelInput:
    """One input tensor the model declares; ``column`` means shape ``[-1, 1]``."""

    name: str
    datatype: str
    column: bool = False


def model_urls(url: str) -> ModelUrls:
    """The metadata and infer URLs of the model a ``url.predict`` names.

    >>> model_urls("http://m:8080/v2/models/rooms/infer").metadata
    'http://m:8080/v2/models/rooms'
    """
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    path = path.removesuffix("/infer")
    match = _MODEL_PATH.fullmatch(path)
    if match is None:
        raise WrongArgumentsError(
            "USING url.predict of format 'open_inference' must name a model, as "
            "http://host:port/v2/models/NAME (optionally with /versions/V, "
            f"and /infer): {redact_url(url)} does not"
        )

    def _with_path(new_path: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, new_path, parts.query, ""))

    return ModelUrls(
        model=unquote(match["name"]),
        metadata=_with_path(path),
        infer=_with_path(path + "/infer"),
    )


class OpenInferenceBackend:
    """Calls a model server speaking the Open Inference Protocol over REST.

    The inputs each model declares are read once per server run, at CREATE or
    at the first query after a restart; a CREATE OR REPLACE reads them again.
    """

    trainable = False

    def __init__(self, http: HttpClient, predict_timeout: float) -> None:
        self._http = http
        self._predict_timeout = predict_timeout
        self._inputs: dict[str, dict[str, ModelInput]] = {}

    async def train(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """Refused: the model is trained and deployed outside byom."""
        raise NotSupportedError(
            f"predictor '{predictor.name}': format 'open_inference' cannot train; "
            "its models are trained and deployed outside byom"
        )

    async def check(self, predictor: Predictor) -> None:
        """Read the model's metadata; refuse input columns the model does not take."""
        urls = model_urls(predictor.predict_url)
        declared = await self._read_inputs(predictor, urls)
        _check_columns(predictor, urls, declared)
        self._inputs[urls.metadata] = declared
        logger.info(
            "predictor %s: model %s at %s declares %d input(s)",
            predictor.name,
            urls.model,
            redact_url(urls.metadata),
            len(declared),
        )

    async def predict(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> Prediction:
        """Score one batch, one tensor per column, and map the outputs to columns."""
        urls = model_urls(predictor.predict_url)
        declared = self._inputs.get(urls.metadata)
        if declared is None:
            declared = await self._read_inputs(predictor, urls)
            _check_columns(predictor, urls, declared)
            self._inputs[urls.metadata] = declared

        tensors = request_inputs(predictor, declared, columns, rows)
        answer = await self._http.post_json(
            urls.infer,
            to_json({"inputs": tensors}),
            predict_timeout_of(predictor, self._predict_timeout),
            f"predictor '{predictor.name}'",
            extra_headers=predictor_headers(predictor),
        )
        if not 200 <= answer.status < 300:
            raise _status_error(predictor, urls.infer, answer)
        decoded = decode_object(predictor, urls.infer, answer)
        return _to_prediction(predictor, urls.infer, answer, decoded, len(rows))

    async def _read_inputs(
        self, predictor: Predictor, urls: ModelUrls
    ) -> dict[str, ModelInput]:
        answer = await self._http.get(
            urls.metadata,
            predict_timeout_of(predictor, self._predict_timeout),
            f"predictor '{predictor.name}'",
            extra_headers=predictor_headers(predictor),
        )
        if answer.status != 200:
            raise _status_error(predictor, urls.metadata, answer)
        decoded = decode_object(predictor, urls.metadata, answer)
        listed = decoded.get("inputs") or []
        if not isinstance(listed, list):
            raise answer_error(
                predictor, urls.metadata, answer, "metadata whose 'inputs' is no list"
            )
        declared = [_model_input(predictor, urls, spec) for spec in listed]
        return {spec.name.lower(): spec for spec in declared}


def request_inputs(
    predictor: Predictor,
    declared: dict[str, ModelInput],
    columns: list[str],
    rows: list[tuple[Any, ...]],
) -> list[dict[str, Any]]:
    """One input tensor per column, named and typed as the model declares."""
    tensors = []
    for index, column in enumerate(columns):
        spec = declared.get(column.lower()) or ModelInput(
            column,
            _DTYPE_DATATYPES.get(
                predictor.dtype_dict.get(column, ""), _DEFAULT_DATATYPE
            ),
        )
        data = [_value(predictor, column, spec, row[index]) for row in rows]
        shape = [len(rows), 1] if spec.column else [len(rows)]
        tensors.append(
            {"name": spec.name, "shape": shape, "datatype": spec.datatype, "data": data}
        )
    return tensors


def _model_input(predictor: Predictor, urls: ModelUrls, spec: Any) -> ModelInput:
    name = spec.get("name") if isinstance(spec, dict) else None
    if not isinstance(name, str):
        raise ModelError(
            f"predictor '{predictor.name}': the metadata of model '{urls.model}' at "
            f"{redact_url(urls.metadata)} lists an input without a name"
        )
    datatype = spec.get("datatype")
    if datatype not in _KINDS:
        raise NotSupportedError(
            f"predictor '{predictor.name}': input '{name}' of model '{urls.model}' "
            f"has datatype {datatype!r}, which byom does not send"
        )

    # One value per row: shape [-1] or [-1, 1]; a wider tensor packs several
    # columns into one input, which byom's one-tensor-per-column cannot fill.
    shape = spec.get("shape")
    tail = shape[1:] if isinstance(shape, list) else []
    if not isinstance(shape, list) or len(shape) not in (1, 2) or tail not in ([], [1]):
        raise NotSupportedError(
            f"predictor '{predictor.name}': input '{name}' of model '{urls.model}' "
            f"has shape {shape}; byom sends one column per input, of shape [-1] "
            "or [-1, 1]"
        )
    return ModelInput(name, datatype, column=tail == [1])


def _check_columns(
    predictor: Predictor, urls: ModelUrls, declared: dict[str, ModelInput]
) -> None:
    if not declared:
        # Nothing to compare with: the model server learnt no inputs.
        return
    where = f"model '{urls.model}' at {redact_url(urls.metadata)}"
    for column in predictor.inputs:
        if column.lower() not in declared:
            names = ", ".join(spec.name for spec in declared.values())
            raise WrongArgumentsError(
                f"predictor '{predictor.name}': USING dtype_dict column '{column}' "
                f"is not an input of {where} (its inputs: {names})"
            )

    given = {column.lower() for column in predictor.inputs}
    for key, spec in declared.items():
        if key in given:
            continue
        if key == predictor.target.lower():
            raise WrongArgumentsError(
                f"predictor '{predictor.name}': {where} takes '{spec.name}' as an "
                "input, but it is the PREDICT column"
            )
        raise WrongArgumentsError(
            f"predictor '{predictor.name}': {where} needs the input '{spec.name}', "
            "which USING dtype_dict lacks"
        )


def _value(predictor: Predictor, column: str, spec: ModelInput, value: Any) -> Any:
    if _is_missing(value):
        raise NotSupportedError(
            f"predictor '{predictor.name}': column '{column}' is NULL in a row sent "
            "to the model; a tensor of the Open Inference Protocol cannot hold NULL"
        )
    converted = _convert(spec.datatype, value)
    if converted is None:
        raise WrongArgumentsError(
            f"predictor '{predictor.name}': column '{column}' holds {value!r}, "
            f"which the model's {spec.datatype} input '{spec.name}' cannot take"
        )
    return converted


def _is_missing(value: Any) -> bool:
    # NULL, and what every other body sends as null: NaN and infinities.
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, decimal.Decimal):
        return not value.is_finite()
    return value is None


def _convert(datatype: str, value: Any) -> Any:
    """The value as a tensor of datatype holds it, or None when it cannot be one."""
    kind = _KINDS[datatype]
    if kind == "bytes":
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value).decode("utf-8", "replace")
        if isinstance(value, datetime.date | datetime.time | datetime.timedelta):
            # The text every other body sends (a TIME as MySQL writes it).
            return temporal_text(value)
        return str(value)

    number = _number(value)
    if number is None:
        return None
    if kind == "float":
        return float(number)
    if number != int(number):
        # 2.5 in an integer tensor would be truncated by the server, silently.
        return None
    if kind == "bool":
        return bool(number) if number in (0, 1) else None
    low, high = _INT_RANGES[datatype]
    return int(number) if low <= number <= high else None


def _number(value: Any) -> int | float | decimal.Decimal | None:
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return int(text == "true")
        try:
            parsed = decimal.Decimal(text)
        except decimal.InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def _status_error(predictor: Predictor, url: str, answer: HttpAnswer) -> ModelError:
    try:
        decoded = decode_json(answer.body)
    except NotJsonError:
        decoded = None
    text = answer.excerpt()
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), str):
        text = _one_line(decoded["error"])
    elif isinstance(decoded, dict) and "detail" in decoded:
        text = _one_line(_detail_text(decoded["detail"]))
    elif decoded is None and answer.body.lstrip().startswith(_TRACEBACK_START.encode()):
        text = _one_line(_exception_text(answer.body))
    return ModelError(
        f"predictor '{predictor.name}': {redact_url(url)} answered "
        f"HTTP {answer.status}: {text}"
    )


def _exception_text(traceback: bytes) -> str:
    """The exception a Python traceback ends with, without the frames above it.

    The frames (indented lines) hold the server's file paths; the exception's
    message, which may span several lines, follows the last of them.
    """
    lines = traceback.decode("utf-8", "replace").strip().splitlines()
    indented = [i for i, line in enumerate(lines) if line.startswith((" ", "\t"))]
    start = indented[-1] + 1 if indented else 0
    return " ".join(lines[start:]) or lines[-1]


def _detail_text(detail: Any) -> str:
    # FastAPI's validation errors: a list of {"loc": [...], "msg": "..."}.
    if isinstance(detail, list) and all(isinstance(d, dict) for d in detail):
        return "; ".join(
            ".".join(str(part) for part in d.get("loc", [])) + f": {d.get('msg')}"
            for d in detail
        )
    return str(detail)


def _one_line(message: str) -> str:
    flat = re.sub(r"\s+", " ", message).strip()
    cut = flat[:ANSWER_EXCERPT_CHARS]
    return cut + ("..." if len(flat) > ANSWER_EXCERPT_CHARS else "")


def _to_prediction(
    predictor: Predictor,
    url: str,
    answer: HttpAnswer,
    decoded: dict[str, Any],
    sent: int,
) -> Prediction:
    outputs = decoded.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise answer_error(predictor, url, answer, "without an 'outputs' list")
    tensors = [_output(predictor, url, answer, output, sent) for output in outputs]

    names = [name for name, _ in tensors]
    lowered = [name.lower() for name in names]
    chosen = (
        lowered.index(predictor.target.lower())
        if predictor.target.lower() in lowered
        else 0
    )
    columns: dict[str, list[Any]] = {}
    by_column: dict[str, str] = {}
    for index, (name, values) in enumerate(tensors):
        column = (
            predictor.target
            if index == chosen
            else suffixed_column(predictor.target, name)
        )
        if column in columns:
            raise answer_error(
                predictor,
                url,
                answer,
                f"outputs '{by_column[column]}' and '{name}', which are the same "
                f"column '{column}'",
            )
        columns[column] = values
        by_column[column] = name
    return Prediction(columns)


def _output(
    predictor: Predictor, url: str, answer: HttpAnswer, output: Any, sent: int
) -> tuple[str, list[Any]]:
    name = output.get("name") if isinstance(output, dict) else None
    if not isinstance(name, str):
        raise answer_error(predictor, url, answer, "an output without a name")
    shape, data = output.get("shape"), output.get("data")
    if not (
        isinstance(shape, list)
        and shape
        and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
    ):
        raise answer_error(
            predictor, url, answer, f"output '{name}' without a valid shape"
        )
    if shape[0] != sent:
        raise answer_error(
            predictor,
            url,
            answer,
            f"output '{name}' of shape {shape} for {sent} rows sent",
        )
    if math.prod(shape[1:]) != 1:
        raise answer_error(
            predictor,
            url,
            answer,
            f"output '{name}' of shape {shape}, with {math.prod(shape[1:])} values "
            "per row where byom takes one",
        )

    values = _flatten(data) if isinstance(data, list) else None
    if values is None or len(values) != sent:
        count = len(values) if values is not None else "no list of"
        raise answer_error(
            predictor,
            url,
            answer,
            f"{count} values in output '{name}' for {sent} rows sent",
        )
    return name, values


def _flatten(data: list[Any]) -> list[Any] | None:
    """Row-major values of a (possibly nested) tensor; None if one is an object."""
    flat: list[Any] = []
    for item in data:
        if isinstance(item, list):
            inner = _flatten(item)
            if inner is None:
                return None
            flat.extend(inner)
        elif isinstance(item, dict):
            return None
        else:
            flat.append(item)
    return flat
