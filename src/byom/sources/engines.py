"""The database engines an integration can use, and how to reach each one.

Users give MindsDB's parameter names (host, port, user, password, database; for
SQLite a file). Each engine turns them into a SQLAlchemy URL, names the sqlglot
dialect its SQL is written in, and says what the middle part of a three-part name
(``mydb.test_data.home_rentals``) means there: a MySQL database, a PostgreSQL
schema, an attached SQLite database.

MySQL and MariaDB are reached through mysqlclient (``MySQLdb``, a C driver) when
it is installed (the ``mysqlclient`` extra), and through PyMySQL otherwise. The C
driver reads rows four to five times faster (docs/benchmarks.md), and the rate
rows are read at bounds a large passthrough or join. Both give the same cursor
type codes and the same Python values, once mysqlclient is told to keep a date
it cannot represent (``0000-00-00``) as its text, as PyMySQL does, instead of
making it NULL.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import sqlalchemy as sa

from byom.errors import WrongArgumentsError


@dataclass(frozen=True)
class EngineSpec:
    """How byom reaches one kind of database."""

    name: str
    dialect: str
    required: tuple[str, ...]
    optional: tuple[str, ...]

    @property
    def speaks_mysql(self) -> bool:
        """Whether the server speaks the MySQL protocol (MySQL, MariaDB)."""
        return self.name in {"mysql", "mariadb"}


ENGINES: dict[str, EngineSpec] = {
    "sqlite": EngineSpec("sqlite", "sqlite", ("db_file",), ("attach",)),
    "mysql": EngineSpec(
        "mysql",
        "mysql",
        ("host", "user"),
        ("port", "password", "database", "connect_timeout"),
    ),
    "mariadb": EngineSpec(
        "mariadb",
        "mysql",
        ("host", "user"),
        ("port", "password", "database", "connect_timeout"),
    ),
    "postgres": EngineSpec(
        "postgres",
        "postgres",
        ("host", "user", "database"),
        ("port", "password", "schema", "connect_timeout"),
    ),
}

# Spellings users bring from MindsDB and elsewhere.
_ALIASES = {"postgresql": "postgres", "sqlite3": "sqlite"}


def sqlite_uri(path: Any) -> str:
    """A SQLite file as a URI that opens it read-write but never creates it.

    A misspelt path must be an error at CREATE DATABASE, not a new empty
    database file that then shows no tables.
    """
    resolved = Path(str(path)).expanduser().resolve()
    return f"file:{quote(str(resolved))}?mode=rw"


def sqlite_files(parameters: dict[str, Any]) -> list[Path]:
    """Every file a SQLite integration opens: db_file and the attached ones."""
    attached = parameters.get("attach") or {}
    paths = [parameters["db_file"], *attached.values()]
    return [Path(str(p)).expanduser().resolve() for p in paths]


def engine_spec(engine: str) -> EngineSpec:
    """The spec for an engine name, or an error listing the supported ones."""
    name = _ALIASES.get(engine.lower(), engine.lower())
    if name not in ENGINES:
        known = ", ".join(sorted(ENGINES))
        raise WrongArgumentsError(
            f"ENGINE '{engine}' is not supported; use one of: {known}"
        )
    return ENGINES[name]


def check_parameters(spec: EngineSpec, parameters: dict[str, Any]) -> None:
    """Refuse missing and unknown PARAMETERS keys, naming them."""
    missing = [key for key in spec.required if parameters.get(key) in (None, "")]
    if missing:
        raise WrongArgumentsError(
            f"PARAMETERS for ENGINE '{spec.name}' lack: {', '.join(missing)}"
        )
    allowed = set(spec.required) | set(spec.optional)
    unknown = sorted(set(parameters) - allowed)
    if unknown:
        raise WrongArgumentsError(
            f"PARAMETERS for ENGINE '{spec.name}' do not take: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(allowed))})"
        )


def build_url(spec: EngineSpec, parameters: dict[str, Any]) -> sa.URL:
    """The SQLAlchemy URL for an integration's parameters."""
    if spec.name == "sqlite":
        return sa.URL.create(
            "sqlite", database=sqlite_uri(parameters["db_file"]), query={"uri": "true"}
        )
    if spec.speaks_mysql:
        return sa.URL.create(
            f"mysql+{mysql_driver()}",
            username=str(parameters["user"]),
            password=_optional_str(parameters.get("password")),
            host=str(parameters["host"]),
            port=int(parameters.get("port") or 3306),
            database=_optional_str(parameters.get("database")),
            query={"charset": "utf8mb4"},
        )
    return sa.URL.create(
        "postgresql+psycopg",
        username=str(parameters["user"]),
        password=_optional_str(parameters.get("password")),
        host=str(parameters["host"]),
        port=int(parameters.get("port") or 5432),
        database=str(parameters["database"]),
    )


@functools.cache
def mysql_driver() -> str:
    """The SQLAlchemy driver name for MySQL: "mysqldb" if it loads, else "pymysql".

    Importing is the test: the C extension can be installed and still fail to
    load (a missing client library), and then PyMySQL serves.
    """
    try:
        importlib.import_module("MySQLdb")
    except ImportError:
        return "pymysql"
    return "mysqldb"


def connect_args(spec: EngineSpec, parameters: dict[str, Any]) -> dict[str, Any]:
    """Driver arguments: a bounded connect timeout for the network engines."""
    timeout = connect_timeout(parameters)
    if spec.speaks_mysql and mysql_driver() == "mysqldb":
        return {"connect_timeout": timeout, "conv": _mysqldb_conversions()}
    if spec.name in {"mysql", "mariadb", "postgres"}:
        return {"connect_timeout": timeout}
    return {"check_same_thread": False}


@functools.cache
def _mysqldb_conversions() -> dict[Any, Any]:
    """mysqlclient's converters, with dates it cannot represent kept as text.

    One dict for every connection: mysqlclient copies it when it connects.
    """
    converters = importlib.import_module("MySQLdb.converters")
    field_type = importlib.import_module("MySQLdb.constants.FIELD_TYPE")
    conversions: dict[Any, Any] = dict(converters.conversions)
    conversions[field_type.DATE] = _date_or_text
    for code in (field_type.DATETIME, field_type.TIMESTAMP):
        conversions[code] = _or_text(conversions[code])
    return conversions


def connect_timeout(parameters: dict[str, Any]) -> int:
    """The seconds a connect (or a wait for a login) may take, 10 by default."""
    return int(parameters.get("connect_timeout") or 10)


def sends_text_cells(spec: EngineSpec) -> bool:
    """Whether the engine's driver can hand over cells as the server's text."""
    return spec.speaks_mysql and mysql_driver() == "mysqldb"


def text_cell_conversions(typed: dict[Any, Any]) -> dict[Any, Any]:
    """A mysqlclient connection's converters, keeping non-text cells as text.

    mysqlclient hands over the bytes the server sent for any type code that has
    no converter. Text and blob columns keep theirs (str for text, bytes for a
    binary column, by the column's flags), so that a result's TEXT and BLOB
    columns are still told apart by their values.
    """
    return {code: typed[code] for code in _MYSQLDB_TEXT_CODES if code in typed}


# VARCHAR, JSON, the four BLOB codes, VAR_STRING and STRING.
_MYSQLDB_TEXT_CODES = (15, 245, 249, 250, 251, 252, 253, 254)


def text_cell_parsers(
    codes: Sequence[Any],
) -> list[Callable[[Sequence[Any]], list[Any]] | None]:
    """For each column of a text-cell result, what makes its cells typed values.

    Each takes a column's cells (bytes, or None for NULL) and gives the values
    a typed read of the column gives (int, float, Decimal, date, ...); None
    marks a column whose cells are those values already (text, blobs, and the
    types read as bytes).
    """
    conversions = _mysqldb_conversions()
    parsers: list[Callable[[Sequence[Any]], list[Any]] | None] = []
    for code in codes:
        convert = None if code in _MYSQLDB_TEXT_CODES else conversions.get(code)
        if convert is float:
            parsers.append(_floats)
        elif callable(convert):
            parsers.append(_column_parser(convert))
        else:
            parsers.append(None)
    return parsers


def _floats(cells: Sequence[Any]) -> list[Any]:
    # MySQL prints a FLOAT or DOUBLE as a JSON number (5, 1e15, 0.0000001), and
    # orjson reads a column of them three times faster than float() one by one.
    # Its reading rounds correctly, as float() does; float() keeps 5 a float.
    if None in cells:
        joined = b",".join([b"null" if cell is None else cell for cell in cells])
    else:
        joined = b",".join(cells)
    # JSON's -0 is the integer 0: a negative zero must go through float().
    if b"-0," in joined + b",":
        return _one_by_one(cells)
    try:
        numbers = orjson.loads(b"[" + joined + b"]")
    except orjson.JSONDecodeError:
        return _one_by_one(cells)
    if None in numbers:
        return [None if number is None else float(number) for number in numbers]
    return list(map(float, numbers))


def _one_by_one(cells: Sequence[Any]) -> list[Any]:
    return [None if cell is None else float(cell) for cell in cells]


def _column_parser(
    convert: Callable[[Any], Any],
) -> Callable[[Sequence[Any]], list[Any]]:
    # int reads bytes itself; the other converters take mysqlclient's str.
    def parse_one(cell: bytes) -> Any:
        return convert(cell) if convert is int else convert(cell.decode())

    def parse(cells: Sequence[Any]) -> list[Any]:
        if None in cells:
            return [None if cell is None else parse_one(cell) for cell in cells]
        return list(map(convert if convert is int else parse_one, cells))

    return parse


def _date_or_text(text: str) -> dt.date | str:
    # mysqlclient passes DATE values as str. fromisoformat is also several
    # times faster than mysqlclient's own converter, which splits the text.
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return text


def _or_text(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def converted(text: str) -> Any:
        value = convert(text)
        return text if value is None else value

    return converted


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
