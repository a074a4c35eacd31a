"""Every limit, timeout and address byom uses, with its default and a help line.

One table (``SETTINGS``) feeds the command line (``byom serve --help``), the
environment (``BYOM_<NAME>``) and ``docs/settings.md``, so a limit is never a magic
number buried in the code.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One named setting: its type, default and the line of help users read."""

    name: str
    type: type
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "127.0.0.1", "Address the MySQL server listens on."),
    Setting("port", int, 47335, "Port the MySQL server listens on."),
    Setting(
        "data_dir",
        Path,
        Path("data"),
        "Directory holding the catalog (integrations, predictors) and demo data.",
    ),
    Setting("user", str, "mindsdb", "The one user name clients log in with."),
    Setting(
        "password",
        str,
        "",
        "That user's password (empty by default; set BYOM_PASSWORD to hide it "
        "from the process list).",
    ),
    Setting(
        "demo",
        bool,
        True,
        "Create the embedded 'mydb' SQLite demo source on first start.",
    ),
    Setting(
        "batch_rows",
        int,
        10_000,
        "Rows read from a source in one fetch and sent to a model in one "
        "predict call.",
    ),
    Setting(
        "calls_in_flight",
        int,
        4,
        "Predict calls in flight at once for one query (a single Ray Serve "
        "replica serves 5 at a time).",
    ),
    Setting(
        "connect_timeout",
        float,
        5.0,
        "Seconds to wait for a TCP connection to a model endpoint.",
    ),
    Setting(
        "predict_timeout",
        float,
        55.0,
        "Seconds one predict call may take (MLflow's own limit is 60).",
    ),
    Setting(
        "train_timeout",
        float,
        600.0,
        "Seconds the train call of CREATE PREDICTOR may take.",
    ),
    Setting(
        "max_training_rows",
        int,
        1_000_000,
        "Most rows CREATE PREDICTOR sends to a train endpoint in its one call.",
    ),
    Setting(
        "log_level",
        str,
        "INFO",
        "Logging level: DEBUG, INFO, WARNING or ERROR.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The values in force, built from SETTINGS, the environment and the CLI."""

    host: str = "127.0.0.1"
    port: int = 47335
    data_dir: Path = Path("data")
    user: str = "mindsdb"
    password: str = ""
    demo: bool = True
    batch_rows: int = 10_000
    calls_in_flight: int = 4
    connect_timeout: float = 5.0
    predict_timeout: float = 55.0
    train_timeout: float = 600.0
    max_training_rows: int = 1_000_000
    log_level: str = "INFO"

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some values changed."""
        return dataclasses.replace(self, **changes)


def convert(setting: Setting, raw: str) -> Any:
    """Turn the text of an environment variable or flag into the setting's type."""
    if setting.type is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{setting.name}: expected true or false, got {raw!r}")
    return setting.type(raw)


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Read BYOM_<NAME> variables for every setting that has one set."""
    environ = dict(os.environ) if environ is None else environ
    found: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(f"BYOM_{setting.name.upper()}")
        if raw is not None:
            found[setting.name] = convert(setting, raw)
    return found


def _check_table_matches_dataclass() -> None:
    # The table and the dataclass must name the same settings with the same
    # defaults; checked at import so a forgotten entry fails at once.
    fields = {f.name: f.default for f in dataclasses.fields(Settings)}
    table = {s.name: s.default for s in SETTINGS}
    if fields != table:
        raise RuntimeError(f"SETTINGS and Settings disagree: {fields} != {table}")


_check_table_matches_dataclass()
