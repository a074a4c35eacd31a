"""The command loop of a connection, with the commands stock mysql-mimic lacks.

mysql-mimic 3.0.5 dispatches commands in a fixed ``if`` chain inside
``Connection.command_phase``: COM_STATISTICS (the mariadb CLI's ``status``) is
refused with 1047, and COM_RESET_CONNECTION answers OK but resets nothing, so a
pooled connection kept the variables, user variables and database of its last
borrower. byom replaces the loop with a table of handlers that adds both, and
marks each command in the session's activity for SHOW PROCESSLIST. COM_QUERY's
OK carries the rows a write reported (``affected_rows``); mimic's sends 0.

KILL QUERY cancels the connection's task, as in mimic, but only while a command
runs: mimic cancelled it wherever it waited, and a connection waiting for its
next command ended instead of ignoring the kill as MySQL does. KILL CONNECTION
ends the connection whatever it is doing.

A client that set CLIENT_MULTI_STATEMENTS may send several statements in one
COM_QUERY (``multi_statements``); each result is written in turn, every one but
the last flagged SERVER_MORE_RESULTS_EXISTS, and an error ends the sequence. A
text with no statement in it is error 1065, as in MySQL. COM_SET_OPTION turns
the flag on or off for the rest of the connection (mimic answered it 1047).

A client that goes away while its answer is being written (it closed or reset
its socket mid-result) ends the connection with one INFO line: nothing failed
in the server.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mysql_mimic import connection as mimic_connection
from mysql_mimic import packets
from mysql_mimic.constants import KillKind
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.stream import ConnectionClosed
from mysql_mimic.types import Capabilities, Commands

from byom.mysql.affected_rows import affected_rows_of
from byom.mysql.errors import to_mysql_error
from byom.mysql.long_statements import run_off_loop
from byom.mysql.multi_statements import Statements, split_statements, trim_query
from byom.mysql.patching import replace_methods
from byom.mysql.status_flags import set_more_results
from byom.mysql.text_protocol import answering_in_text

logger = logging.getLogger(__name__)

QUERY_INTERRUPTED = 1317

# Command byte -> (Connection method, the Command column of SHOW PROCESSLIST).
_HANDLERS: dict[int, tuple[str, str]] = {
    Commands.COM_QUERY: ("handle_query", "Query"),
    Commands.COM_STMT_PREPARE: ("handle_stmt_prepare", "Prepare"),
    Commands.COM_STMT_SEND_LONG_DATA: ("handle_stmt_send_long_data", "Long Data"),
    Commands.COM_STMT_EXECUTE: ("handle_stmt_execute", "Execute"),
    Commands.COM_STMT_FETCH: ("handle_stmt_fetch", "Fetch"),
    Commands.COM_STMT_RESET: ("handle_stmt_reset", "Reset stmt"),
    Commands.COM_STMT_CLOSE: ("handle_stmt_close", "Close stmt"),
    Commands.COM_PING: ("handle_ping", "Ping"),
    Commands.COM_CHANGE_USER: ("handle_change_user", "Change user"),
    Commands.COM_RESET_CONNECTION: ("handle_reset_connection", "Reset Connection"),
    Commands.COM_DEBUG: ("handle_debug", "Debug"),
    Commands.COM_INIT_DB: ("handle_init_db", "Init DB"),
    Commands.COM_FIELD_LIST: ("handle_field_list", "Field List"),
    Commands.COM_STATISTICS: ("handle_statistics", "Statistics"),
    Commands.COM_SET_OPTION: ("handle_set_option", "Set option"),
}

# COM_SET_OPTION's two options (MYSQL_OPTION_MULTI_STATEMENTS_ON and _OFF).
_MULTI_STATEMENTS_ON, _MULTI_STATEMENTS_OFF = 0, 1


def client_went_away(connection: Any, exc: BaseException) -> bool:
    """Whether exc is the client's socket failing under a write (reset, closed).

    A data source or model endpoint failing with a ConnectionError is not: its
    error goes to the client, whose socket is still open.
    """
    writer = connection.stream.writer
    return isinstance(exc, ConnectionError) and bool(writer.is_closing())


def install() -> None:
    """Replace mimic's command loop, and the commands it gets wrong or lacks."""
    kill_task = mimic_connection.Connection.kill

    def kill(self: Any, kind: KillKind = KillKind.CONNECTION) -> None:
        # Only a running command can be interrupted; cancelled while it waits
        # for the next command, the connection would end.
        if kind == KillKind.QUERY and not getattr(self, "command_running", False):
            logger.info("connection %d: KILL QUERY while idle", self.connection_id)
            return
        kill_task(self, kind)

    replace_methods(
        mimic_connection.Connection,
        command_phase=_command_phase,
        kill=kill,
        handle_query=_handle_query,
        handle_reset_connection=_handle_reset_connection,
        handle_statistics=_handle_statistics,
        handle_set_option=_handle_set_option,
    )


async def _command_phase(self: Any) -> None:
    self.command_running = False
    while True:
        data = await _read_command(self)
        if data is None:
            return
        activity = getattr(self.session, "activity", None)
        try:
            command, rest = data[0], data[1:]
            if command == Commands.COM_QUIT:
                return
            handler = _HANDLERS.get(command)
            if handler is None:
                raise MysqlError(
                    f"Unsupported Command: {hex(command)}", ErrorCode.UNKNOWN_COM_ERROR
                )
            if activity is not None:
                activity.begin(handler[1])
            await _run_command(self, handler[0], rest)
        except MysqlError as exc:
            await self.stream.write(self.error(msg=exc.msg, code=exc.code))
        except ConnectionError:
            # Raised only by writes to the client's socket (see client_went_away):
            # the client is gone, and so is the connection.
            logger.info(
                "connection %d: client went away mid-result", self.connection_id
            )
            return
        except asyncio.CancelledError:
            if self._kill != KillKind.QUERY:
                raise
            logger.info("connection %d: query killed", self.connection_id)
            if self._task is not None:
                self._task.uncancel()
            # MySQL's answer to KILL QUERY; 3169 (mimic's) means the session ended.
            await self.stream.write(
                self.error(
                    msg="Query execution was interrupted",
                    code=QUERY_INTERRUPTED,
                )
            )
            self._kill = None
        except Exception as exc:
            # Mimic's own safety net, kept: byom's errors are converted before
            # they get here, so this is a defect inside mimic.
            logger.exception("connection %d: command failed", self.connection_id)
            await self.stream.write(self.error(msg=exc))
        finally:
            if activity is not None:
                activity.end()
            self.stream.reset_seq()


async def _read_command(self: Any) -> bytes | None:
    """The next command packet, or None when the client has gone."""
    while True:
        try:
            data: bytes = await self.stream.read()
            return data
        except ConnectionClosed:
            logger.info("connection %d: closed by the client", self.connection_id)
            return None
        except asyncio.CancelledError:
            # A KILL QUERY whose command ended before the cancellation reached
            # the task (one that killed its own query) has nothing left to stop.
            if self._kill != KillKind.QUERY:
                raise
            if self._task is not None:
                self._task.uncancel()
            self._kill = None


async def _run_command(self: Any, method: str, data: bytes) -> None:
    # KILL QUERY cancels the task only while this is set: cancelled while it
    # waits for the next command, the connection would end.
    self.command_running = True
    try:
        await getattr(self, method)(data)
    finally:
        self.command_running = False


async def _handle_query(self: Any, data: bytes) -> None:
    # Mimic's COM_QUERY, but its OK reports the rows a write changed, and a
    # client that asked for multi-statements gets one result per statement.
    com_query = packets.parse_com_query(
        capabilities=self.capabilities, client_charset=self.client_charset, data=data
    )
    sql = trim_query(com_query.sql)
    if not sql:
        raise MysqlError("Query was empty", ErrorCode.EMPTY_QUERY)
    statements: Statements = await run_off_loop(sql, split_statements, sql)
    texts, error = statements.texts, statements.error
    multi = Capabilities.CLIENT_MULTI_STATEMENTS in self.capabilities
    if not multi and texts and len(texts) + (error is not None) > 1:
        # The session refuses several statements from a client that did not ask.
        texts, error = [sql], None

    try:
        for index, text in enumerate(texts):
            set_more_results(self, index + 1 < len(texts) or error is not None)
            await _answer_statement(self, text, com_query.query_attrs)
    finally:
        set_more_results(self, False)
    if error is not None:
        raise to_mysql_error(error, f"connection {self.connection_id}")


async def _answer_statement(self: Any, sql: str, attrs: dict[str, str]) -> None:
    with answering_in_text():
        result_set = await self.query(sql, attrs)
    if not result_set:
        await self.stream.write(self.ok(affected_rows=affected_rows_of(result_set)))
        return
    await self.write_text_resultset(result_set)


async def _handle_reset_connection(self: Any, data: bytes) -> None:
    # MySQL also drops the connection's prepared statements.
    self.prepared_stmts.clear()
    reset = getattr(self.session, "reset_connection", None)
    if reset is not None:
        await reset()
    await self.stream.write(self.ok())


async def _handle_set_option(self: Any, data: bytes) -> None:
    # mysqli's multi_query and mysql_set_server_option switch several
    # statements per query on and off for the rest of the connection.
    option = int.from_bytes(data[:2], "little")
    multi = Capabilities.CLIENT_MULTI_STATEMENTS
    if option == _MULTI_STATEMENTS_ON:
        self.capabilities |= multi
    elif option == _MULTI_STATEMENTS_OFF:
        self.capabilities &= ~multi
    else:
        raise MysqlError(
            f"Unknown COM_SET_OPTION option {option}", ErrorCode.UNKNOWN_COM_ERROR
        )
    await self.stream.write(self.eof())


async def _handle_statistics(self: Any, data: bytes) -> None:
    # The answer is the bare text, neither OK nor a result set.
    statistics = getattr(self.session, "statistics", None)
    text = statistics() if statistics is not None else "Uptime: 0"
    await self.stream.write(text.encode())
