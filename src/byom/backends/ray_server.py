"""The ``ray_server`` format: a Ray Serve app with ``train`` and ``predict`` routes.

Both bodies carry the frame as a JSON *string* of records (``{"df": "[{...}]"}``),
as MindsDB sent it. Train succeeds only on HTTP 200 with ``{"status": "ok"}``;
predict must answer ``{"prediction": [...]}`` with one value per row sent, plus
optional lists that become extra columns. A train call is never repeated once
the app may have received it: training may have effects, and may have run.
"""

from __future__ import annotations

import logging
from typing import Any

from byom.backends.answers import (
    NotJsonError,
    answer_error,
    decode_json,
    decode_object,
    suffixed_column,
)
from byom.backends.base import Prediction, predictor_headers, records_json
from byom.backends.call_options import predict_timeout_of
from byom.backends.http import HttpAnswer, HttpClient, redact_url
from byom.backends.values import to_json
from byom.catalog.records import Predictor
from byom.errors import ModelError

logger = logging.getLogger(__name__)


class RayServerBackend:
    """Calls a Ray Serve app (or anything speaking the same JSON)."""

    trainable = True

    def __init__(self, http: HttpClient, predict_timeout: float):
        self._http = http
        self._predict_timeout = predict_timeout

    async def train(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """POST every training row and the target; require ``status == "ok"``."""
        assert predictor.train_url is not None
        body = to_json({"df": records_json(columns, rows), "target": predictor.target})
        logger.info(
            "predictor %s: training with %d rows at %s",
            predictor.name,
            len(rows),
            redact_url(predictor.train_url),
        )
        answer = await self._http.post_json(
            predictor.train_url,
            body,
            # train_timeout bounds the whole training (the source's query too),
            # in the training job, so that one limit gives one message.
            None,
            _caller(predictor),
            repeatable=False,
            extra_headers=predictor_headers(predictor),
        )
        if answer.status != 200 or _status(answer) != "ok":
            raise ModelError(
                f"training predictor '{predictor.name}' failed: "
                f"{redact_url(predictor.train_url)} answered HTTP {answer.status}: "
                f"{answer.excerpt()}"
            )

    async def predict(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> Prediction:
        """Score one batch and map the answer's lists onto output columns."""
        body = to_json({"df": records_json(columns, rows)})
        answer = await self._http.post_json(
            predictor.predict_url,
            body,
            predict_timeout_of(predictor, self._predict_timeout),
            _caller(predictor),
            extra_headers=predictor_headers(predictor),
        )
        if answer.status != 200:
            raise answer_error(
                predictor, predictor.predict_url, answer, f"HTTP {answer.status}"
            )
        decoded = decode_object(predictor, predictor.predict_url, answer)
        return _to_prediction(predictor, answer, decoded, len(rows))


def _status(answer: HttpAnswer) -> object:
    try:
        decoded = decode_json(answer.body)
    except NotJsonError:
        return None
    return decoded.get("status") if isinstance(decoded, dict) else None


def _caller(predictor: Predictor) -> str:
    return f"predictor '{predictor.name}'"


def _to_prediction(
    predictor: Predictor, answer: HttpAnswer, decoded: dict[str, Any], sent: int
) -> Prediction:
    if "prediction" not in decoded:
        raise answer_error(
            predictor, predictor.predict_url, answer, "without a 'prediction' key"
        )

    columns: dict[str, list[Any]] = {}
    for key, values in decoded.items():
        if not isinstance(values, list):
            raise answer_error(
                predictor, predictor.predict_url, answer, f"'{key}' that is not a list"
            )
        if len(values) != sent:
            raise answer_error(
                predictor,
                predictor.predict_url,
                answer,
                f"{len(values)} values in '{key}' for {sent} rows sent",
            )
        columns[_column_for(predictor.target, key)] = values
    return Prediction(columns)


def _column_for(target: str, key: str) -> str:
    return target if key == "prediction" else suffixed_column(target, key)
