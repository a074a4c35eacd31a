"""Model formats by name, with the spellings users bring from MindsDB."""

from __future__ import annotations

from byom.backends.base import ModelBackend
from byom.backends.http import HttpClient
from byom.backends.ray_server import RayServerBackend
from byom.errors import NotSupportedError, WrongArgumentsError
from byom.settings import Settings

# MindsDB's code said ray_server, its docs ray_serve; users also typed rayserve.
_ALIASES = {"ray_serve": "ray_server", "rayserve": "ray_server"}
FORMATS = ("ray_server",)
_PLANNED = ("mlflow",)


def canonical_format(name: str) -> str:
    """The format's canonical name, or an error listing the valid ones."""
    lowered = name.strip().lower()
    lowered = _ALIASES.get(lowered, lowered)
    if lowered in _PLANNED:
        raise NotSupportedError(
            f"format '{name}' is not supported yet; supported: {', '.join(FORMATS)}"
        )
    if lowered not in FORMATS:
        raise WrongArgumentsError(
            f"USING format = '{name}' is unknown; use one of: {', '.join(FORMATS)}"
        )
    return lowered


class Backends:
    """One backend object per format, sharing the server's HTTP pool."""

    def __init__(self, settings: Settings) -> None:
        self.http = HttpClient(settings.connect_timeout)
        self._by_format: dict[str, ModelBackend] = {
            "ray_server": RayServerBackend(
                self.http, settings.train_timeout, settings.predict_timeout
            ),
        }

    def for_format(self, name: str) -> ModelBackend:
        """The backend speaking a (canonical) format."""
        return self._by_format[canonical_format(name)]

    async def close(self) -> None:
        """Close the HTTP pool."""
        await self.http.close()
