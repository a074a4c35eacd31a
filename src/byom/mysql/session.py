"""One client connection: routes each statement and converts every failure.

byom's own statements (CREATE PREDICTOR, CREATE DATABASE ... WITH ENGINE) are
recognised on the raw text before sqlglot sees it, since sqlglot does not know
them; everything else is parsed by sqlglot and passes through mysql-mimic's
middleware chain (SET, SHOW, USE, ...) before reaching ``query``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from datetime import tzinfo
from typing import Any

from mysql_mimic.connection import Connection
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.results import AllowedResult
from mysql_mimic.session import Session
from mysql_mimic.variables import (
    SYSTEM_VARIABLES,
    GlobalVariables,
    SessionVariables,
    VariableSchema,
)
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from byom import __version__
from byom.app import Byom
from byom.catalog.records import DEFAULT_PROJECT
from byom.errors import NotSupportedError, SqlSyntaxError
from byom.mysql.errors import to_mysql_error
from byom.mysql.results import typed_result
from byom.mysql.time_zones import SYSTEM, checked_time_zone, resolve_time_zone
from byom.sql.grammar import parse_statement
from byom.sql.show import show_predictors_query
from byom.sql.statements import (
    CreateDatabase,
    CreatePredictor,
    DescribePredictor,
    DropDatabase,
    DropPredictor,
    Retrain,
    Statement,
)

logger = logging.getLogger(__name__)

# A real MySQL mode string: clients such as SQLAlchemy parse it.
_SQL_MODE = (
    "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
)
_VARIABLES: dict[str, VariableSchema] = {
    **SYSTEM_VARIABLES,
    "version": (str, "8.0.29-byom", False),
    "version_comment": (str, f"byom {__version__}", False),
    "sql_mode": (str, _SQL_MODE, True),
    # Checked when SET, so a bad zone fails that SET and not every later query.
    "time_zone": (checked_time_zone, SYSTEM, True),
}
_GLOBAL_VARIABLES = GlobalVariables(_VARIABLES)
_ANSI_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")
_query_ids = itertools.count(1)


class ByomSession(Session):
    """The session mysql-mimic creates for each connection."""

    def __init__(self, app: Byom) -> None:
        super().__init__(variables=SessionVariables(_GLOBAL_VARIABLES))
        self.app = app

    async def init(self, connection: Connection) -> None:
        await super().init(connection)
        if self.username is None:
            # Mimic has already sent "Access denied"; raising here makes it close
            # the connection instead of serving commands without a user.
            logger.info("connection %d: login refused", connection.connection_id)
            raise MysqlError("Access denied", ErrorCode.ACCESS_DENIED_ERROR)
        if self.database is None:
            # Scripts written for MindsDB query predictors without USE mindsdb.
            self.database = DEFAULT_PROJECT
        logger.info(
            "connection %d: opened by %s", connection.connection_id, self.username
        )

    def timezone(self) -> tzinfo:  # type: ignore[override]
        # Mimic's version knows only UTC and offsets; it only passes the result
        # to datetime.now(), which takes any tzinfo.
        return resolve_time_zone(str(self.variables.get("time_zone")))

    async def close(self) -> None:
        if self._connection is not None:
            logger.info("connection %d: closed", self._connection.connection_id)
        await super().close()

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> AllowedResult:
        if self.username is None:
            raise MysqlError("Access denied", ErrorCode.ACCESS_DENIED_ERROR)
        where = f"connection {self.connection.connection_id} query {next(_query_ids)}"
        try:
            statement = parse_statement(sql)
            if statement is not None:
                # Only the statement's kind and name: its text may hold passwords.
                logger.debug(
                    "%s: %s %s", where, type(statement).__name__, _name(statement)
                )
                return await self._run_statement(statement)
            logger.debug("%s: %s", where, _first_words(sql))
            return await super().handle_query(sql, attrs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise to_mysql_error(exc, where) from None

    def _parse(self, sql: str) -> list[exp.Expression]:
        try:
            expressions = super()._parse(sql)
        except (ParseError, TokenError) as exc:
            raise SqlSyntaxError(_syntax_message(exc, sql)) from None
        if len(expressions) > 1:
            raise NotSupportedError(
                "several statements in one query are not supported; "
                "send them one at a time"
            )
        return expressions

    async def query(
        self, expression: exp.Expression, sql: str, attrs: dict[str, str]
    ) -> AllowedResult:
        if isinstance(expression, exp.Query):
            result = await self.app.select(
                expression, self.database, self._query_timeout()
            )
            return typed_result(result.columns, result.batches)
        raise NotSupportedError(f"this statement is not supported: {_first_words(sql)}")

    def _query_timeout(self) -> float | None:
        # MySQL's own per-session limit, in ms; 0 leaves the server's setting.
        limit = int(self.variables.get("max_execution_time") or 0)
        return limit / 1000 if limit > 0 else None

    async def schema(self) -> dict[str, Any]:
        return await self.app.schema()

    async def _run_statement(self, statement: Statement) -> AllowedResult:
        app = self.app
        if isinstance(statement, CreatePredictor):
            await app.create_predictor(statement)
        elif isinstance(statement, CreateDatabase):
            await app.create_database(statement)
        elif isinstance(statement, Retrain):
            await app.retrain(statement)
        elif isinstance(statement, DropPredictor):
            app.drop_predictor(statement)
        elif isinstance(statement, DropDatabase):
            app.drop_database(statement)
            if self.database and self.database.lower() == statement.name.lower():
                self.database = DEFAULT_PROJECT
        elif isinstance(statement, DescribePredictor):
            result = app.describe_predictor(statement.name, statement.project)
            return typed_result(result.columns, result.batches)
        else:
            result = await app.select(show_predictors_query(statement), DEFAULT_PROJECT)
            return typed_result(result.columns, result.batches)
        return None

    async def use(self, database: str) -> None:
        await self.app.check_database(database)
        await super().use(database)


def _syntax_message(exc: ParseError | TokenError, sql: str) -> str:
    details = getattr(exc, "errors", None) or []
    if details:
        first = details[0]
        # A little of the text before the culprit helps to find it in a script.
        parts = [
            str(first.get(key) or "")[-20:]
            if key == "start_context"
            else str(first.get(key) or "")
            for key in ("start_context", "highlight", "end_context")
        ]
        where = " ".join(_ANSI_ESCAPES.sub("", "".join(parts)).split())[:80]
        reason = _ANSI_ESCAPES.sub("", str(first.get("description") or "")).strip()
        return (
            f"You have an error in your SQL syntax; {reason} near '{where}' "
            f"at line {first.get('line', 1)}"
        )
    text = _ANSI_ESCAPES.sub("", str(exc)).splitlines()[0]
    return f"You have an error in your SQL syntax; {text} near '{_first_words(sql)}'"


def _name(statement: Statement) -> str:
    return getattr(statement, "name", "")


def _first_words(sql: str) -> str:
    words = " ".join(sql.split())
    return words[:60] + ("..." if len(words) > 60 else "")
