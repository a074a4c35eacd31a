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
