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

from byom.backends.allowlist import UrlAllowList


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
        "users_file",
        str,
        "",
        "TOML file of users (password hashes from `byom hash-password`, "
        "require_tls, admin, clear-text token users); when set, it replaces user "
        "and password. See README, 'Users and TLS'.",
    ),
    Setting(
        "tls",
        str,
        "auto",
        "TLS for MySQL connections: 'off', 'on' (offered), 'required' (plain-TCP "
        "logins refused), or 'auto' (on when tls_cert is set, else off).",
    ),
    Setting("tls_cert", str, "", "PEM certificate chain file for TLS."),
    Setting("tls_key", str, "", "PEM private key file of tls_cert."),
    Setting(
        "tls_self_signed",
        bool,
        True,
        "With TLS on and no tls_cert, generate a self-signed certificate into "
        "<data_dir>/tls at first start and reuse it.",
    ),
    Setting(
        "tls_handshake_timeout",
        float,
        10.0,
        "Seconds a client may take to complete its TLS handshake.",
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
        "Rows read from a source in one fetch and sent to a model in one predict "
        "call; a predictor's USING batch_rows overrides it.",
    ),
    Setting(
        "batch_bytes",
        int,
        16_777_216,
        "Most bytes in the request body of one predict call: a batch whose body "
        "would be larger is sent in several calls (0: no byte limit); a "
        "predictor's USING batch_bytes overrides it.",
    ),
    Setting(
        "calls_in_flight",
        int,
        4,
        "Predict calls in flight at once for one query (a single Ray Serve "
        "replica serves 5 at a time); a predictor's USING calls_in_flight "
        "overrides it.",
    ),
    Setting(
        "source_connections",
        int,
        8,
        "Connections byom opens to one data source at most; queries beyond them "
        "wait for one to be free.",
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
        "Seconds one try of a predict call may take (MLflow's own limit is 60); "
        "a predictor's USING predict_timeout overrides it.",
    ),
    Setting(
        "train_timeout",
        float,
        600.0,
        "Seconds the train call of CREATE PREDICTOR may take.",
    ),
    Setting(
        "query_timeout",
        float,
        0.0,
        "Seconds a query may run, streaming its rows included, before it fails "
        "with error 3024 (0: no limit). SET max_execution_time (in ms) overrides "
        "it for a session.",
    ),
    Setting(
        "training_wait",
        float,
        60.0,
        "Seconds a query on a predictor still training waits for it before "
        "answering that it is not ready (0: answer at once).",
    ),
    Setting(
        "retries",
        int,
        3,
        "Most tries of one model call, the first included, when the endpoint is "
        "unreachable or answers 408, 429, 500, 502, 503 or 504 (1: never retry).",
    ),
    Setting(
        "retry_backoff",
        float,
        0.2,
        "Seconds before the first retry of a model call; doubled for each further "
        "retry, with random jitter.",
    ),
    Setting(
        "retry_max_wait",
        float,
        5.0,
        "Longest wait in seconds before a retry, also when a model's Retry-After "
        "asks for more.",
    ),
    Setting(
        "allowed_model_urls",
        str,
        "loopback",
        "Comma-separated model URLs byom may call: 'loopback' (127.0.0.0/8, ::1, "
        "localhost), URL prefixes such as https://models.internal/serve/, or '*' "
        "for any.",
    ),
    Setting(
        "max_training_rows",
        int,
        1_000_000,
        "Most rows CREATE PREDICTOR sends to a train endpoint in its one call.",
    ),
    Setting(
        "max_local_rows",
        int,
        1_000_000,
        "Most joined rows a query on a predictor may hold in memory for what "
        "only its predictions can decide (ORDER BY or GROUP BY a prediction, "
        "DISTINCT, aggregates, a LIMIT after a filter on a prediction).",
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
    users_file: str = ""
    tls: str = "auto"
    tls_cert: str = ""
    tls_key: str = ""
    tls_self_signed: bool = True
    tls_handshake_timeout: float = 10.0
    demo: bool = True
    batch_rows: int = 10_000
    batch_bytes: int = 16_777_216
    calls_in_flight: int = 4
    source_connections: int = 8
    connect_timeout: float = 5.0
    predict_timeout: float = 55.0
    train_timeout: float = 600.0
    query_timeout: float = 0.0
    training_wait: float = 60.0
    retries: int = 3
    retry_backoff: float = 0.2
    retry_max_wait: float = 5.0
    allowed_model_urls: str = "loopback"
    max_training_rows: int = 1_000_000
    max_local_rows: int = 1_000_000
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        for name in (
            "port",
            "batch_rows",
            "calls_in_flight",
            "source_connections",
            "retries",
            "max_training_rows",
            "max_local_rows",
        ):
            if getattr(self, name) < (0 if name == "port" else 1):
                raise ValueError(f"{name} must be a positive number")
        if self.batch_bytes < 0:
            raise ValueError("batch_bytes must be 0 (no byte limit) or more")
        for name in ("training_wait", "query_timeout"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more seconds")
        for name in (
            "connect_timeout",
            "predict_timeout",
            "train_timeout",
            "tls_handshake_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be more than 0 seconds")
        for name in ("retry_backoff", "retry_max_wait"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more seconds")
        UrlAllowList(self.allowed_model_urls)  # raises ValueError naming the entry
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"log_level {self.log_level!r} is not a logging level")
        self._check_tls()

    def _check_tls(self) -> None:
        if self.tls not in {"auto", "off", "on", "required"}:
            raise ValueError(f"tls must be auto, off, on or required, not {self.tls!r}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key must be given together")
        if self.tls in {"on", "required"} and not (
            self.tls_cert or self.tls_self_signed
        ):
            raise ValueError(
                f"tls is {self.tls!r} but there is no tls_cert and "
                "tls_self_signed is off"
            )

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
    try:
        return setting.type(raw)
    except ValueError:
        kind = {int: "a whole number", float: "a number"}.get(setting.type, "a value")
        raise ValueError(f"{setting.name}: expected {kind}, got {raw!r}") from None


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


def settings_markdown() -> str:
    """The settings table as Markdown, the text of ``docs/settings.md``."""
    lines = [
        "# Settings",
        "",
        "Every limit and address byom uses. Set one with a flag of `byom serve` "
        "(`--batch-rows 5000`) or an environment variable (`BYOM_BATCH_ROWS=5000`); "
        "a flag wins over the environment. This page is generated from "
        "`byom.settings.SETTINGS`.",
        "",
        "| setting | flag | environment | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for setting in SETTINGS:
        flag = "--" + setting.name.replace("_", "-")
        env = f"BYOM_{setting.name.upper()}"
        default = repr(setting.default) if setting.default == "" else setting.default
        lines.append(
            f"| {setting.name} | `{flag}` | `{env}` | `{default}` | {setting.help} |"
        )
    return "\n".join(lines) + "\n"
