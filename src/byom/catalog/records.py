"""What the catalog stores: integrations (data sources) and predictors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_PROJECT = "mindsdb"


def now() -> str:
    """The current UTC time as the catalog writes it (ISO 8601, seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Integration:
    """A registered data source: an engine name and its connection parameters.

    Parameters may hold a password; they are stored so byom can connect, and are
    never shown to clients or written to logs.
    """

    name: str
    engine: str
    parameters: dict[str, Any]
    created_at: str = field(default_factory=now)


@dataclass(frozen=True)
class Predictor:
    """A model behind HTTP endpoints, queried as the table ``project.name``.

    ``dtype_dict`` keeps the user's order: inputs and target. ``column_types``
    holds the MySQL type learnt for a column from the training data, which refines
    loose lightwood types such as ``categorical``. ``status`` is the state of the
    version that answers queries (``generating``, ``training``, ``complete``,
    ``error``); ``update_status`` tracks a RETRAIN of it (``up_to_date``,
    ``updating``, ``update_failed``), which never stops the current version.
    ``outputs`` maps each column a predict-only model answered when it was
    checked at CREATE to the MySQL type of its value.
    """

    name: str
    format: str
    target: str
    dtype_dict: dict[str, str]
    predict_url: str
    train_url: str | None = None
    integration: str | None = None
    select_sql: str | None = None
    project: str = DEFAULT_PROJECT
    options: dict[str, Any] = field(default_factory=dict)
    column_types: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    status: str = "generating"
    error: str | None = None
    training_rows: int | None = None
    created_at: str = field(default_factory=now)
    trained_at: str | None = None
    training_seconds: float | None = None
    version: int = 1
    update_status: str = "up_to_date"

    @property
    def inputs(self) -> list[str]:
        """The feature columns the model takes: dtype_dict keys minus the target."""
        return [c for c in self.dtype_dict if c.lower() != self.target.lower()]

    @property
    def on_error(self) -> str:
        """What a failed predict call gives: 'error' (the query fails) or 'null'."""
        return str(self.options.get("on_error", "error")).lower()

    def replace(self, **changes: Any) -> Predictor:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)
