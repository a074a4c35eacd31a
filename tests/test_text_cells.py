"""A MariaDB passthrough hands the server's own text cells to text-protocol clients.

A plain query sent as COM_QUERY is answered in MySQL's text protocol, so byom
passes on the bytes MariaDB printed for each value instead of parsing and
printing them again. The mariadb CLI must then read exactly what it reads from
MariaDB itself; a prepared statement (binary protocol) must still get typed
values; and the source connection that served the text cells must give typed
values to the next query that borrows it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import mysql.connector
import pytest

from byom.catalog.records import Integration
from byom.sources.source import DataSource
from tests.support.byom_process import USER, ByomProcess
from tests.support.mariadb import MariaDBServer
from tests.test_model_values import RawRecorder

TABLE_SQL = """
CREATE TABLE test_data.text_cells (
    id INT PRIMARY KEY,
    big BIGINT UNSIGNED,
    d DOUBLE,
    f FLOAT,
    m DECIMAL(20, 4),
    day DATE,
    at DATETIME(3),
    span TIME,
    yr YEAR,
    flags BIT(3),
    raw BLOB,
    note TEXT,
    doc JSON,
    kind ENUM('a', 'b'),
    name VARCHAR(20),
    tiny TINYINT,
    vb VARBINARY(4),
    exact VARCHAR(10) COLLATE utf8mb4_bin
) CHARACTER SET utf8mb4
"""

# Values whose text byom printed differently from MariaDB before it passed the
# server's cells on: small and large doubles, FLOAT, fractional seconds, a
# negative TIME, a zero date.
ROWS = [
    "(1, 18446744073709551615, 1e-7, 1.1, 12345678901234.5678, '2024-02-29', "
    "'2024-02-29 10:11:12.345', '-838:59:59', 2024, b'101', x'00ff0a', "
    "'tëxt\\ttab', '{\"a\": [1, 2.5]}', 'b', 'héllo', -5, x'ff00', 'Ab')",
    "(2, 0, 1e15, -2.5, -0.0001, '0000-00-00', '1999-12-31 23:59:59.000', "
    "'12:00:00', 1901, b'000', '', '', 'null', 'a', '', 127, '', '')",
    "(3, 7, 0.30000000000000004, 3.4e38, 0, '1000-01-01', '2000-01-01 00:00:00', "
    "'838:59:59', 2155, b'111', 'x', 'line\\nbreak', '[]', 'a', 'it''s', 0, 'a', "
    "'ü')",
    "(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL)",
]


@pytest.fixture(scope="module")
def cells_byom(mariadb: MariaDBServer) -> Iterator[ByomProcess]:
    """A byom whose integration ``cells`` holds test_data.text_cells."""
    connection = mariadb.connect()
    with connection, connection.cursor() as cursor:
        cursor.execute("SET SESSION sql_mode = ''")
        cursor.execute("DROP TABLE IF EXISTS test_data.text_cells")
        cursor.execute(TABLE_SQL)
        cursor.execute("INSERT INTO test_data.text_cells VALUES " + ", ".join(ROWS))

    server = ByomProcess()
    server.start()
    server.query(mariadb.integration_sql("cells", "mariadb"))
    yield server
    server.cleanup()


def cli_output(port: int, user: str, password: str, sql: str) -> bytes:
    """What the mariadb CLI prints for sql in batch mode, as bytes."""
    command = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(port)]
    command += ["-u", user, "--batch"]
    if password:
        command.append(f"--password={password}")
    done = subprocess.run(command, input=sql.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


@pytest.mark.parametrize(
    "columns",
    [
        pytest.param("*", id="every-column"),
        pytest.param("d, f, at, span", id="the-values-byom-printed-its-own-way"),
        pytest.param("d * 2 AS twice, CONCAT(name, '!') AS shout", id="expressions"),
    ],
)
def test_mariadb_cli_reads_what_mariadb_prints(
    cells_byom: ByomProcess, mariadb: MariaDBServer, columns: str
) -> None:
    through_byom = cli_output(
        cells_byom.port,
        USER,
        cells_byom.password,
        f"SELECT {columns} FROM cells.text_cells ORDER BY id",
    )
    direct = cli_output(
        mariadb.port,
        mariadb.user,
        mariadb.password,
        f"SELECT {columns} FROM test_data.text_cells ORDER BY id",
    )

    assert through_byom == direct
    assert through_byom.count(b"\n") == 5


def test_mariadb_cli_reads_mariadbs_spelling_of_doubles(
    cells_byom: ByomProcess,
) -> None:
    printed = cli_output(
        cells_byom.port,
        USER,
        cells_byom.password,
        "SELECT id, d, span FROM cells.text_cells ORDER BY id",
    )

    assert printed.decode().splitlines() == [
        "id\td\tspan",
        "1\t0.0000001\t-838:59:59",
        "2\t1e15\t12:00:00",
        "3\t0.30000000000000004\t838:59:59",
        "4\tNULL\tNULL",
    ]


def test_pymysql_reads_the_values_it_reads_from_mariadb(
    cells_byom: ByomProcess, mariadb: MariaDBServer
) -> None:
    direct = mariadb.connect(database="test_data")
    with direct, direct.cursor() as cursor:
        cursor.execute(
            "SELECT id, big, d, m, day, at, span, yr, flags, raw, note, name, tiny, "
            "vb, exact FROM text_cells ORDER BY id"
        )
        expected = list(cursor.fetchall())

    rows = cells_byom.query(
        "SELECT id, big, d, m, day, at, span, yr, flags, raw, note, name, tiny, "
        "vb, exact FROM cells.text_cells ORDER BY id"
    )

    assert rows == expected
    assert rows[0][:4] == (
        1,
        18446744073709551615,
        1e-07,
        Decimal("12345678901234.5678"),
    )


def prepared_rows(port: int, user: str, password: str, sql: str) -> list[Any]:
    """The rows of sql run as a server-side prepared statement (binary rows)."""
    link = mysql.connector.connect(
        host="127.0.0.1", port=port, user=user, password=password, use_pure=True
    )
    try:
        cursor = link.cursor(prepared=True)
        cursor.execute(sql, (3,))
        return list(cursor.fetchall())
    finally:
        link.close()


def test_prepared_statement_gets_typed_binary_values(
    cells_byom: ByomProcess, mariadb: MariaDBServer
) -> None:
    columns = "id, big, d, m, day, at, span, name"
    direct = prepared_rows(
        mariadb.port,
        mariadb.user,
        mariadb.password,
        f"SELECT {columns} FROM test_data.text_cells WHERE id < ? ORDER BY id",
    )

    rows = prepared_rows(
        cells_byom.port,
        USER,
        "",
        f"SELECT {columns} FROM cells.text_cells WHERE id < ? ORDER BY id",
    )

    assert rows == direct
    assert [row[:6] for row in rows] == [
        (
            1,
            18446744073709551615,
            1e-07,
            Decimal("12345678901234.5678"),
            dt.date(2024, 2, 29),
            dt.datetime(2024, 2, 29, 10, 11, 12, 345000),
        ),
        (2, 0, 1e15, Decimal("-0.0001"), None, dt.datetime(1999, 12, 31, 23, 59, 59)),
    ]


def test_source_connection_is_typed_again_after_text_cells(
    mariadb: MariaDBServer,
) -> None:
    integration = Integration(
        "cells",
        "mariadb",
        {
            "host": "127.0.0.1",
            "port": mariadb.port,
            "user": mariadb.user,
            "password": mariadb.password,
            "database": "test_data",
        },
    )
    sql = "SELECT d, day, note, raw FROM text_cells WHERE id = 1"

    async def read_twice() -> list[tuple[object, ...]]:
        # One connection: the typed read must borrow the one the text read used.
        source = DataSource(integration, connections=1)
        try:
            rows = []
            for text_cells in (True, False):
                async for batch in source.stream(sql, 10, text_cells=text_cells):
                    rows.extend(batch.rows)
            return rows
        finally:
            source.dispose()

    rows = asyncio.run(read_twice())

    assert rows == [
        (b"0.0000001", b"2024-02-29", "tëxt\ttab", b"\x00\xff\n"),
        (1e-07, dt.date(2024, 2, 29), "tëxt\ttab", b"\x00\xff\n"),
    ]


@pytest.fixture(scope="module")
def recorder() -> Iterator[RawRecorder]:
    app = RawRecorder()
    app.start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def joined(cells_byom: ByomProcess, recorder: RawRecorder) -> ByomProcess:
    """cells_byom with a predictor ``cp`` on inputs of every kind of value."""
    cells_byom.query(
        "CREATE PREDICTOR cp FROM cells (SELECT big, d, m, day, at, span, name, "
        "vb, tiny FROM text_cells) PREDICT tiny USING "
        f"url.train = '{recorder.url('/train')}', "
        f"url.predict = '{recorder.url('/predict')}', "
        'dtype_dict = {"big": "integer", "d": "float", "m": "float", '
        '"day": "date", "at": "datetime", "span": "categorical", '
        '"name": "categorical", "vb": "categorical", "tiny": "integer"}, '
        "format = 'ray_server', join_learn_process = true"
    )
    return cells_byom


JOIN_SQL = (
    "SELECT t.id, t.d, t.at, t.span, t.name, p.tiny "
    "FROM cells.text_cells AS t JOIN mindsdb.cp AS p"
)


def test_join_sends_the_model_what_a_prepared_join_sends(
    joined: ByomProcess, recorder: RawRecorder
) -> None:
    recorder.bodies.clear()
    printed = cli_output(joined.port, USER, joined.password, JOIN_SQL)
    in_text = recorder.received("predict")

    recorder.bodies.clear()
    link = mysql.connector.connect(
        host="127.0.0.1", port=joined.port, user=USER, password="", use_pure=True
    )
    try:
        cursor = link.cursor(prepared=True)
        cursor.execute(JOIN_SQL + " WHERE t.id > ?", (0,))
        typed_rows = cursor.fetchall()
    finally:
        link.close()
    in_binary = recorder.received("predict")

    assert in_text == in_binary
    frame = json.loads(json.loads(in_text[0][1])["df"])
    assert frame[0] == {
        "big": 18446744073709551615,
        "d": 1e-07,
        "m": 12345678901234.5678,
        "day": "2024-02-29",
        "at": "2024-02-29T10:11:12.345000",
        "span": "-838:59:59",
        "name": "héllo",
        # Binary values go as their UTF-8 text, invalid bytes as U+FFFD.
        "vb": "\ufffd\x00",
    }
    assert printed.decode().splitlines() == [
        "id\td\tat\tspan\tname\ttiny",
        "1\t0.0000001\t2024-02-29 10:11:12.345\t-838:59:59\théllo\t0",
        "2\t1e15\t1999-12-31 23:59:59.000\t12:00:00\t\t0",
        "3\t0.30000000000000004\t2000-01-01 00:00:00.000\t838:59:59\tit's\t0",
        "4\tNULL\tNULL\tNULL\tNULL\t0",
    ]
    assert [row[0] for row in typed_rows] == [1, 2, 3, 4]


def test_join_with_a_step_after_prediction_prints_mysql_text(
    joined: ByomProcess, recorder: RawRecorder
) -> None:
    joined.query(
        "CREATE PREDICTOR cs FROM cells (SELECT d, span, tiny FROM text_cells) "
        f"PREDICT tiny USING url.train = '{recorder.url('/train')}', "
        f"url.predict = '{recorder.url('/predict')}', "
        'dtype_dict = {"d": "float", "span": "categorical", "tiny": "integer"}, '
        "format = 'ray_server', join_learn_process = true"
    )

    # The filter on the prediction runs after the model, over typed values, so
    # byom prints them itself: a TIME as MySQL writes it, a DOUBLE in its
    # shortest exact form, fractions of a second in six digits.
    printed = cli_output(
        joined.port,
        USER,
        joined.password,
        JOIN_SQL.replace("mindsdb.cp", "mindsdb.cs") + " WHERE p.tiny = 0",
    )

    assert printed.decode().splitlines() == [
        "id\td\tat\tspan\tname\ttiny",
        "1\t1e-7\t2024-02-29 10:11:12.345000\t-838:59:59\théllo\t0",
        "2\t1000000000000000\t1999-12-31 23:59:59\t12:00:00\t\t0",
        "3\t0.30000000000000004\t2000-01-01 00:00:00\t838:59:59\tit's\t0",
        "4\tNULL\tNULL\tNULL\tNULL\t0",
    ]
