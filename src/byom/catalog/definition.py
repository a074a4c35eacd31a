"""Turning a CREATE PREDICTOR statement into a predictor record, checking USING.

Every key byom does not understand is refused by name: a misspelt key silently
ignored is how a user ends up querying the wrong model. A format byom trains
(``ray_server``) needs ``url.train`` and the FROM query; a predict-only format
(``mlflow``) refuses ``url.train`` and takes FROM only as rows to check the
model with. The keys that size predict calls (``batch_rows``, ``batch_bytes``,
``calls_in_flight``, ``predict_timeout``) are checked as a query's own USING
checks them, by ``byom.backends.call_options``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import orjson

from byom.backends.call_options import CALL_OPTION_KEYS, check_call_options
from byom.backends.formats import FORMATS, canonical_format, is_trainable
from byom.backends.http import redact_url
from byom.backends.mlflow import BODY_FORMATS
from byom.backends.open_inference import model_urls
from byom.catalog.records import DEFAULT_PROJECT, Predictor
from byom.errors import NotSupportedError, UnknownDatabaseError, WrongArgumentsError
from byom.sql.statements import CreatePredictor
from byom.types import DTYPE_SQL_TYPES

# USING keys byom reads; "url" is the nested form of url.train / url.predict.
_KNOWN_KEYS = {
    "url",
    "train_url",
    "predict_url",
    "format",
    "engine",
    "dtype_dict",
    "body_format",
    "headers",
    "on_error",
    *CALL_OPTION_KEYS,
}
ON_ERROR_CHOICES = ("error", "null")

# Headers byom sets itself on every model call; a predictor may not replace them.
_RESERVED_HEADERS = {"content-type", "content-length", "host", "x-request-id"}
# An HTTP header name is a token (RFC 9110, section 5.6.2).
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_KNOWN_URL_KEYS = {"train", "predict"}
# join_learn_process is read (and removed) before the definition is checked.
_SHOWN_KEYS = (_KNOWN_KEYS - {"url"}) | {"join_learn_process"}

# What the message refusing url.train calls a predict-only format's models.
_TRAINED_ELSEWHERE = {"mlflow": "MLflow models"}

# Keys that mean something to one format only, and that format.
_FORMAT_KEYS = {"body_format": "mlflow"}


def define_predictor(statement: CreatePredictor) -> Predictor:
    """Check a CREATE PREDICTOR statement and build the record to store.

    >>> CREATE PREDICTOR p FROM db (SELECT a, b FROM t) PREDICT b
    ... USING url.predict = 'http://m/predict', url.train = 'http://m/train',
    ...       dtype_dict = {"a": "integer", "b": "float"}, format = 'ray_server'

    >>> CREATE PREDICTOR q PREDICT b
    ... USING url.predict = 'http://m/invocations', format = 'mlflow',
    ...       dtype_dict = {"a": "integer", "b": "float"}
    """
    using = statement.using
    project = statement.project or DEFAULT_PROJECT
    if project.lower() != DEFAULT_PROJECT:
        raise UnknownDatabaseError(
            f"Unknown database '{project}': predictors live in '{DEFAULT_PROJECT}'"
        )

    _refuse_unknown_keys(using)
    using = check_call_options(using)
    named_format = _text(using, "format", "engine")
    if named_format is None:
        raise WrongArgumentsError(
            f"USING format is required; use one of: {', '.join(FORMATS)}"
        )
    model_format = canonical_format(named_format)
    _check_format_keys(using, model_format)
    train_url, predict_url = _urls(using)
    if predict_url is None:
        raise WrongArgumentsError("USING url.predict is required")
    if model_format == "open_inference":
        # A URL that names no model is refused before anything is stored.
        model_urls(predict_url)
    if is_trainable(model_format):
        _check_trained_here(statement, model_format, train_url)
    else:
        _check_trained_elsewhere(using, model_format, train_url)

    _check_headers(using.get("headers"))
    _check_on_error(using)
    dtype_dict = _dtype_dict(using)
    target = _match_column(statement.target, dtype_dict, "PREDICT column")
    if len(dtype_dict) < 2:
        raise WrongArgumentsError(
            f"USING dtype_dict must list the model's input columns besides the "
            f"PREDICT column '{target}'"
        )
    return Predictor(
        name=statement.name,
        project=DEFAULT_PROJECT,
        format=model_format,
        target=target,
        dtype_dict=dtype_dict,
        predict_url=predict_url,
        train_url=train_url,
        integration=statement.integration,
        select_sql=statement.select_sql,
        options=using,
    )


def _refuse_unknown_keys(using: dict[str, Any]) -> None:
    unknown = sorted(set(using) - _KNOWN_KEYS)
    if unknown:
        raise WrongArgumentsError(
            f"USING {unknown[0]} is not a known key; known keys: "
            + ", ".join(sorted(_SHOWN_KEYS) + ["url.predict", "url.train"])
        )
    url = using.get("url")
    if url is not None:
        if not isinstance(url, dict):
            raise WrongArgumentsError(
                "USING url must be given as url.train and url.predict"
            )
        extra = sorted(set(url) - _KNOWN_URL_KEYS)
        if extra:
            raise WrongArgumentsError(f"USING url.{extra[0]} is not a known key")


def _check_format_keys(using: dict[str, Any], model_format: str) -> None:
    for key, owner in _FORMAT_KEYS.items():
        if key in using and model_format != owner:
            raise WrongArgumentsError(
                f"USING {key} applies to format '{owner}' only, not '{model_format}'"
            )

    layout = _text(using, "body_format")
    if layout is not None and layout.lower() not in BODY_FORMATS:
        raise WrongArgumentsError(
            f"USING body_format = '{layout}' is unknown; use one of: "
            + ", ".join(BODY_FORMATS)
        )


def _check_trained_here(
    statement: CreatePredictor, model_format: str, train_url: str | None
) -> None:
    if train_url is None:
        raise WrongArgumentsError(
            f"USING url.train is required for format '{model_format}'"
        )
    if statement.integration is None or statement.select_sql is None:
        raise NotSupportedError(
            f"format '{model_format}' trains its model: give the training data "
            "with FROM integration (SELECT ...)"
        )


def _check_trained_elsewhere(
    using: dict[str, Any], model_format: str, train_url: str | None
) -> None:
    if train_url is None:
        return
    key = "url.train" if "train" in (using.get("url") or {}) else "train_url"
    raise WrongArgumentsError(
        f"USING {key} does not apply to format '{model_format}': "
        f"{_TRAINED_ELSEWHERE.get(model_format, 'its models')} "
        "are trained outside byom, which only calls url.predict"
    )


def _urls(using: dict[str, Any]) -> tuple[str | None, str | None]:
    nested = using.get("url") or {}
    train = nested.get("train") if "train" in nested else using.get("train_url")
    predict = nested.get("predict") if "predict" in nested else using.get("predict_url")
    for key, value in (("url.train", train), ("url.predict", predict)):
        if value is None:
            continue
        if not (
            isinstance(value, str) and value.lower().startswith(("http://", "https://"))
        ):
            raise WrongArgumentsError(f"USING {key} must be an http:// or https:// URL")
        _check_url_parts(key, value)
    return train, predict


def _check_on_error(using: dict[str, Any]) -> None:
    choice = _text(using, "on_error")
    if choice is not None and choice.lower() not in ON_ERROR_CHOICES:
        raise WrongArgumentsError(
            f"USING on_error = '{choice}' is unknown; use one of: "
            + ", ".join(ON_ERROR_CHOICES)
        )


def _check_headers(headers: Any) -> None:
    if headers is None:
        return
    if not isinstance(headers, dict):
        raise WrongArgumentsError(
            'USING headers must be a JSON object such as {"Authorization": "..."}'
        )
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise WrongArgumentsError(f"USING headers: {name!r} is not a header name")
        if name.lower() in _RESERVED_HEADERS:
            raise WrongArgumentsError(
                f"USING headers: {name} is set by byom and cannot be given"
            )
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            # The value is a secret: the message names only the header.
            raise WrongArgumentsError(
                f"USING headers: the value of {name} must be a one-line string"
            )


def _check_url_parts(key: str, url: str) -> None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise WrongArgumentsError(f"USING {key} has an invalid port: {exc}") from None
    if port == 0:
        raise WrongArgumentsError(f"USING {key} has an invalid port: 0")
    if not parts.hostname:
        raise WrongArgumentsError(f"USING {key} has no host: {redact_url(url)}")


def _text(using: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = using.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise WrongArgumentsError(f"USING {key} must be a string")
            return value
    return None


def _dtype_dict(using: dict[str, Any]) -> dict[str, str]:
    raw = using.get("dtype_dict")
    if raw is None:
        raise WrongArgumentsError(
            "USING dtype_dict is required: a JSON object of column -> type"
        )
    if isinstance(raw, str):
        # MindsDB's MLflow examples quote the JSON; both spellings mean the same.
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise WrongArgumentsError(
                f"USING dtype_dict is not valid JSON: {exc}"
            ) from None
    if not isinstance(raw, dict) or not raw:
        raise WrongArgumentsError(
            "USING dtype_dict must be a non-empty JSON object of column -> type"
        )
    for column, kind in raw.items():
        if not isinstance(kind, str) or kind.lower() not in DTYPE_SQL_TYPES:
            known = ", ".join(sorted(DTYPE_SQL_TYPES))
            raise WrongArgumentsError(
                f"USING dtype_dict: column '{column}' has type {kind!r}; "
                f"use one of: {known}"
            )
    return {str(column): str(kind).lower() for column, kind in raw.items()}


def _match_column(name: str, dtype_dict: dict[str, str], what: str) -> str:
    for column in dtype_dict:
        if column.lower() == name.lower():
            return column
    raise WrongArgumentsError(
        f"{what} '{name}' is not in USING dtype_dict (columns: {', '.join(dtype_dict)})"
    )
