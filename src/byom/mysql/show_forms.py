"""The SHOW forms stock mysql-mimic refuses or answers with the wrong columns.

DBeaver, JDBC drivers and SQLAlchemy send these while connecting or browsing;
mimic answers ERR 1235 "Unsupported SHOW command" (or, for SHOW KEYS, which
sqlglot does not parse, passes the text on to byom's planner). Each is answered
here with the columns MySQL 8 returns, in MySQL's order:

    CREATE TABLE   generated DDL (``table_ddl``); unknown table 1146
    TABLE STATUS   one row per table of the database, no sizes
    INDEX / KEYS   no rows: byom tables have no indexes
    ENGINES        the one engine, ``byom``
    CHARSET        ``charsets``
    COLLATION      ``charsets``
    PROCESSLIST    this server's connections (``processes``); a user who is
                   not admin sees only their own
    STATUS         ``server_status`` counters
    VARIABLES      the session's values (GLOBAL: the server's), booleans as
                   ON and OFF as MySQL prints them (mimic printed True)
    GRANTS         the single user may do everything byom supports
    PLUGINS        the authentication plugin in use
    DATABASES      every integration, also one whose tables cannot be listed
    TABLES         the tables of a database that exists (else 1049); for
                   information_schema, the tables ``information_schema`` holds
    COLUMNS        also DESCRIBE t: a table that exists (else 1146), including
                   ``integration.schema.table`` and a bare name in another schema

``LIKE`` filters on the first column, as in MySQL, and ``WHERE`` on any; both
are evaluated over the rows in DuckDB (``show_filter``).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Protocol

from mysql_mimic.variables import SessionVariables, Variables
from sqlglot import exp

from byom.app import Byom
from byom.catalog.records import DEFAULT_PROJECT
from byom.mysql import charsets, information_schema, table_ddl
from byom.mysql.processes import (
    PROCESSLIST_COLUMNS,
    open_connections,
    process_rows,
    visible_connections,
)
from byom.mysql.server_status import STATUS_COLUMNS, ServerStatus
from byom.mysql.show_filter import filter_rows, show_condition
from byom.types import SqlType, type_name

Columns = list[tuple[str, SqlType]]
Rows = list[tuple[Any, ...]]

ENGINE_COLUMNS = [
    ("Engine", SqlType.VAR_STRING),
    ("Support", SqlType.VAR_STRING),
    ("Comment", SqlType.VAR_STRING),
    ("Transactions", SqlType.VAR_STRING),
    ("XA", SqlType.VAR_STRING),
    ("Savepoints", SqlType.VAR_STRING),
]
DESCRIBE_COLUMNS = [
    ("Field", SqlType.VAR_STRING),
    ("Type", SqlType.VAR_STRING),
    ("Null", SqlType.VAR_STRING),
    ("Key", SqlType.VAR_STRING),
    ("Default", SqlType.VAR_STRING),
    ("Extra", SqlType.VAR_STRING),
]
# SHOW FULL COLUMNS, in MySQL's order.
FULL_COLUMNS = [
    ("Field", SqlType.VAR_STRING),
    ("Type", SqlType.VAR_STRING),
    ("Collation", SqlType.VAR_STRING),
    ("Null", SqlType.VAR_STRING),
    ("Key", SqlType.VAR_STRING),
    ("Default", SqlType.VAR_STRING),
    ("Extra", SqlType.VAR_STRING),
    ("Privileges", SqlType.VAR_STRING),
    ("Comment", SqlType.VAR_STRING),
]
PLUGIN_COLUMNS = [
    ("Name", SqlType.VAR_STRING),
    ("Status", SqlType.VAR_STRING),
    ("Type", SqlType.VAR_STRING),
    ("Library", SqlType.VAR_STRING),
    ("License", SqlType.VAR_STRING),
]
VARIABLE_COLUMNS = [
    ("Variable_name", SqlType.VAR_STRING),
    ("Value", SqlType.VAR_STRING),
]
_ENGINE_ROW = (
    table_ddl.ENGINE,
    "DEFAULT",
    "byom: predictors and integration tables, read-only",
    "NO",
    "NO",
    "NO",
)

# SHOW [EXTENDED] {INDEX | INDEXES | KEYS} {FROM | IN} t [{FROM | IN} db]
_IDENTIFIER = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_INDEX_COMMAND = re.compile(
    rf"^\s*SHOW\s+(?:EXTENDED\s+)?(?:INDEX|INDEXES|KEYS)\s+(?:FROM|IN)\s+"
    rf"(?P<table>{_IDENTIFIER}(?:\.{_IDENTIFIER})?)"
    rf"(?:\s+(?:FROM|IN)\s+(?P<db>{_IDENTIFIER}))?\s*(?:WHERE\s.*)?;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


class ShowSession(Protocol):
    """What the SHOW answers read from a session."""

    app: Byom
    database: str | None
    username: str | None
    server_status: ServerStatus
    variables: Variables

    def collation(self) -> str: ...

    def is_privileged(self) -> bool: ...


async def answer_show(
    session: ShowSession, expression: exp.Expression, sql: str
) -> tuple[Columns, Rows] | None:
    """The columns and rows for a SHOW form byom answers, or None to pass it on."""
    if isinstance(expression, exp.Command):
        return await _answer_index_command(session, sql)
    if isinstance(expression, exp.Describe) and isinstance(expression.this, exp.Table):
        database, table = _described(session, expression.this)
        return await _columns(session, database, table, full=False)
    if not isinstance(expression, exp.Show):
        return None
    kind = expression.name.upper()
    answer = await _answer(session, kind, expression)
    if answer is None:
        return None
    columns, rows = answer
    condition = show_condition(expression, columns)
    if condition is None:
        return columns, rows
    return columns, await asyncio.to_thread(filter_rows, columns, rows, condition)


async def _answer(
    session: ShowSession, kind: str, show: exp.Show
) -> tuple[Columns, Rows] | None:
    if kind == "CREATE TABLE":
        database, table = _target(session, show)
        described = await session.app.table_columns(database, table)
        ddl = table_ddl.create_table_statement(table, described, session.collation())
        return table_ddl.CREATE_TABLE_COLUMNS, [(table, ddl)]
    if kind == "TABLE STATUS":
        database = show.text("db") or _current(session)
        await session.app.check_database(database)
        tables = (await session.app.schema()).get(database, {})
        collation = session.collation()
        rows = [table_ddl.table_status_row(t, collation) for t in sorted(tables)]
        return table_ddl.TABLE_STATUS_COLUMNS, rows
    if kind == "INDEX":
        database, table = _target(session, show)
        await session.app.table_columns(database, table)
        return table_ddl.INDEX_COLUMNS, []
    if kind == "COLUMNS":
        database, table = _target(session, show)
        return await _columns(session, database, table, bool(show.args.get("full")))
    if kind == "TABLES":
        return await _tables(session, show)
    if kind == "DATABASES":
        names = ["information_schema", DEFAULT_PROJECT, "mysql"]
        names = sorted(names + session.app.integration_names(), key=str.lower)
        return [("Database", SqlType.VAR_STRING)], [(name,) for name in names]
    return _answer_server(session, kind, show)


async def _tables(session: ShowSession, show: exp.Show) -> tuple[Columns, Rows]:
    database = show.text("db") or _current(session)
    await session.app.check_database(database)
    if database.lower() == information_schema.DATABASE:
        tables = information_schema.table_names()
    else:
        tables = sorted((await session.app.schema()).get(database, {}))
    columns: Columns = [(f"Tables_in_{database}", SqlType.VAR_STRING)]
    if not show.args.get("full"):
        return columns, [(table,) for table in tables]
    columns.append(("Table_type", SqlType.VAR_STRING))
    return columns, [(table, "BASE TABLE") for table in tables]


async def _columns(
    session: ShowSession, database: str, table: str, full: bool
) -> tuple[Columns, Rows]:
    described = await session.app.table_columns(database, table)
    if full:
        return FULL_COLUMNS, _full_rows(described, session.collation())
    rows: Rows = [(n, type_name(kind), "YES", "", None, "") for n, kind in described]
    return DESCRIBE_COLUMNS, rows


def _full_rows(described: Columns, collation: str) -> Rows:
    return [
        (
            name,
            type_name(kind),
            collation if kind is SqlType.VAR_STRING else None,
            "YES",
            "",
            None,
            "",
            "select",
            "",
        )
        for name, kind in described
    ]


def _described(session: ShowSession, table: exp.Table) -> tuple[str, str]:
    # DESCRIBE integration.schema.table names the table inside the integration;
    # after USE of an integration, schema.table does too (as SELECT reads it).
    catalog, db, current = table.text("catalog"), table.text("db"), _current(session)
    if catalog:
        return catalog, f"{db}.{table.name}"
    integrations = {name.lower() for name in session.app.integration_names()}
    if db and db.lower() not in integrations and current.lower() in integrations:
        return current, f"{db}.{table.name}"
    return db or current, table.name


def _answer_server(
    session: ShowSession, kind: str, show: exp.Show
) -> tuple[Columns, Rows] | None:
    if kind == "ENGINES":
        return ENGINE_COLUMNS, [_ENGINE_ROW]
    if kind == "CHARACTER SET":
        return charsets.CHARSET_COLUMNS, list(charsets.charset_rows())
    if kind == "COLLATION":
        return charsets.COLLATION_COLUMNS, list(charsets.collation_rows())
    if kind == "PROCESSLIST":
        connections = visible_connections(
            open_connections(session, session.server_status.sessions),
            session.username,
            session.is_privileged(),
        )
        return PROCESSLIST_COLUMNS, process_rows(
            connections, bool(show.args.get("full"))
        )
    if kind == "VARIABLES":
        return VARIABLE_COLUMNS, _variable_rows(session, show)
    if kind == "STATUS":
        return STATUS_COLUMNS, list(session.server_status.status_rows(session))
    if kind == "GRANTS":
        user = f"{session.username}@%"
        grant = f"GRANT ALL PRIVILEGES ON *.* TO `{session.username}`@`%`"
        return [(f"Grants for {user}", SqlType.VAR_STRING)], [(grant,)]
    if kind == "PLUGINS":
        row = ("mysql_native_password", "ACTIVE", "AUTHENTICATION", None, "GPL")
        return PLUGIN_COLUMNS, [row]
    return None


async def _answer_index_command(
    session: ShowSession, sql: str
) -> tuple[Columns, Rows] | None:
    match = _INDEX_COMMAND.match(sql)
    if match is None:
        return None
    parts = [_unquote(p) for p in re.findall(_IDENTIFIER, match["table"])]
    database = _unquote(match["db"]) if match["db"] else None
    if len(parts) == 2:
        database, parts = parts[0], parts[1:]
    await session.app.table_columns(database or _current(session), parts[0])
    return table_ddl.INDEX_COLUMNS, []


def _target(session: ShowSession, show: exp.Show) -> tuple[str, str]:
    return show.text("db") or _current(session), show.text("target")


def _current(session: ShowSession) -> str:
    # A session always has a database (mindsdb unless the client chose one).
    return session.database or DEFAULT_PROJECT


def _unquote(name: str) -> str:
    if name.startswith("`"):
        return name[1:-1].replace("``", "`")
    return name


def _variable_rows(session: ShowSession, show: exp.Show) -> Rows:
    variables = session.variables
    if show.args.get("global_") and isinstance(variables, SessionVariables):
        # byom refuses SET GLOBAL, so the server's values are the defaults.
        variables = variables.global_variables
    return [(name, _variable_text(value)) for name, value in variables.list()]


def _variable_text(value: Any) -> str | None:
    # MySQL prints a boolean variable as ON or OFF (autocommit ON).
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    return None if value is None else str(value)
