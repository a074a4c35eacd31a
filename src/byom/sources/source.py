"""A data source: one integration's database, reached through SQLAlchemy.

Drivers are blocking, so each call runs in a worker thread; the event loop keeps
serving other clients meanwhile. Large reads use a server-side cursor and come
back in batches, so a query never holds a whole table in memory.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc

from byom.catalog.records import Integration
from byom.errors import SourceError, UnknownTableError
from byom.sources import engines
from byom.sources.engines import sqlite_uri
from byom.sources.result_types import result_types
from byom.types import SqlType, from_sqlalchemy

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RowBatch:
    """Consecutive rows of one result, with the result's column names and types.

    ``types`` is empty when the caller did not ask for them.
    """

    columns: list[str]
    rows: list[tuple[Any, ...]]
    types: list[SqlType] = field(default_factory=list)


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
        self._attached = list(params.get("attach") or {})
        if self.spec.name == "sqlite":
            _attach_sqlite_schemas(self._engine, params.get("attach") or {})

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

    async def stream(self, sql: str, batch_rows: int) -> AsyncGenerator[RowBatch]:
        """Run sql with a server-side cursor and yield its rows in batches.

        The first batch is yielded even when it is empty, so the column names
        and types of an empty result are known.

        Closing the iterator early (the client went away, the query was killed)
        drops the connection instead of reading the rest of the result.
        """
        # aclosing: the cursor must be closed before the slot is given back.
        async with self._slots, aclosing(self._stream(sql, batch_rows)) as batches:
            async for batch in batches:
                yield batch

    async def _stream(self, sql: str, batch_rows: int) -> AsyncGenerator[RowBatch]:
        connection, result = await asyncio.to_thread(self._open_stream, sql, batch_rows)
        finished = False
        try:
            columns = list(result.keys())
            description = result.cursor.description if result.cursor else None
            types: list[SqlType] | None = None
            while True:
                rows = await asyncio.to_thread(result.fetchmany, batch_rows)
                if not rows and types is not None:
                    finished = True
                    return
                batch = [tuple(r) for r in rows]
                if types is None:
                    types = result_types(self.dialect, description, batch)
                logger.debug("source %s: fetched %d rows", self.name, len(rows))
                yield RowBatch(columns, batch, types)
                if not rows:
                    finished = True
                    return
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None
        finally:
            await asyncio.to_thread(_close_stream, connection, result, finished)

    async def _in_thread(self, work: Callable[..., T], *args: Any) -> T:
        async with self._slots:
            return await asyncio.to_thread(work, *args)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def _check(self) -> None:
        try:
            with self._engine.connect() as connection:
                for check in self._check_queries():
                    connection.execute(sa.text(check)).fetchall()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None

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

    def _open_stream(
        self, sql: str, batch_rows: int
    ) -> tuple[sa.Connection, sa.CursorResult[Any]]:
        try:
            connection = self._engine.connect().execution_options(
                stream_results=True, yield_per=batch_rows
            )
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SourceError(_describe(self.name, exc)) from None
        try:
            result = connection.execute(sa.text(sql))
        except sqlalchemy.exc.SQLAlchemyError as exc:
            connection.close()
            raise SourceError(_describe(self.name, exc)) from None
        return connection, result


# Schemas of the database engines themselves, never listed as user tables.
_SYSTEM_SCHEMAS = {
    "information_schema",
    "pg_catalog",
    "pg_toast",
    "mysql",
    "performance_schema",
    "sys",
}


def _close_stream(
    connection: sa.Connection, result: sa.CursorResult[Any], finished: bool
) -> None:
    # A server-side cursor closed early would read the rest of the result first;
    # invalidating the connection closes its socket, and the server stops.
    if not finished:
        connection.invalidate()
    else:
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


def _describe(source: str, exc: sqlalchemy.exc.SQLAlchemyError) -> str:
    """The driver's own message, without SQLAlchemy's SQL echo and parameters."""
    original = getattr(exc, "orig", None)
    text = str(original) if original is not None else str(exc).split("\n")[0]
    return f"data source '{source}' failed: {text.strip()}"
