"""A data source: one integration's database, reached through SQLAlchemy.

Drivers are blocking, so each call runs in a worker thread; the event loop keeps
serving other clients meanwhile. Large reads use a server-side cursor and come
back in batches, so a query never holds a whole table in memory. Writes (INSERT
... SELECT into an integration) take the same connection slots, one transaction
per batch, through SQLAlchemy Core's ``insert()``: values travel as bound
parameters, never inside SQL text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import sqlite3
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pymysql  # type: ignore[import-untyped]
import pymysql.err  # type: ignore[import-untyped]
import sqlalchemy as sa
import sqlalchemy.exc

from byom.catalog.records import Integration
from byom.errors import (
    AlreadyExistsError,
    ByomError,
    SourceError,
    UnknownTableError,
    WriteRejectedError,
)
from byom.sources import engines
from byom.sources.engines import sqlite_uri
from byom.sources.query_errors import query_error
from byom.sources.result_types import definition_type, result_types
from byom.sources.row_packets import (
    BINARY_CHARSET,
    ColumnDefinition,
    PacketChunk,
    RowPackets,
)
from byom.types import SqlType, from_sqlalchemy, to_sqlalchemy

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Turns a column's text cells (None for NULL) into the column's typed values.
ColumnParser = Callable[[Sequence[Any]], list[Any]]


@dataclass(frozen=True)
class RowBatch:
    """Consecutive rows of one result, with the result's column names and types.

    ``types`` is empty when the caller did not ask for them. ``parsers``, for
    a stream of text cells only, holds for each column what turns a list of
    its cells into typed values (None where the cells are those already).
    """

    columns: list[str]
    rows: list[tuple[Any, ...]]
    types: list[SqlType] = field(default_factory=list)
    parsers: list[ColumnParser | None] = field(default_factory=list)


@dataclass(frozen=True)
class PacketBatch:
    """Row packets of one result as its source sent them (MySQL text protocol).

    The first batch of a stream holds no packets: it brings the column names,
    types and tables (as the query names them; "" for an expression), and the
    source's column definition packets (their payloads) in ``definitions``.
    ``packets`` counts the packets in ``data``.
    """

    columns: list[str]
    types: list[SqlType]
    tables: list[str]
    data: bytes = b""
    packets: int = 0
    definitions: list[bytes] = field(default_factory=list)


class DataSource:
    """An integration's database: checks, reflection, reads and streamed reads."""

    def __init__(self, integration: Integration, connections: int = 8) -> None:
        self.name = integration.name
        self.spec = engines.engine_spec(integration.engine)
        self.dialect = self.spec.dialect
        params = integration.parameters
        self._engine = sa.create_engine(
            engines.build_url(self.spec, params),
            connect_args=engines.connect_args(self.spec, params),
            pool_pre_ping=True,
            pool_size=connections,
            max_overflow=0,
        )
        # Taken before a worker thread asks the pool for a connection, so that
        # no thread ever waits on the pool: a query beyond the limit waits here,
        # on the event loop, instead of holding one of the few worker threads
        # that the queries owning connections need in order to finish.
        self._slots = asyncio.Semaphore(connections)
        # One thread a connection, and as many for closing and killing.
        self._threads = ThreadPoolExecutor(
            max_workers=2 * connections, thread_name_prefix=f"byom-{self.name}"
        )
        self._connect_timeout = engines.connect_timeout(params)
        self._connections = connections
        # byom's own connections for row packets, idle between queries.
        self._idle_packet_connections: list[Any] = []
        # Kills of queries nobody waits for, referenced until they end.
        self._background: set[asyncio.Future[Any]] = set()
        self._attached = list(params.get("attach") or {})
        if self.spec.name == "sqlite":
            _attach_sqlite_schemas(self._engine, params.get("attach") or {})
        logger.info(
            "source %s: %s through %s", self.name, self.spec.name, self._engine.driver
        )

    async def check(self) -> None:
        """Connect once and run a trivial query; raise SourceError with the reason."""
        await self._in_thread(self._check)

    async def read_all(self, sql: str, max_rows: int) -> RowBatch:
        """Run sql (in the source's own dialect) and return at most max_rows rows."""
        return await self._in_thread(self._read_all, sql, max_rows)

    async def read_first(self, sql: str, rows: int) -> RowBatch:
        """Run sql and return only its first rows (the rest is never read)."""
        return await self._in_thread(self._read_first, sql, rows)

    async def catalog_tables(self) -> dict[str, list[tuple[str, SqlType]]]:
        """Every user table with its columns, for SHOW TABLES and friends.

        Tables outside the default schema are named ``schema.table``.
        """
        return await self._in_thread(self._catalog_tables)

    async def table_columns(
        self, table: str, schema: str | None
    ) -> list[tuple[str, SqlType]]:
        """The columns of a table with their types, as the source declares them."""
        return await self._in_thread(self._table_columns, table, schema)

    async def query_columns(self, sql: str) -> list[tuple[str, SqlType]]:
        """The columns of a query's result with their types, from its first row.

        The types of a result are known only from running it, so the caller
        cuts the query to one row; a source that does not type its results
        (SQLite) has them read from that row's values.
        """
        stream = self.stream(sql, 1)
        try:
            first = await anext(stream)
        finally:
            await stream.aclose()
        return list(zip(first.columns, first.types, strict=True))

    @property
    def sends_text_cells(self) -> bool:
        """Whether ``stream`` can yield the cells as the server's MySQL text."""
        return engines.sends_text_cells(self.spec)

    async def stream(
        self, sql: str, batch_rows: int, *, text_cells: bool = False
    ) -> AsyncGenerator[RowBatch]:
        """Run sql with a server-side cursor and yield its rows in batches.

        The first batch is yielded even when it is empty, so the column names
        and types of an empty result are known. ``text_cells`` (only where
        ``sends_text_cells``) leaves every cell but text and blob ones as the
        bytes the server sent, MySQL's text protocol for its value: a caller
        sending them on in that protocol spares parsing and printing each one.

        Closing the iterator early (the client went away, the query was killed)
        drops the connection instead of reading the rest of the result.
        """
        # aclosing: the cursor must be closed before the slot is given back.
        if text_cells and not self.sends_text_cells:
            raise ValueError(f"source {self.name} cannot send text cells")
        rows = self._stream(sql, batch_rows, text_cells)
        async with self._slots, aclosing(rows) as batches:
            async for batch in batches:
                yield batch

    @property
    def forwards_row_packets(self) -> bool:
        """Whether ``stream_packets`` can read this source's rows as packets."""
        return self.spec.speaks_mysql

    async def stream_packets(self, sql: str) -> AsyncGenerator[PacketBatch]:
        """Run sql and yield its rows as the MySQL text protocol packets it sent.

        For a caller that sends the rows on in that protocol unchanged. The
        first batch brings the columns only. Closing the iterator early drops
        the connection, as ``stream`` does.
        """
        packets = self._packet_stream(sql)
        async with self._slots, aclosing(packets) as batches:
            async for batch in batches:
                yield batch

    async def _packet_stream(self, sql: str) -> AsyncGenerator[PacketBatch]:
        opening = self._in_worker(self._packet_connection)
        try:
            connection = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # The thread's connect or ping is bounded by timeouts; whatever
            # it opens once nobody waits is closed.
            opening.add_done_callback(_close_opened)
            raise
        reader = RowPackets(connection)
        stopper = _ReadStopper(connection)
        work: asyncio.Future[Any] | None = None
        try:
            work = self._in_worker(reader.start, sql)
            definitions: list[ColumnDefinition] = await asyncio.shield(work)
            columns = [column.name for column in definitions]
            types = [
                definition_type(column.type_code, column.charset == BINARY_CHARSET)
                for column in definitions
            ]
            tables = [column.table for column in definitions]
            packets = [column.packet for column in definitions]
            yield PacketBatch(columns, types, tables, definitions=packets)
            while True:
                work = self._in_worker(reader.read)
                chunk: PacketChunk = await asyncio.shield(work)
                if not chunk.packets:
                    return
                logger.debug("source %s: read %d row packets", self.name, chunk.packets)
                yield PacketBatch(columns, types, tables, chunk.data, chunk.packets)
        except pymysql.err.MySQLError as exc:
            raise _query_error_of(self.name, exc) from None
        finally:
            if work is not None and not work.done():
                stopper.interrupt()
                await asyncio.wait([work])
                work.exception()
            stopper.close()
            if reader.done:
                await self._in_worker(self._give_back, connection, reader)
            else:
                # A result not read to its end would have to be read before
                # the next query: closing the connection stops the source
                # sending it.
                await self._in_worker(_close_quietly, connection)
                self._in_background(self._kill_query, stopper.thread)

    def _packet_connection(self) -> Any:
        """An idle connection of byom's own that still answers, or a new one.

        Every wait here is bounded (connect_timeout): a source that stopped
        answering must not hold a worker thread for ever.
        """
        timeout = self._connect_timeout
        while self._idle_packet_connections:
            connection = self._idle_packet_connections.pop()
            try:
                connection._sock.settimeout(timeout)
                connection.ping(reconnect=False)
                connection._sock.settimeout(None)
            except (pymysql.err.MySQLError, OSError):
                _close_quietly(connection)
                continue
            return connection
        try:
            connection = self._connect_pymysql(timeout)
        except pymysql.err.MySQLError as exc:
            raise SourceError(f"data source '{self.name}' failed: {exc}") from None
        # The rows of a slow query may be long in coming.
        connection._sock.settimeout(None)
        return connection

    def _connect_pymysql(self, timeout: int) -> Any:
        # The parameters of the SQLAlchemy engine's own connections.
        url = self._engine.url
        return pymysql.connect(
            host=url.host,
            port=url.port or 3306,
            user=url.username,
            password=url.password or "",
            database=url.database,
            charset="utf8mb4",
            connect_timeout=timeout,
            read_timeout=timeout,
            write_timeout=timeout,
            autocommit=True,
        )

    def _in_background(self, work: Callable[..., Any], *args: Any) -> None:
        task = self._in_worker(work, *args)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _give_back(self, connection: Any, reader: RowPackets) -> None:
        """Keep a connection whose result was read to its end for the next query."""
        try:
            reusable = reader.reset()
        except (pymysql.err.MySQLError, OSError):
            reusable = False
        if reusable and len(self._idle_packet_connections) < self._connections:
            self._idle_packet_connections.append(connection)
            return
        _close_quietly(connection)

    def _kill_query(self, thread: int | None) -> None:
        """Stop the source's query on connection ``thread``, on a new connection.

        Closing a connection stops a query that sends rows; one still computing
        (which sends nothing) would not notice until it has a row.
        """
        if thread is None or not self.spec.speaks_mysql:
            return
        try:
            with (
                self._connect_pymysql(self._connect_timeout) as killer,
                killer.cursor() as cursor,
            ):
                cursor.execute(f"KILL QUERY {int(thread)}")
        except pymysql.err.MySQLError as exc:
            # Gone already, or not allowed: the closed socket stops it later.
            logger.info("source %s: KILL QUERY %d failed: %s", self.name, thread, exc)
            return
        logger.info("source %s: query on connection %d killed", self.name, thread)

    async def _stream(
        self, sql: str, batch_rows: int, text_cells: bool
    ) -> AsyncGenerator[RowBatch]:
        connection, stopper = await self._in_worker(self._connect_streaming, batch_rows)
        result: sa.CursorResult[Any] | None = None
        finished = False
        # The work a worker thread is doing on the connection. It is shielded:
        # a cancelled query must not close the connection while a thread still
        # uses it (a C driver would crash), so closing waits for it to end.
        work: asyncio.Future[Any] | None = None
        try:
            work = self._in_worker(_execute, connection, sql, text_cells)
            result = opened = await asyncio.shield(work)
            columns = list(opened.keys())
            description = opened.cursor.description if opened.cursor else None
            types: list[SqlType] | None = None
            parsers = (
                engines.text_cell_parsers([c[1] for c in description or ()])
                if text_cells
                else []
            )
            while True:
                work = self._in_worker(_fetch_rows, opened, batch_rows)
                rows: list[tuple[Any, ...]] = await asyncio.shield(work)
                if not rows and types is not None:
                    finished = True
                    return
                if types is None:
                    types = result_types(self.dialect, description, rows)
                logger.debug("source %s: fetched %d rows", self.name, len(rows))
                yield RowBatch(columns, rows, types, parsers)
                if not rows:
                    finished = True
                    return
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # A refused query leaves the connection fit for the pool.
            finished = result is None
            raise _query_error(self.name, exc) from None
        finally:
            if work is not None and not work.done():
                stopper.interrupt()
                await asyncio.wait([work])
                # Its error is the interruption's, of no interest to anyone.
                work.exception()
            try:
                await self._in_worker(_close_stream, connection, result, finished)
            finally:
                stopper.close()
            if not finished:
                self._in_background(self._kill_query, stopper.thread)

    async def writable_table(self, table: str, schema: str | None) -> sa.Table:
        """The table rows are to be written into, reflected; 1146 if it is missing.

        A name that differs from the stored one only in case finds it, as the
        MySQL client expects.
        """
        return await self._in_thread(self._writable_table, table, schema)

    async def has_table(self, table: str, schema: str | None) -> bool:
        """Whether a table of that name (in any case) exists."""
        found = await self._in_thread(self._stored_name, table, schema)
        return found is not None

    async def create_table(
        self, table: str, schema: str | None, columns: list[tuple[str, SqlType]]
    ) -> sa.Table:
        """Create a table with a column for each typed query column; 1050 if taken.

        PostgreSQL gets the names in lower case, as it folds unquoted names.
        """
        return await self._in_thread(self._create_table, table, schema, columns)

    async def drop_table(self, table: sa.Table) -> None:
        """Drop a table this source created (after its first batch failed)."""
        await self._in_thread(self._drop_table, table)

    async def write_rows(
        self, table: sa.Table, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> int:
        """Insert rows into columns of table in one transaction; return the count.

        One executemany per batch: a batch is written whole or not at all.
        """
        return await self._in_thread(self._write_rows, table, columns, rows)

    async def _in_thread(self, work: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            return await self._in_worker(work, *args)

    def _in_worker(self, work: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Start work in one of this source's threads; the future ends with it.

        Each source has threads of its own: a source that stops answering
        holds only those, never the threads other sources and byom need.
        """
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._threads, functools.partial(work, *args))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()
        while self._idle_packet_connections:
            _close_quietly(self._idle_packet_connections.pop())
        self._threads.shutdown(wait=False)

    def _check(self) -> None:
        try:
            with self._engine.connect() as connection:
                for check in self._check_queries():
                    connection.execute(sa.text(check)).fetchall()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            message = _describe(self.name, exc)
            raise SourceError(self._with_connect_reason(message, exc)) from None

    def _with_connect_reason(
        self, message: str, exc: sqlalchemy.exc.SQLAlchemyError
    ) -> str:
        """The message with the reason a connect failed, where the driver lost it.

        libmariadb (under mysqlclient) ends "Can't connect to server" with the
        errno of its non-blocking connect, "(115)", whatever the cause; one
        plain TCP connect to the same host and port tells the cause.
        """
        original = getattr(exc, "orig", None)
        url = self._engine.url
        if not message.endswith(' (115)")') or url.host is None:
            return message
        if getattr(original, "args", ())[:1] != (2002,):
            return message
        try:
            socket.create_connection((url.host, url.port or 3306), timeout=5).close()
        except OSError as error:
            return message.removesuffix(' (115)")') + f' ({error.strerror})")'
        return message

    def _check_queries(self) -> list[str]:
        if self.spec.name != "sqlite":
            return ["SELECT 1"]
        # SELECT 1 reads no file: a file that is not a database fails only here.
        return ["SELECT count(*) FROM sqlite_master"] + [
            f"SELECT count(*) FROM {_sqlite_name(schema)}.sqlite_master"
            for schema in self._attached
        ]

    def _read_all(self, sql: str, max_rows: int) -> RowBatch:
        try:
            with self._engine.connect() as connection:
                result = connection.execute(sa.text(sql))
                rows = result.fetchmany(max_rows + 1)
                columns = list(result.keys())
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None
        if len(rows) > max_rows:
            raise SourceError(
                f"the query on '{self.name}' returned more than {max_rows} rows; "
                "raise the max_training_rows setting or narrow the query"
            )
        return RowBatch(columns, [tuple(r) for r in rows])

    def _read_first(self, sql: str, rows: int) -> RowBatch:
        try:
            with self._engine.connect().execution_options(
                stream_results=True
            ) as connection:
                result = connection.execute(sa.text(sql))
                fetched = result.fetchmany(rows)
                columns = list(result.keys())
                # Dropping the connection stops the source from sending the rest.
                connection.invalidate()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None
        return RowBatch(columns, [tuple(r) for r in fetched])

    def _catalog_tables(self) -> dict[str, list[tuple[str, SqlType]]]:
        try:
            inspector = sa.inspect(self._engine)
            default = inspector.default_schema_name
            schemas = [
                name
                for name in inspector.get_schema_names()
                if name.lower() not in _SYSTEM_SCHEMAS
            ]
            found: dict[str, list[tuple[str, SqlType]]] = {}
            for schema in schemas:
                for table in inspector.get_table_names(schema=schema):
                    columns = inspector.get_columns(table, schema=schema)
                    name = table if schema == default else f"{schema}.{table}"
                    found[name] = [
                        (c["name"], from_sqlalchemy(c["type"])) for c in columns
                    ]
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None
        return found

    def _table_columns(
        self, table: str, schema: str | None
    ) -> list[tuple[str, SqlType]]:
        try:
            inspector = sa.inspect(self._engine)
            found = inspector.get_columns(table, schema=schema)
        except sqlalchemy.exc.NoSuchTableError:
            where = f"{schema}.{table}" if schema else table
            raise UnknownTableError(
                f"Table '{self.name}.{where}' doesn't exist"
            ) from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None
        if not found:
            where = f"{schema}.{table}" if schema else table
            raise UnknownTableError(f"Table '{self.name}.{where}' doesn't exist")
        return [(c["name"], from_sqlalchemy(c["type"])) for c in found]

    def _stored_name(self, table: str, schema: str | None) -> str | None:
        try:
            names = sa.inspect(self._engine).get_table_names(schema=schema)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None
        if table in names:
            return table
        folded = [name for name in names if name.lower() == table.lower()]
        return folded[0] if len(folded) == 1 else None

    def _writable_table(self, table: str, schema: str | None) -> sa.Table:
        stored = self._stored_name(table, schema)
        if stored is None:
            where = self._where(table, schema)
            raise UnknownTableError(f"Table '{where}' doesn't exist")
        try:
            return sa.Table(
                stored, sa.MetaData(), schema=schema, autoload_with=self._engine
            )
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None

    def _create_table(
        self, table: str, schema: str | None, columns: list[tuple[str, SqlType]]
    ) -> sa.Table:
        if self._stored_name(table, schema) is not None:
            raise AlreadyExistsError(
                f"Table '{self._where(table, schema)}' already exists"
            )
        fold = self.spec.name == "postgres"
        created = sa.Table(
            table.lower() if fold else table,
            sa.MetaData(),
            *(
                sa.Column(name.lower() if fold else name, to_sqlalchemy(kind))
                for name, kind in columns
            ),
            schema=schema,
        )
        try:
            with self._engine.begin() as connection:
                created.create(connection)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise self._write_error("creating", table, schema, exc) from None
        logger.info("source %s: table %s created", self.name, created.fullname)
        return created

    def _drop_table(self, table: sa.Table) -> None:
        try:
            with self._engine.begin() as connection:
                table.drop(connection)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            error = self._write_error("dropping", table.name, table.schema, exc)
            raise error from None
        logger.info("source %s: table %s dropped", self.name, table.fullname)

    def _write_rows(
        self, table: sa.Table, columns: list[str], rows: list[tuple[Any, ...]]
    ) -> int:
        values = [dict(zip(columns, row, strict=True)) for row in rows]
        try:
            with self._engine.begin() as connection:
                connection.execute(sa.insert(table), values)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            error = self._write_error("writing into", table.name, table.schema, exc)
            raise error from None
        logger.debug("source %s: wrote %d rows into %s", self.name, len(rows), table)
        return len(rows)

    def _where(self, table: str, schema: str | None) -> str:
        """A table named as the client names it: integration.[schema.]table."""
        return ".".join(part for part in (self.name, schema, table) if part)

    def _write_error(
        self,
        doing: str,
        table: str,
        schema: str | None,
        exc: sqlalchemy.exc.SQLAlchemyError,
    ) -> SourceError:
        # A lost connection may pass if tried again; a refused row never does.
        message = f"{doing} '{self._where(table, schema)}' failed: {_driver_text(exc)}"
        if getattr(exc, "connection_invalidated", False):
            return SourceError(message)
        return WriteRejectedError(message)

    def _connect_streaming(self, batch_rows: int) -> tuple[sa.Connection, _ReadStopper]:
        try:
            connection = self._engine.connect().execution_options(
                stream_results=True, yield_per=batch_rows
            )
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None
        return connection, _ReadStopper(connection.connection.dbapi_connection)


# Schemas of the database engines themselves, never listed as user tables.
_SYSTEM_SCHEMAS = {
    "information_schema",
    "pg_catalog",
    "pg_toast",
    "mysql",
    "performance_schema",
    "sys",
}


def _fetch_rows(result: sa.CursorResult[Any], rows: int) -> list[tuple[Any, ...]]:
    """The next rows of a result as the driver's own tuples.

    A streamed result is read through SQLAlchemy's fetch strategy rather than
    ``fetchmany``: the rows and errors are the same (a query text has no column
    types to convert by), without a ``Row`` object and a tuple copy of each row.
    """
    fetched = result.cursor_strategy.fetchmany(result, result.cursor, rows)
    if fetched and type(fetched[0]) is not tuple:
        return [tuple(row) for row in fetched]
    return list(fetched)


class _ReadStopper:
    """Ends a worker thread's read on a stream's connection soon, with an error.

    Made while the connection is idle (drivers refuse to be asked anything while
    a thread uses them). It holds its own duplicate of the socket: shutting that
    down wakes a read blocked on a slow source and leaves the driver's memory
    alone, and it can never reach a socket the driver has since closed and the
    system has reused. SQLite, which has no socket, is told to stop instead.
    """

    def __init__(self, driver: Any) -> None:
        # The source's id of the connection, for a KILL QUERY (MySQL drivers).
        thread_id = getattr(driver, "thread_id", None)
        self.thread: int | None = int(thread_id()) if callable(thread_id) else None
        self._sqlite = driver if isinstance(driver, sqlite3.Connection) else None
        number = None if self._sqlite else _socket_number(driver)
        self._socket = None if number is None else socket.socket(fileno=os.dup(number))

    def interrupt(self) -> None:
        """Make the read in progress fail now."""
        if self._sqlite is not None:
            self._sqlite.interrupt()
        elif self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Let go of the duplicate socket (the connection's own stays as it is)."""
        if self._socket is not None:
            self._socket.close()


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except (pymysql.err.MySQLError, OSError):
        connection._force_close()


def _close_opened(opening: asyncio.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        _close_quietly(opening.result())


def _socket_number(driver: Any) -> int | None:
    """The file number of a driver connection's socket, if it tells."""
    sock = getattr(driver, "_sock", None)  # PyMySQL keeps its socket here.
    if isinstance(sock, socket.socket):
        return sock.fileno()
    fileno = getattr(driver, "fileno", None)  # mysqlclient and psycopg
    return int(fileno()) if callable(fileno) else None


def _execute(
    connection: sa.Connection, sql: str, text_cells: bool = False
) -> sa.CursorResult[Any]:
    if not text_cells:
        return connection.execute(sa.text(sql))

    # mysqlclient picks each column's converter when the result opens, inside
    # execute, so the connection's own are back before it returns to the pool.
    driver: Any = connection.connection.dbapi_connection
    typed = driver.converter
    driver.converter = engines.text_cell_conversions(typed)
    try:
        return connection.execute(sa.text(sql))
    finally:
        driver.converter = typed


def _close_stream(
    connection: sa.Connection, result: sa.CursorResult[Any] | None, finished: bool
) -> None:
    # A server-side cursor closed early would read the rest of the result first;
    # invalidating the connection closes its socket, and the server stops.
    if not finished:
        connection.invalidate()
    elif result is not None:
        result.close()
    connection.close()


def _sqlite_name(name: str) -> str:
    """A schema name quoted for SQLite's SQL."""
    return '"' + str(name).replace('"', '""') + '"'


def _attach_sqlite_schemas(engine: sa.Engine, attach: dict[str, str]) -> None:
    """Make ``schema.table`` names work in SQLite by attaching one file per schema."""

    @sa.event.listens_for(engine, "connect")
    def _attach(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for schema, path in attach.items():
            try:
                cursor.execute(
                    f"ATTACH DATABASE ? AS {_sqlite_name(schema)}", (sqlite_uri(path),)
                )
            except sqlite3.OperationalError:
                # SQLite's own text names the URI, with byom's ?mode=rw added.
                raise sqlite3.OperationalError(
                    f"unable to open the database attached as '{schema}': {path}"
                ) from None
        cursor.close()


def _query_error_of(source: str, exc: Exception) -> ByomError:
    """The error for a query refused on a connection of byom's own (PyMySQL)."""
    blamed = query_error(source, exc, str(exc))
    return (
        blamed
        if blamed is not None
        else SourceError(f"data source '{source}' failed: {exc}")
    )


def _query_error(source: str, exc: sqlalchemy.exc.SQLAlchemyError) -> ByomError:
    """The error for a failed query: the user's mistake by its MySQL code, or 1429."""
    original = getattr(exc, "orig", None)
    blamed = query_error(source, original, _driver_text(exc))
    return blamed if blamed is not None else SourceError(_describe(source, exc))


def _describe(source: str, exc: sqlalchemy.exc.SQLAlchemyError) -> str:
    """The driver's own message, without SQLAlchemy's SQL echo and parameters."""
    return f"data source '{source}' failed: {_driver_text(exc)}"


def _driver_text(exc: sqlalchemy.exc.SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    text = str(original) if original is not None else str(exc).split("\n")[0]
    return text.strip()
