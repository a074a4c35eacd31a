"""The statements byom parses itself, because they are MindsDB's and not MySQL's.

``byom.sql.grammar`` turns the text of these statements into the values below; the
session then runs them. Everything else goes to sqlglot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CreatePredictor:
    """``CREATE PREDICTOR`` (or ``CREATE MODEL``): declare a model served elsewhere.

    ``CREATE PREDICTOR mindsdb.rooms FROM db (SELECT a, b FROM t) PREDICT a
    USING url.predict = 'http://host/predict', format = 'mlflow'`` gives
    ``name="rooms"``, ``project="mindsdb"``, ``integration="db"``,
    ``select_sql="SELECT a, b FROM t"``, ``target="a"`` and
    ``using={"url": {"predict": "http://host/predict"}, "format": "mlflow"}``.
    """

    name: str
    project: str | None
    integration: str | None
    select_sql: str | None
    target: str
    using: dict[str, Any]
    if_not_exists: bool
    or_replace: bool


@dataclass(frozen=True)
class CreateDatabase:
    """``CREATE DATABASE ... WITH ENGINE``: register a data source.

    ``CREATE DATABASE db WITH ENGINE = 'MySQL', PARAMETERS = {"port": 3306}`` gives
    ``name="db"``, ``engine="mysql"`` and ``parameters={"port": 3306}``.
    """

    name: str
    engine: str
    parameters: dict[str, Any]
    if_not_exists: bool
    or_replace: bool


@dataclass(frozen=True)
class DropPredictor:
    """``DROP {PREDICTOR|MODEL} [IF EXISTS] [project.]name``."""

    name: str
    project: str | None
    if_exists: bool


@dataclass(frozen=True)
class Retrain:
    """``RETRAIN [project.]name [FROM integration (SELECT ...)] [USING ...]``.

    Absent parts keep the predictor's stored training query and options.
    """

    name: str
    project: str | None
    integration: str | None
    select_sql: str | None
    using: dict[str, Any]


@dataclass(frozen=True)
class DropDatabase:
    """``DROP {DATABASE|DATASOURCE|SCHEMA} [IF EXISTS] name``."""

    name: str
    if_exists: bool


@dataclass(frozen=True)
class ShowPredictors:
    """``SHOW {PREDICTORS|MODELS} [FROM project] [LIKE 'pattern' | WHERE cond]``.

    ``where_sql`` is the condition's text, to be parsed by sqlglot.
    """

    models: bool
    project: str | None
    like: str | None
    where_sql: str | None


@dataclass(frozen=True)
class DescribePredictor:
    """``DESCRIBE {PREDICTOR|MODEL} [project.]name``: the predictor's definition."""

    name: str
    project: str | None


Statement = (
    CreatePredictor
    | CreateDatabase
    | DropPredictor
    | Retrain
    | DropDatabase
    | ShowPredictors
    | DescribePredictor
)
