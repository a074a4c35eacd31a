"""SHOW PREDICTORS and SHOW MODELS as the SELECTs they stand for.

``SHOW PREDICTORS LIKE 'r%'`` is ``SELECT * FROM mindsdb.predictors WHERE name
LIKE 'r%'``; ``SHOW MODELS WHERE status = 'error'`` reads ``mindsdb.models``.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from byom.catalog.records import DEFAULT_PROJECT
from byom.errors import SqlSyntaxError, UnknownDatabaseError
from byom.sql.statements import ShowPredictors


def show_predictors_query(statement: ShowPredictors) -> exp.Select:
    """The SELECT over the catalog table that a SHOW statement means."""
    project = statement.project or DEFAULT_PROJECT
    if project.lower() != DEFAULT_PROJECT:
        raise UnknownDatabaseError(f"Unknown database '{project}'")
    table, name_column = (
        ("models", "NAME") if statement.models else ("predictors", "name")
    )

    select = exp.select("*").from_(exp.table_(table, db=DEFAULT_PROJECT))
    if statement.like is not None:
        select = select.where(
            exp.Like(
                this=exp.column(name_column),
                expression=exp.Literal.string(statement.like),
            )
        )
    elif statement.where_sql is not None:
        try:
            condition = sqlglot.parse_one(statement.where_sql, read="mysql")
        except ParseError:
            raise SqlSyntaxError(
                "You have an error in your SQL syntax; check the WHERE of "
                f"SHOW near '{statement.where_sql[:80]}'"
            ) from None
        select = select.where(condition)
    return select.order_by(name_column)
