"""The catalog as tables: ``mindsdb.predictors``, ``models``, ``databases``, ...

``call_stats`` comes from the model backends' counters (``backends.stats``).

Column sets follow MindsDB's, so scripts that poll ``SELECT status, error FROM
mindsdb.predictors WHERE name = 'm'`` keep working. Nothing here ever shows a
secret: URLs lose their credentials and query strings, and USING values under
keys that name secrets are masked.
"""

from __future__ import annotations

from typing import Any

import orjson

from byom import __version__
from byom.backends.http import redact_url
from byom.catalog.records import DEFAULT_PROJECT, Integration, Predictor
from byom.types import SqlType, type_name

Column = tuple[str, SqlType]
Row = tuple[Any, ...]

_SECRET_WORDS = ("password", "secret", "token", "key", "authorization", "headers")
MASK = "******"

PREDICTORS: list[Column] = [
    ("name", SqlType.VAR_STRING),
    ("status", SqlType.VAR_STRING),
    ("accuracy", SqlType.VAR_STRING),
    ("predict", SqlType.VAR_STRING),
    ("update_status", SqlType.VAR_STRING),
    ("mindsdb_version", SqlType.VAR_STRING),
    ("error", SqlType.VAR_STRING),
    ("select_data_query", SqlType.VAR_STRING),
    ("training_options", SqlType.VAR_STRING),
]

MODELS: list[Column] = [
    ("NAME", SqlType.VAR_STRING),
    ("ENGINE", SqlType.VAR_STRING),
    ("PROJECT", SqlType.VAR_STRING),
    ("VERSION", SqlType.LONGLONG),
    ("STATUS", SqlType.VAR_STRING),
    ("ACCURACY", SqlType.VAR_STRING),
    ("PREDICT", SqlType.VAR_STRING),
    ("UPDATE_STATUS", SqlType.VAR_STRING),
    ("MINDSDB_VERSION", SqlType.VAR_STRING),
    ("ERROR", SqlType.VAR_STRING),
    ("SELECT_DATA_QUERY", SqlType.VAR_STRING),
    ("TRAINING_OPTIONS", SqlType.VAR_STRING),
    ("CURRENT_TRAINING_PHASE", SqlType.LONGLONG),
    ("TOTAL_TRAINING_PHASES", SqlType.LONGLONG),
    ("TRAINING_PHASE_NAME", SqlType.VAR_STRING),
    ("TAG", SqlType.VAR_STRING),
    ("CREATED_AT", SqlType.DATETIME),
    ("TRAINING_TIME", SqlType.DOUBLE),
]

DATABASES: list[Column] = [
    ("name", SqlType.VAR_STRING),
    ("database_type", SqlType.VAR_STRING),
    ("host", SqlType.VAR_STRING),
    ("port", SqlType.LONGLONG),
    ("user", SqlType.VAR_STRING),
]

CALL_STATS: list[Column] = [
    ("name", SqlType.VAR_STRING),
    ("kind", SqlType.VAR_STRING),
    ("calls", SqlType.LONGLONG),
    ("rows_sent", SqlType.LONGLONG),
    ("retries", SqlType.LONGLONG),
    ("errors", SqlType.LONGLONG),
    ("p50_ms", SqlType.DOUBLE),
    ("p99_ms", SqlType.DOUBLE),
]

DESCRIBE: list[Column] = [
    ("name", SqlType.VAR_STRING),
    ("status", SqlType.VAR_STRING),
    ("format", SqlType.VAR_STRING),
    ("target", SqlType.VAR_STRING),
    ("inputs", SqlType.VAR_STRING),
    ("outputs", SqlType.VAR_STRING),
    ("predict_url", SqlType.VAR_STRING),
    ("train_url", SqlType.VAR_STRING),
    ("integration", SqlType.VAR_STRING),
    ("select_data_query", SqlType.VAR_STRING),
    ("version", SqlType.LONGLONG),
    ("update_status", SqlType.VAR_STRING),
    ("training_rows", SqlType.LONGLONG),
    ("training_seconds", SqlType.DOUBLE),
    ("created_at", SqlType.VAR_STRING),
    ("trained_at", SqlType.VAR_STRING),
    ("error", SqlType.VAR_STRING),
]

SYSTEM_TABLES = {
    "predictors": PREDICTORS,
    "models": MODELS,
    "databases": DATABASES,
    "call_stats": CALL_STATS,
}


def public_options(options: dict[str, Any]) -> dict[str, Any]:
    """USING options safe to show: URLs redacted, secrets masked."""
    shown: dict[str, Any] = {}
    for key, value in options.items():
        if any(word in key.lower() for word in _SECRET_WORDS):
            shown[key] = MASK
        elif isinstance(value, dict):
            shown[key] = public_options(value)
        elif isinstance(value, str) and value.lower().startswith(("http:", "https:")):
            shown[key] = redact_url(value)
        else:
            shown[key] = value
    return shown


def _options_text(predictor: Predictor) -> str:
    return orjson.dumps(public_options(predictor.options)).decode()


def predictors_rows(predictors: list[Predictor]) -> list[Row]:
    """Rows of ``mindsdb.predictors``."""
    return [
        (
            p.name,
            p.status,
            None,
            p.target,
            p.update_status,
            __version__,
            p.error,
            p.select_sql,
            _options_text(p),
        )
        for p in predictors
    ]


def models_rows(predictors: list[Predictor]) -> list[Row]:
    """Rows of ``mindsdb.models`` (the newer MindsDB column set)."""
    return [
        (
            p.name,
            p.format,
            DEFAULT_PROJECT,
            p.version,
            p.status,
            None,
            p.target,
            p.update_status,
            __version__,
            p.error,
            p.select_sql,
            _options_text(p),
            1 if p.status == "complete" else 0,
            1,
            "training",
            None,
            p.created_at.replace("T", " ")[:19],
            p.training_seconds,
        )
        for p in predictors
    ]


def databases_rows(integrations: list[Integration]) -> list[Row]:
    """Rows of ``mindsdb.databases``: never the password."""
    rows: list[Row] = [(DEFAULT_PROJECT, "project", None, None, None)]
    for integration in integrations:
        params = integration.parameters
        port = params.get("port")
        rows.append(
            (
                integration.name,
                integration.engine,
                params.get("host"),
                int(port) if port is not None else None,
                params.get("user"),
            )
        )
    return rows


def describe_rows(predictor: Predictor, outputs: list[Column]) -> list[Row]:
    """The one row of ``DESCRIBE PREDICTOR name``; outputs with their types."""
    return [
        (
            predictor.name,
            predictor.status,
            predictor.format,
            predictor.target,
            ", ".join(predictor.inputs),
            ", ".join(f"{name} {type_name(kind)}" for name, kind in outputs),
            redact_url(predictor.predict_url),
            redact_url(predictor.train_url) if predictor.train_url else None,
            predictor.integration,
            predictor.select_sql,
            predictor.version,
            predictor.update_status,
            predictor.training_rows,
            predictor.training_seconds,
            predictor.created_at,
            predictor.trained_at,
            predictor.error,
        )
    ]
