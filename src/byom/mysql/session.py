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
from datetime import datetime, tzinfo
from typing import Any

from mysql_mimic.connection import Connection
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.results import AllowedResult, ResultSet
from mysql_mimic.session import Query, Session, mysql_function_mapping
from mysql_mimic.variable_processor import VariableProcessor
from mysql_mimic.variables import (
    SYSTEM_VARIABLES,
    GlobalVariables,
    SessionVariables,
    VariableSchema,
)
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.executor import execute

from byom import __version__
from byom.app import Byom
from byom.catalog.records import DEFAULT_PROJECT
from byom.errors import (
    ByomError,
    NotSupportedError,
    SqlSyntaxError,
    WrongArgumentsError,
)
from byom.mysql.affected_rows import affected_rows_result
from byom.mysql.assignments import (
    fold_set,
    normalized_sql_mode,
    substitute_user_variables,
)
from byom.mysql.column_labels import label_as_typed
from byom.mysql.constant_queries import is_constant_query, run_constant_query
from byom.mysql.errors import to_mysql_error
from byom.mysql.information_schema import InformationSchema
from byom.mysql.long_statements import run_off_loop
from byom.mysql.processes import Activity, client_host
from byom.mysql.results import packet_result, static_result, typed_result
from byom.mysql.server_status import ServerStatus
from byom.mysql.show_filter import parse_show_where
from byom.mysql.show_forms import answer_show
from byom.mysql.status_flags import in_transaction_after
from byom.mysql.table_ddl import ENGINE
from byom.mysql.text_protocol import rows_in_text
from byom.mysql.time_zones import SYSTEM, checked_time_zone, resolve_time_zone
from byom.sql.grammar import parse_statement
from byom.sql.select_using import (
    NO_PREDICTOR,
    USING_META,
    attach_options,
    ends_with_using,
    misplaced_using,
    split_using,
)
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
from byom.sql.write_statements import is_write_back
from byom.types import SqlType

logger = logging.getLogger(__name__)

UNKNOWN_THREAD = 1094
KILL_DENIED = 1095
QUERY_INTERRUPTED = 1317

# A real MySQL mode string: clients such as SQLAlchemy parse it.
_SQL_MODE = (
    "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
)
_VARIABLES: dict[str, VariableSchema] = {
    **SYSTEM_VARIABLES,
    "version": (str, "8.0.29-byom", False),
    "version_comment": (str, f"byom {__version__}", False),
    "sql_mode": (normalized_sql_mode, _SQL_MODE, True),
    # Checked when SET, so a bad zone fails that SET and not every later query.
    "time_zone": (checked_time_zone, SYSTEM, True),
    "default_storage_engine": (str, ENGINE, True),
    "default_tmp_storage_engine": (str, ENGINE, True),
}
_GLOBAL_VARIABLES = GlobalVariables(_VARIABLES)
_ANSI_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")
# What mimic's FROM-less SELECT handler allows besides the projections.
_STATIC_ARGS = {"expressions", "limit", "hint"}
_query_ids = itertools.count(1)
# Variables mimic sets from the handshake, which a COM_RESET_CONNECTION keeps.
_HANDSHAKE_VARIABLES = ("character_set_client", "external_user")
# The processlist shows byom's own statements by kind and name only: their text
# may hold credentials (CREATE DATABASE ... PARAMETERS).
_STATEMENT_VERBS = {
    CreatePredictor: "CREATE PREDICTOR",
    CreateDatabase: "CREATE DATABASE",
    Retrain: "RETRAIN",
    DropPredictor: "DROP PREDICTOR",
    DropDatabase: "DROP DATABASE",
    DescribePredictor: "DESCRIBE PREDICTOR",
}


class ByomSession(Session):
    """The session mysql-mimic creates for each connection."""

    def __init__(self, app: Byom, server_status: ServerStatus | None = None) -> None:
        super().__init__(variables=SessionVariables(_GLOBAL_VARIABLES))
        self.app = app
        self.server_status = server_status or ServerStatus()
        self.activity = Activity()
        self.user_variables: dict[str, Any] = {}
        # Only for the status flags: byom has no transactions to run.
        self.in_transaction = False
        self._login_database = DEFAULT_PROJECT
        self._install_middlewares()

    def _install_middlewares(self) -> None:
        # byom's answers go just before the mimic handler each one completes:
        # SET folding after mimic has substituted @@variables, constant queries
        # after mimic's own FROM-less SELECT, SHOW forms before mimic's SHOW.
        chain = self.middlewares
        chain.insert(chain.index(self._set_middleware), self._assignment_middleware)
        static = chain.index(self._static_query_middleware)
        chain.insert(static + 1, self._constant_query_middleware)
        chain.insert(chain.index(self._show_middleware), self._show_forms_middleware)
        chain.insert(chain.index(self._kill_middleware), self._kill_check_middleware)
        chain.insert(0, self._transaction_middleware)

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
        self._login_database = self.database
        self.server_status.sessions.add(self)
        self.server_status.connections += 1
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
        self.server_status.sessions.discard(self)
        await super().close()

    async def reset_connection(self) -> None:
        """COM_RESET_CONNECTION: variables, user variables and database as at login."""
        variables = SessionVariables(_GLOBAL_VARIABLES)
        for name in _HANDSHAKE_VARIABLES:
            variables.set(name, self.variables.get(name), force=True)
        self.variables = variables
        self.user_variables = {}
        self.in_transaction = False
        self.database = self._login_database
        logger.info("connection %d: reset", self.connection.connection_id)

    def statistics(self) -> str:
        """The COM_STATISTICS text (the mariadb CLI's ``status``)."""
        return self.server_status.statistics(self)

    def collation(self) -> str:
        """The collation tables are reported with (SHOW CREATE TABLE, STATUS)."""
        return str(self.variables.get("collation_database"))

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> AllowedResult:
        if self.username is None:
            raise MysqlError("Access denied", ErrorCode.ACCESS_DENIED_ERROR)
        where = f"connection {self.connection.connection_id} query {next(_query_ids)}"
        self.server_status.questions += 1
        try:
            statement = parse_statement(sql)
            self.activity.info = sql if statement is None else _summary(statement)
            if statement is not None:
                # Only the statement's kind and name: its text may hold passwords.
                logger.debug(
                    "%s: %s %s", where, type(statement).__name__, _name(statement)
                )
                return await self._run_statement(statement)
            logger.debug("%s: %s", where, _first_words(sql))
            return await self._run_sql(sql, attrs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise to_mysql_error(exc, where) from None

    async def _run_sql(self, sql: str, attrs: dict[str, str]) -> AllowedResult:
        # Mimic's handle_query, with a long statement parsed in a worker thread.
        self.timestamp = datetime.now(tz=self.timezone())
        result = None
        for expression in await run_off_loop(sql, self._parse, sql):
            query = Query(
                expression=expression,
                sql=sql,
                attrs=attrs,
                _middlewares=self.middlewares,
                _query=self.query,
            )
            result = await query.start()
        return result

    def _parse(self, sql: str) -> list[exp.Expression]:
        text, options = split_using(sql)
        try:
            expressions = super()._parse(text)
        except (ParseError, TokenError) as exc:
            show = parse_show_where(text)
            if show is not None:
                expressions = [show]
            elif ends_with_using(text):
                raise misplaced_using(text) from None
            else:
                raise SqlSyntaxError(_syntax_message(exc, text)) from None
        # sqlglot keeps a comment after the last semicolon as a statement of its own.
        expressions = [e for e in expressions if not isinstance(e, exp.Semicolon)]
        if len(expressions) > 1:
            raise NotSupportedError(
                "several statements in one query are not supported; "
                "send them one at a time"
            )
        if expressions:
            # Read by the planner, which gives them to the query's predictors.
            attach_options(expressions[0], options, sql)
        elif options:
            raise misplaced_using(sql)
        return expressions

    async def _transaction_middleware(self, q: Query) -> AllowedResult:
        # Follows BEGIN, COMMIT and autocommit for SERVER_STATUS_IN_TRANS.
        autocommit_before = bool(self.variables.get("autocommit"))
        result = await q.next()
        self.in_transaction = in_transaction_after(
            q.expression,
            self.in_transaction,
            autocommit_before,
            bool(self.variables.get("autocommit")),
        )
        return result

    async def _set_var_middleware(self, q: Query) -> AllowedResult:
        # Mimic's, with MySQL's values for USER() and CURRENT_USER(), and the
        # columns it replaces named as typed (mimic names them as sqlglot
        # renders them: DATABASE() became CURRENT_SCHEMA()).
        # Both walk the whole tree: a worker thread's job for a long statement.
        functions = {**mysql_function_mapping(self), **self._user_functions()}
        await run_off_loop(q.sql, label_as_typed, q.expression, q.sql, functions)
        processor = VariableProcessor(functions, self.variables, q.expression)
        replaced = processor.set_variables()
        await run_off_loop(q.sql, replaced.__enter__)
        try:
            return await q.next()
        finally:
            replaced.__exit__(None, None, None)

    def _user_functions(self) -> dict[str, Any]:
        # USER() is the name the client gave at the host it came from;
        # CURRENT_USER() the account it logged in as, which is any host's.
        host = client_host(self.connection)

        def user() -> str:
            return f"{self.variables.get('external_user')}@{host}"

        def account() -> str:
            return f"{self.username}@%"

        names = ("USER", "SESSION_USER", "SYSTEM_USER")
        return {**dict.fromkeys(names, user), "CURRENT_USER": account}

    async def _assignment_middleware(self, q: Query) -> AllowedResult:
        substitute_user_variables(q.expression, self.user_variables)
        if isinstance(q.expression, exp.Set):
            left = fold_set(q.expression, self.variables, self.user_variables)
            if left is None:
                return None
            q.expression = left
        return await q.next()

    async def _static_query_middleware(self, q: Query) -> AllowedResult:
        # Mimic's (a SELECT with nothing but its expressions and a LIMIT), run
        # in a worker thread when long: sqlglot's executor takes seconds on a
        # SELECT of 20,000 terms.
        select = q.expression
        if isinstance(select, exp.Select) and not any(
            select.args.get(a) for a in set(exp.Select.arg_types) - _STATIC_ARGS
        ):
            _refuse_call_options(select)
            result = await run_off_loop(q.sql, execute, select)
            return result.rows, result.columns
        return await q.next()

    async def _constant_query_middleware(self, q: Query) -> AllowedResult:
        if not is_constant_query(q.expression):
            return await q.next()
        _refuse_call_options(q.expression)
        columns, rows = await run_off_loop(q.sql, run_constant_query, q.expression)
        return static_result(columns, rows)

    async def _query_info_schema(self, expression: exp.Expression) -> AllowedResult:
        _refuse_call_options(expression)
        return await super()._query_info_schema(expression)

    async def _show_forms_middleware(self, q: Query) -> AllowedResult:
        answer = await answer_show(self, q.expression, q.sql)
        if answer is None:
            return await q.next()
        columns, rows = answer
        result: ResultSet = static_result(columns, rows)
        return result

    async def query(
        self, expression: exp.Expression, sql: str, attrs: dict[str, str]
    ) -> AllowedResult:
        explained: exp.Expression | None = (
            expression.this if isinstance(expression, exp.Describe) else None
        )
        if isinstance(explained, exp.Query):
            # MySQL's parser reads EXPLAIN <query> as DESCRIBE <query>.
            lines = await self.app.explain(explained, self.database)
            return static_result([("EXPLAIN", SqlType.VAR_STRING)], lines)
        if is_write_back(expression):
            written = await self.app.write_back(
                expression, self.database, self._query_timeout()
            )
            return affected_rows_result(written)
        if isinstance(expression, exp.Query):
            result = await self.app.select(
                expression,
                self.database,
                self._query_timeout(),
                text_cells=rows_in_text(),
            )
            if result.packets is not None:
                return packet_result(
                    result.columns, result.packets, result.column_packets
                )
            return typed_result(
                result.columns, result.batches, result.tables, result.text_cells
            )
        raise NotSupportedError(f"this statement is not supported: {_first_words(sql)}")

    def _query_timeout(self) -> float | None:
        # MySQL's own per-session limit, in ms; 0 leaves the server's setting.
        limit = int(self.variables.get("max_execution_time") or 0)
        return limit / 1000 if limit > 0 else None

    async def schema(self) -> InformationSchema:
        # Mimic's information_schema handler asks for this; DuckDB answers.
        schema = await self.app.schema()
        return InformationSchema(schema, self.collation(), self.database)

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
            return typed_result(result.columns, result.batches, result.tables)
        else:
            result = await app.select(show_predictors_query(statement), DEFAULT_PROJECT)
            return typed_result(result.columns, result.batches, result.tables)
        return None

    async def use(self, database: str) -> None:
        # COM_INIT_DB (the CLI's `use`) calls this outside handle_query, so a
        # ByomError must become an ERR here.
        try:
            await self.app.check_database(database)
        except ByomError as exc:
            where = f"connection {self.connection.connection_id}"
            raise to_mysql_error(exc, where) from None
        await super().use(database)

    async def _kill_check_middleware(self, q: Query) -> AllowedResult:
        if isinstance(q.expression, exp.Kill):
            self._check_kill(q.expression)
        return await q.next()

    def _check_kill(self, kill: exp.Kill) -> None:
        # Stock mimic answers OK to KILL of an id that does not exist, and lets
        # anyone kill any connection.
        target = kill.this.name
        if kill.text("kind").upper() == "QUERY" and target == str(
            self.connection.connection_id
        ):
            # MySQL's answer: the query interrupted is this KILL itself.
            raise MysqlError(
                "Query execution was interrupted",
                QUERY_INTERRUPTED,  # type: ignore[arg-type]
            )

        known = getattr(self.connection.control, "_connections", None)
        if not target.isdigit() or known is None:
            return
        if int(target) not in known:
            raise MysqlError(
                f"Unknown thread id: {target}",
                UNKNOWN_THREAD,  # type: ignore[arg-type]
            )
        if not self._may_kill(known[int(target)]):
            raise MysqlError(
                f"You are not owner of thread {target}",
                KILL_DENIED,  # type: ignore[arg-type]
            )

    def _may_kill(self, target: Connection) -> bool:
        # As in MySQL: one's own connections, or any with admin rights (MySQL's
        # CONNECTION_ADMIN).
        return target.session.username == self.username or self.is_privileged()

    def is_privileged(self) -> bool:
        """Whether this user may see and KILL other users' connections.

        MySQL's PROCESS and CONNECTION_ADMIN, which the users file grants with
        ``admin``; the one user of a server without a users file has them.
        """
        is_admin = getattr(self.connection.identity_provider, "is_admin", None)
        return is_admin is not None and bool(is_admin(self.username))


def _refuse_call_options(query: exp.Expression) -> None:
    # A query answered before the planner reads no predictor, as the planner
    # would have said.
    if query.meta.get(USING_META):
        raise WrongArgumentsError(NO_PREDICTOR)


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


def _summary(statement: Statement) -> str:
    verb = _STATEMENT_VERBS.get(type(statement), "SHOW PREDICTORS")
    return f"{verb} {_name(statement)}".strip()


def _name(statement: Statement) -> str:
    return getattr(statement, "name", "")


def _first_words(sql: str) -> str:
    words = " ".join(sql.split())
    return words[:60] + ("..." if len(words) > 60 else "")
