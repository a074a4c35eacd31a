"""Fixes over mysql-mimic 3.0.5, applied once at start-up.

Each fix removes one measured defect of the stock library and has its own
regression test (``tests/test_mysql_compat.py``), so an upgrade that fixes or
re-breaks something is noticed:

- ``SERVER_CAPABILITIES`` drops CLIENT_DEPRECATE_EOF: with it, the prepare
  response desyncs libmysql and Connector/J, and MariaDB Connector/J 2.x cannot
  connect at all. It adds CLIENT_MULTI_STATEMENTS and CLIENT_MULTI_RESULTS,
  which byom's COM_QUERY handler serves (``commands``).
- OK and EOF packets carry real status flags (``status_flags``): stock mimic
  always sends 0, so autocommit and open transactions were never reported.
- ``Connection.authenticate`` is wrapped so that a rejected login (or a rejected
  COM_CHANGE_USER) leaves no user behind; the session then refuses every command
  and the connection is closed (stock mimic keeps serving it).
- ``Connection.write_text_resultset`` is replaced by a streaming writer: rows go
  out batch by batch, each followed by a drain of the socket, so a slow client
  slows the query down instead of filling memory; the result header is sent
  only once the first batch is ready, so an early failure is a clean ERR.
- SQLSTATEs for the codes byom uses are added to mimic's table.
- Rows of 16 MiB or more are split over several packets (``large_rows``).
- Server-side prepared statements are replaced (``byom.mysql.prepared``): stock
  mimic pastes parameter values into the SQL text unescaped.
- The command loop is replaced (``byom.mysql.commands``) to answer
  COM_STATISTICS, make COM_RESET_CONNECTION reset the session, leave an idle
  connection alone on KILL QUERY and run multi-statement queries.
- ``MysqlStream.start_tls`` is replaced (``byom.mysql.tls``): stock mimic loses
  the ClientHello bytes already buffered, and 10-30% of TLS connects hang.

Fixes that are middlewares of the session live in their own modules:
``assignments`` (SET), ``constant_queries``, ``show_forms``, ``time_zones``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

from mysql_mimic import connection as mimic_connection
from mysql_mimic import errors as mimic_errors
from mysql_mimic import packets
from mysql_mimic.constants import DEFAULT_SERVER_CAPABILITIES
from mysql_mimic.results import ResultColumn, ResultSet
from mysql_mimic.types import Capabilities

from byom import errors
from byom.mysql import commands, status_flags, tls
from byom.mysql.errors import to_mysql_error
from byom.mysql.large_rows import write_rows
from byom.mysql.patching import replace_methods
from byom.sources.row_packets import renumbered

logger = logging.getLogger(__name__)

SERVER_CAPABILITIES = (
    DEFAULT_SERVER_CAPABILITIES & ~Capabilities.CLIENT_DEPRECATE_EOF
) | (Capabilities.CLIENT_MULTI_STATEMENTS | Capabilities.CLIENT_MULTI_RESULTS)

_applied = False


# Rows of results built by batched_result(), keyed by their row iterator. Mimic's
# ResultSet is compiled and cannot be subclassed, so the batches travel beside it.
_BATCHES: weakref.WeakKeyDictionary[Any, AsyncIterator[Sequence[Sequence[Any]]]] = (
    weakref.WeakKeyDictionary()
)
# The table (or predictor alias) each column of such a result comes from, for
# the column definitions; its ResultColumn cannot carry it either.
_TABLES: weakref.WeakKeyDictionary[Any, Sequence[str]] = weakref.WeakKeyDictionary()


def batched_result(
    batches: AsyncIterator[Sequence[Sequence[Any]]],
    columns: Sequence[ResultColumn],
    tables: Sequence[str] = (),
) -> ResultSet:
    """A result whose rows arrive as batches (lists of row tuples).

    Its ``rows`` still yields single rows, for mimic's own code paths (the binary
    protocol); the text protocol writer takes whole batches. ``tables`` names
    each column's table ("" for none), when known.
    """
    rows = _flatten(batches)
    _BATCHES[rows] = batches
    if tables:
        _TABLES[rows] = tables
    return ResultSet(rows=rows, columns=columns)


# Row packets of results built by forwarded_result(), keyed by their row
# iterator, and the source's column definitions for them.
_PACKETS: weakref.WeakKeyDictionary[Any, AsyncIterator[Any]] = (
    weakref.WeakKeyDictionary()
)
_DEFINITIONS: weakref.WeakKeyDictionary[Any, Sequence[bytes]] = (
    weakref.WeakKeyDictionary()
)


def forwarded_result(
    packets: AsyncIterator[Any],
    columns: Sequence[ResultColumn],
    definitions: Sequence[bytes],
) -> ResultSet:
    """A result whose rows are chunks of text protocol row packets from a source.

    Each chunk has ``data`` (whole packets, numbered as the source numbered
    them) and ``packets`` (how many). Its ``rows`` cannot be read one by one.
    """
    rows = _no_rows()
    _PACKETS[rows] = packets
    _DEFINITIONS[rows] = definitions
    return ResultSet(rows=rows, columns=columns)


async def _no_rows() -> AsyncIterator[Sequence[Any]]:
    raise errors.NotSupportedError("this result can only be sent as text")
    yield ()


def column_tables(result_set: ResultSet) -> Sequence[str | None]:
    """The table each column of a result names in its definition (None: none)."""
    rows = result_set.rows
    found = _TABLES.get(rows) if inspect.isasyncgen(rows) else None
    return list(found) if found else [None] * len(result_set.columns)


async def _flatten(
    batches: AsyncIterator[Sequence[Sequence[Any]]],
) -> AsyncIterator[Sequence[Any]]:
    async for batch in batches:
        for row in batch:
            yield row


def apply() -> None:
    """Patch mysql-mimic in place (idempotent)."""
    global _applied
    if _applied:
        return
    _register_sqlstates()
    _guard_authentication()
    commands.install()
    status_flags.install()
    tls.install()
    replace_methods(
        mimic_connection.Connection, write_text_resultset=_write_text_resultset
    )
    # Imported here: prepared imports this module for the row batches.
    from byom.mysql.prepared import install as install_prepared

    install_prepared()
    _applied = True
    logger.debug("mysql-mimic compatibility fixes applied")


def _register_sqlstates() -> None:
    # Mimic looks SQLSTATEs up in this dict when it builds an ERR packet; codes
    # missing from it would go out as HY000.
    for kind in (
        errors.SqlSyntaxError,
        errors.NotSupportedError,
        errors.UnknownDatabaseError,
        errors.UnknownTableError,
        errors.UnknownColumnError,
        errors.AmbiguousColumnError,
        errors.NotUniqueTableError,
        errors.AlreadyExistsError,
        errors.ColumnCountError,
        errors.AccessDeniedError,
        errors.PrivilegeError,
    ):
        state = kind.sqlstate.encode()
        mimic_errors.SQLSTATES[kind.code] = state  # type: ignore[index]
    # Codes byom sends that have no error class: KILL QUERY, unknown KILL id.
    for code, sqlstate in ((1317, b"70100"), (1094, b"HY000")):
        mimic_errors.SQLSTATES[code] = sqlstate  # type: ignore[index]


class _LoginRefused(Exception):
    """Raised after the ERR for a refused login has gone out."""


def _guard_authentication() -> None:
    authenticate_once = mimic_connection.Connection.authenticate
    start_connection = mimic_connection.Connection.start

    async def authenticate(self: Any, *args: Any, **kwargs: Any) -> None:
        # A failed re-authentication must not leave the previous user logged in.
        self.session.username = None
        await authenticate_once(self, *args, **kwargs)
        if self.session.username is None:
            # Mimic has sent "Access denied" and would go on serving commands;
            # closing the transport ends the connection as MySQL does.
            logger.info("connection %d: login refused", self.connection_id)
            self.stream.writer.close()
            raise _LoginRefused

    async def start(self: Any) -> None:
        try:
            await start_connection(self)
        except _LoginRefused:
            if self.session.username is not None:
                raise
        except (ConnectionError, asyncio.IncompleteReadError):
            # A client that drops or resets its socket is not a server fault;
            # asyncio would log it with a traceback as an unhandled exception.
            logger.info("connection %d: closed by the client", self.connection_id)

    replace_methods(mimic_connection.Connection, authenticate=authenticate, start=start)


async def _write_text_resultset(self: Any, result_set: ResultSet) -> None:
    """Write a result set in batches, draining the socket after each batch."""
    rows = result_set.rows
    packets = _PACKETS.pop(rows, None) if inspect.isasyncgen(rows) else None
    if packets is not None:
        definitions = _DEFINITIONS.pop(rows, ())
        await _write_packets(self, result_set, packets, definitions)
        return
    batches = row_batches(result_set)
    try:
        first = await anext(batches, None)
        _write_header(self, result_set.columns, column_tables(result_set))
        columns = result_set.columns
        while first is not None:
            if first:
                await write_rows(self.stream, first, columns)
                await self.stream.drain()
            first = await anext(batches, None)
    except Exception as exc:
        if commands.client_went_away(self, exc):
            raise
        # A failure after the header is sent still ends as an ERR packet, which
        # the protocol allows in place of the next row.
        raise to_mysql_error(exc, f"connection {self.connection_id}") from None
    finally:
        aclose = getattr(batches, "aclose", None)
        if aclose is not None:
            await aclose()

    # Real servers report 0 affected rows at the end of a result set; MariaDB
    # Connector/J 2.x misreads anything else.
    await self.stream.write(self.ok_or_eof(affected_rows=0))


async def _write_packets(
    self: Any,
    result_set: ResultSet,
    chunks: AsyncIterator[Any],
    definitions: Sequence[bytes],
) -> None:
    """Write a result whose rows are a source's packets, chunk by chunk.

    The source's column definitions go out as they came, after byom's column
    count. The rows were numbered after the source's count, definitions and
    EOF, the packets written before them here: they are renumbered only when
    the client's numbering differs (a query sent in several packets).
    """
    try:
        if definitions:
            count = packets.make_column_count(
                capabilities=self.capabilities, column_count=len(definitions)
            )
            header = [count, *definitions]
            if not self.deprecate_eof():
                header.append(self.eof())
            self.stream.write_many(header)
        else:
            _write_header(self, result_set.columns, column_tables(result_set))
        async for chunk in chunks:
            if not chunk.packets:
                continue
            data = chunk.data
            if data[3] != self.stream.seq.value:
                data = renumbered(data, self.stream.seq.value)
            self.stream._buffer.extend(data)
            self.stream.seq.value = (self.stream.seq.value + chunk.packets) & 0xFF
            await self.stream.drain()
    except Exception as exc:
        if commands.client_went_away(self, exc):
            raise
        raise to_mysql_error(exc, f"connection {self.connection_id}") from None
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()

    await self.stream.write(self.ok_or_eof(affected_rows=0))


def row_batches(result_set: ResultSet) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """The rows of any result, as batches (lists of rows) to write at once."""
    rows = result_set.rows
    batches = _BATCHES.pop(rows, None) if inspect.isasyncgen(rows) else None
    return batches if batches is not None else _as_batches(rows)


def _write_header(
    self: Any, columns: Sequence[ResultColumn], tables: Sequence[str | None]
) -> None:
    header = [
        packets.make_column_count(
            capabilities=self.capabilities, column_count=len(columns)
        )
    ]
    for column, table in zip(columns, tables, strict=True):
        header.append(
            packets.make_column_definition_41(
                server_charset=self.server_charset,
                table=table,
                name=column.name,
                column_type=column.type,
                character_set=column.character_set,
            )
        )
    if not self.deprecate_eof():
        header.append(self.eof())
    self.stream.write_many(header)


async def _as_batches(
    rows: Any, batch_rows: int = 5000
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Group any row source mimic accepts (list, iterator, async generator)."""
    if isinstance(rows, list | tuple):
        for start in range(0, len(rows), batch_rows):
            yield rows[start : start + batch_rows]
        return
    batch: list[Sequence[Any]] = []
    if hasattr(rows, "__aiter__"):
        async for row in rows:
            batch.append(row)
            if len(batch) >= batch_rows:
                yield batch
                batch = []
    else:
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_rows:
                yield batch
                batch = []
    if batch:
        yield batch
