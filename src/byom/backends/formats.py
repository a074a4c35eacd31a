"""Model formats by name, with the spellings users bring from MindsDB."""

from __future__ import annotations

from typing import Any

from byom.backends.allowlist import UrlAllowList
from byom.backends.base import ModelBackend, ModelChecker, Prediction
from byom.backends.http import HttpClient
from byom.backends.mlflow import MlflowBackend
from byom.backends.open_inference import OpenInferenceBackend
from byom.backends.ray_server import RayServerBackend
from byom.backends.retry import RetryPolicy
from byom.backends.stats import CallStats
from byom.catalog.records import Predictor
from byom.errors import WrongArgumentsError
from byom.settings import Settings

# MindsDB's code said ray_server, its docs ray_serve; users also typed rayserve.
_ALIASES = {"ray_serve": "ray_server", "rayserve": "ray_server"}

# Whether byom trains each format's model (with CREATE's FROM query) or only
# predicts with a model trained elsewhere.
_TRAINABLE = {
    "ray_server": RayServerBackend.trainable,
    "mlflow": MlflowBackend.trainable,
    "open_inference": OpenInferenceBackend.trainable,
}
FORMATS = tuple(_TRAINABLE)


def canonical_format(name: str) -> str:
    """The format's canonical name, or an error listing the valid ones."""
    lowered = name.strip().lower()
    lowered = _ALIASES.get(lowered, lowered)
    if lowered not in FORMATS:
        raise WrongArgumentsError(
            f"USING format = '{name}' is unknown; use one of: {', '.join(FORMATS)}"
        )
    return lowered


def is_trainable(model_format: str) -> bool:
    """Whether byom trains models of a (canonical) format itself."""
    return _TRAINABLE[model_format]


class Backends:
    """One backend object per format, sharing the server's HTTP pool."""

    def __init__(self, settings: Settings) -> None:
        retry = RetryPolicy(
            tries=settings.retries,
            backoff=settings.retry_backoff,
            max_wait=settings.retry_max_wait,
        )
        self.allowed = UrlAllowList(settings.allowed_model_urls)
        self.http = HttpClient(settings.connect_timeout, retry, allowed=self.allowed)
        self.stats = CallStats()
        self._by_format: dict[str, ModelBackend] = {
            "ray_server": _Measured(
                RayServerBackend(self.http, settings.predict_timeout),
                self.stats,
            ),
            "mlflow": _Measured(
                MlflowBackend(self.http, settings.predict_timeout), self.stats
            ),
            "open_inference": _Measured(
                OpenInferenceBackend(self.http, settings.predict_timeout), self.stats
            ),
        }

    def for_format(self, name: str) -> ModelBackend:
        """The backend speaking a (canonical) format."""
        return self._by_format[canonical_format(name)]

    async def close(self) -> None:
        """Close the HTTP pool."""
        await self.http.close()


class _Measured:
    """A backend whose every call is counted in CallStats."""

    def __init__(self, inner: ModelBackend, stats: CallStats) -> None:
        self.trainable = inner.trainable
        self._inner = inner
        self._stats = stats

    async def train(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> None:
        async with self._stats.measure(predictor, "train", len(rows)):
            await self._inner.train(predictor, columns, rows)

    async def predict(
        self, predictor: Predictor, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> Prediction:
        async with self._stats.measure(predictor, "predict", len(rows)):
            return await self._inner.predict(predictor, columns, rows)

    async def check(self, predictor: Predictor) -> None:
        """The inner backend's CREATE-time check, where it has one."""
        if isinstance(self._inner, ModelChecker):
            await self._inner.check(predictor)
