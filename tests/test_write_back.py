"""Writing query results back into an integration, over a real server.

Each statement runs through PyMySQL against ``byom serve`` with a predictor on
the demo table ``mydb.test_data.home_rentals``, and writes into a SQLite file,
a real MariaDB and a real PostgreSQL server registered as integration ``wb``.
The rows are read back from the target directly (not through byom) and compared
with values computed from ``generate_rows()``: the model predicts
``initial_price % 4``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mysql.connector
import psycopg
import pymysql
import pytest

from byom.sources.demo import generate_rows
from tests.support.byom_process import USER, ByomProcess
from tests.support.http_apps import ControlledModel
from tests.support.mariadb import MariaDBServer
from tests.support.postgres import PostgresServer
from tests.test_statements import create_sql

Rows = list[tuple[Any, ...]]

# The demo rows the JOIN below reads: (initial_price, rental_price).
PRICES = sorted((r[5], r[7]) for r in generate_rows() if r[7] > 5300)
JOIN = (
    "SELECT t.initial_price, t.rental_price, p.number_of_rooms "
    "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p "
    "WHERE t.rental_price > 5300"
)
SCORED = sorted((i, r, i % 4) for i, r in PRICES)
SCORES_DDL = (
    "CREATE TABLE {t} (initial_price BIGINT, rental_price BIGINT, rooms BIGINT)"
)
TABLES = ("scores", "made", "keyed")


class Target:
    """The integration rows are written into, and direct access to it."""

    def __init__(
        self,
        prefix: str,
        execute: Callable[[str], Rows],
        schema: str | None = None,
    ) -> None:
        self.prefix = prefix
        self.execute = execute
        self.schema = schema

    def name(self, table: str) -> str:
        """The table as byom names it (wb.table or wb.schema.table)."""
        return f"{self.prefix}.{table}"

    def direct(self, table: str) -> str:
        """The table as the target database itself names it."""
        return f"{self.schema}.{table}" if self.schema else table

    def rows(self, sql: str) -> Rows:
        return sorted(tuple(row) for row in self.execute(sql))


def sqlite_target(byom: ByomProcess, directory: Path) -> Iterator[Target]:
    path = directory / "written.sqlite"
    sqlite3.connect(path).close()
    byom.query(
        f"CREATE DATABASE wb WITH ENGINE = 'sqlite', "
        f'PARAMETERS = {{"db_file": "{path}"}}'
    )

    def execute(sql: str) -> Rows:
        with sqlite3.connect(path) as db:
            return db.execute(sql).fetchall()

    yield Target("wb", execute)


def mariadb_target(byom: ByomProcess, server: MariaDBServer) -> Iterator[Target]:
    byom.query(
        "CREATE DATABASE wb WITH ENGINE = 'mariadb', PARAMETERS = "
        f'{{"host": "127.0.0.1", "port": {server.port}, "user": "{server.user}", '
        f'"password": "{server.password}", "database": "test_data"}}'
    )

    def execute(sql: str) -> Rows:
        connection = pymysql.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            database="test_data",
            autocommit=True,
        )
        with connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    yield Target("wb", execute)
    execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)}")


def postgres_target(byom: ByomProcess, server: PostgresServer) -> Iterator[Target]:
    byom.query(
        "CREATE DATABASE wb WITH ENGINE = 'postgres', PARAMETERS = "
        f'{{"host": "127.0.0.1", "port": {server.port}, "user": "{server.user}", '
        f'"password": "{server.password}", "database": "{server.database}"}}'
    )

    def execute(sql: str) -> Rows:
        with psycopg.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            dbname=server.database,
            autocommit=True,
        ) as connection:
            cursor = connection.execute(sql)
            return list(cursor.fetchall()) if cursor.description else []

    yield Target("wb.test_data", execute, schema="test_data")
    for table in TABLES:
        execute(f"DROP TABLE IF EXISTS test_data.{table}")


@pytest.fixture
def model() -> Iterator[ControlledModel]:
    served = ControlledModel()
    served.start()
    yield served
    served.stop()


@pytest.fixture
def trained(byom: ByomProcess, model: ControlledModel) -> ByomProcess:
    """A server with predictor p (initial_price % 4) trained on the demo data."""
    byom.query(create_sql("p", model, extra=", join_learn_process = true"))
    return byom


@pytest.fixture(params=["sqlite", "mariadb", "postgres"])
def target(
    request: pytest.FixtureRequest, trained: ByomProcess, tmp_path: Path
) -> Iterator[Target]:
    if request.param == "sqlite":
        yield from sqlite_target(trained, tmp_path)
    elif request.param == "mariadb":
        yield from mariadb_target(trained, request.getfixturevalue("mariadb"))
    else:
        yield from postgres_target(trained, request.getfixturevalue("postgres"))


def affected(byom: ByomProcess, sql: str) -> int:
    """Run a write through byom and return the affected-row count it reports."""
    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return int(cursor.rowcount)


@pytest.mark.parametrize(
    ("statement", "read", "expected"),
    [
        pytest.param(
            "INSERT INTO {scores} " + JOIN,
            "SELECT initial_price, rental_price, rooms FROM {scores}",
            SCORED,
            id="insert-select-join",
        ),
        pytest.param(
            "INSERT INTO {scores} (" + JOIN + ")",
            "SELECT initial_price, rental_price, rooms FROM {scores}",
            SCORED,
            id="insert-parenthesised-mindsdb-form",
        ),
        pytest.param(
            "INSERT INTO {scores} (rooms, initial_price, rental_price) "
            "SELECT p.number_of_rooms, t.initial_price, t.rental_price "
            "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p "
            "WHERE t.rental_price > 5300",
            "SELECT initial_price, rental_price, rooms FROM {scores}",
            SCORED,
            id="insert-column-list",
        ),
        pytest.param(
            "INSERT INTO {scores} (ROOMS, Initial_Price) "
            "SELECT p.number_of_rooms, t.initial_price "
            "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p "
            "WHERE t.rental_price > 5300",
            "SELECT initial_price, rental_price, rooms FROM {scores}",
            sorted((i, None, i % 4) for i, _ in PRICES),
            id="insert-column-list-partial-any-case",
        ),
        pytest.param(
            "INSERT INTO {scores} SELECT initial_price, rental_price, "
            "number_of_rooms FROM mindsdb.p "
            "WHERE initial_price = 3001 AND rental_price = 2999",
            "SELECT initial_price, rental_price, rooms FROM {scores}",
            [(3001, 2999, 1)],
            id="insert-single-row-predict",
        ),
        pytest.param(
            "CREATE TABLE {made} (" + JOIN + ")",
            "SELECT initial_price, rental_price, number_of_rooms FROM {made}",
            SCORED,
            id="create-table-parenthesised",
        ),
        pytest.param(
            "CREATE TABLE {made} AS " + JOIN,
            "SELECT initial_price, rental_price, number_of_rooms FROM {made}",
            SCORED,
            id="create-table-as-select",
        ),
        pytest.param(
            "CREATE TABLE {made} AS SELECT initial_price, location "
            "FROM mydb.test_data.home_rentals WHERE rental_price > 5300",
            "SELECT initial_price, location FROM {made}",
            sorted((r[5], r[3]) for r in generate_rows() if r[7] > 5300),
            id="create-table-passthrough",
        ),
    ],
)
def test_rows_are_written(
    trained: ByomProcess, target: Target, statement: str, read: str, expected: Rows
) -> None:
    target.execute(SCORES_DDL.format(t=target.direct("scores")))
    sql = statement.format(scores=target.name("scores"), made=target.name("made"))

    assert affected(trained, sql) == len(expected)
    direct = read.format(scores=target.direct("scores"), made=target.direct("made"))
    assert target.rows(direct) == expected


def test_batches_are_written_one_transaction_each(
    trained: ByomProcess, target: Target
) -> None:
    # All 5000 demo rows in batches of 1000 (the demo table's batch_rows
    # default aside): each arrives, and the count covers every batch.
    sql = (
        f"CREATE TABLE {target.name('made')} AS "
        "SELECT t.initial_price, p.number_of_rooms "
        "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p"
    )
    expected = sorted((r[5], r[5] % 4) for r in generate_rows())

    assert affected(trained, sql) == len(expected)
    read = f"SELECT initial_price, number_of_rooms FROM {target.direct('made')}"
    assert target.rows(read) == expected


@pytest.mark.parametrize(
    ("statement", "code", "message"),
    [
        pytest.param(
            "INSERT INTO {scores} SELECT t.initial_price, p.number_of_rooms "
            "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p",
            1136,
            "Column count doesn't match value count at row 1: '{scores}' takes "
            "3 column(s), the query gives 2",
            id="count-mismatch-by-position",
        ),
        pytest.param(
            "INSERT INTO {scores} (rooms) SELECT t.initial_price, p.number_of_rooms "
            "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p",
            1136,
            "Column count doesn't match value count at row 1: '{scores}' takes "
            "1 column(s), the query gives 2",
            id="count-mismatch-column-list",
        ),
        pytest.param(
            "INSERT INTO {scores} (nope) SELECT p.number_of_rooms "
            "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p",
            1054,
            "Unknown column 'nope' in 'field list' of '{scores}'",
            id="unknown-column",
        ),
        pytest.param(
            "CREATE TABLE {scores} (" + JOIN + ")",
            1050,
            "Table '{scores}' already exists",
            id="existing-table",
        ),
        pytest.param(
            "INSERT INTO {missing} " + JOIN,
            1146,
            "Table '{missing}' doesn't exist",
            id="unknown-table",
        ),
        pytest.param(
            "INSERT INTO mindsdb.p " + JOIN,
            1235,
            "Rows cannot be written into 'mindsdb.p': 'mindsdb' holds byom's "
            "predictors and tables; write into an integration",
            id="into-mindsdb",
        ),
        pytest.param(
            "INSERT INTO {scores} VALUES (1, 2, 3)",
            1235,
            "INSERT is supported only with a query (INSERT INTO integration.table "
            "SELECT ...); VALUES and SET lists are not",
            id="insert-values",
        ),
        pytest.param(
            "INSERT IGNORE INTO {scores} " + JOIN,
            1235,
            "INSERT with IGNORE is not supported; only INSERT integration.table "
            "... SELECT is",
            id="insert-ignore",
        ),
    ],
)
def test_write_errors(
    trained: ByomProcess, target: Target, statement: str, code: int, message: str
) -> None:
    target.execute(SCORES_DDL.format(t=target.direct("scores")))
    names = {"scores": target.name("scores"), "missing": target.name("missing")}

    assert trained.error(statement.format(**names)) == (code, message.format(**names))
    assert target.rows(f"SELECT * FROM {target.direct('scores')}") == []


def test_refused_rows_name_the_table_and_leave_nothing(
    trained: ByomProcess, target: Target
) -> None:
    # Only four distinct predictions: the key is violated inside the first
    # batch, whose transaction then writes nothing.
    target.execute(f"CREATE TABLE {target.direct('keyed')} (k BIGINT PRIMARY KEY)")
    sql = f"INSERT INTO {target.name('keyed')} SELECT p.number_of_rooms " + (
        "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p"
    )

    code, message = trained.error(sql)
    assert code == 1105
    assert message.startswith(f"writing into '{target.name('keyed')}' failed: ")
    assert target.rows(f"SELECT k FROM {target.direct('keyed')}") == []


def test_create_table_is_dropped_when_the_first_batch_fails(
    trained: ByomProcess, target: Target, model: ControlledModel
) -> None:
    # With the model gone, the first batch cannot be scored: nothing is
    # written, so the table CREATE made is dropped again.
    model.stop()
    sql = f"CREATE TABLE {target.name('made')} AS " + JOIN

    assert trained.error(sql) == (
        1429,
        f"predictor 'p': cannot connect to model endpoint {model.url('/predict')}: "
        "Connection refused",
    )
    with pytest.raises((sqlite3.Error, pymysql.err.MySQLError, psycopg.Error)):
        target.execute(f"SELECT 1 FROM {target.direct('made')}")


def test_a_prepared_insert_select_reports_its_rows(
    trained: ByomProcess, tmp_path: Path
) -> None:
    target = next(sqlite_target(trained, tmp_path))
    target.execute(SCORES_DDL.format(t="scores"))
    sql = f"INSERT INTO {target.name('scores')} " + JOIN.replace("5300", "%s")

    connection = mysql.connector.connect(
        host="127.0.0.1", port=trained.port, user=USER, password=trained.password
    )
    try:
        cursor = connection.cursor(prepared=True)
        cursor.execute(sql, (5300,))
        written = cursor.rowcount
    finally:
        connection.close()

    assert written == len(SCORED)
    assert (
        target.rows("SELECT initial_price, rental_price, rooms FROM scores") == SCORED
    )
