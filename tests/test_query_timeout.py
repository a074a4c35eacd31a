"""The whole-query time limit: query_timeout and the session's max_execution_time.

A real byom and PyMySQL against ``ScriptedEndpoints`` that answer late: the
query fails with MySQL's error 3024 when its limit passes, whether it is still
waiting for its first batch or already streaming rows, and the server goes on
serving the next query.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from tests.support.byom_process import ByomProcess
from tests.support.fault_apps import Reply, ScriptedEndpoints
from tests.test_backend_faults import JOIN_PRICES, JOIN_SQL, create_sql, endpoint

LATE = Reply(body=lambda rows: b'{"prediction": [%s]}' % b",".join([b"1"] * rows))


def late(seconds: float) -> Reply:
    """A normal-looking answer of 1 per row, after seconds."""
    return Reply(body=LATE.body, delay=seconds)


@pytest.fixture(scope="module")
def server(fake: ScriptedEndpoints) -> Iterator[ByomProcess]:
    """A 1 s query limit, batches of 50 rows scored one at a time."""
    byom = ByomProcess(
        extra={
            "query_timeout": 1.0,
            "predict_timeout": 20.0,
            "batch_rows": 50,
            "calls_in_flight": 1,
        }
    )
    byom.start()
    byom.query(create_sql("slow", "ray_server", endpoint(fake, "slow", "ray_server")))
    yield byom
    byom.cleanup()


def timed_error(connection: pymysql.Connection, sql: str) -> tuple[Any, float]:
    started = time.monotonic()
    with connection.cursor() as cursor, pytest.raises(pymysql.err.MySQLError) as caught:
        cursor.execute(sql)
    return caught.value.args, time.monotonic() - started


def test_a_query_waiting_for_its_model_fails_with_3024(
    server: ByomProcess, fake: ScriptedEndpoints
) -> None:
    fake.script("slow", "predict", late(5))

    with server.connect() as connection:
        (code, message), took = timed_error(
            connection,
            "SELECT number_of_rooms FROM slow WHERE initial_price = 1 "
            "AND rental_price = 1",
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchall() == ((1,),)

    assert (code, message) == (
        3024,
        "Query execution was interrupted, maximum statement execution time "
        "exceeded (1 s)",
    )
    assert 1.0 <= took < 3.0


def test_the_limit_covers_rows_already_streaming(
    server: ByomProcess, fake: ScriptedEndpoints
) -> None:
    fake.script("slow", "predict", late(0), late(5))

    with server.connect() as connection:
        (code, _), took = timed_error(connection, JOIN_SQL.format(name="slow"))

    assert code == 3024 and 1.0 <= took < 3.0
    assert [c.rows for c in fake.calls("slow", "predict")][-2:] == [
        50,
        len(JOIN_PRICES) - 50,
    ]


def test_max_execution_time_sets_the_limit_for_one_session(
    server: ByomProcess, fake: ScriptedEndpoints
) -> None:
    fake.script("slow", "predict", late(0.6), late(0.6))
    join = JOIN_SQL.format(name="slow")

    with server.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SET max_execution_time = 3000")
        cursor.execute(join)
        assert cursor.fetchall() == tuple((price, 1) for price in JOIN_PRICES)

        fake.script("slow", "predict", late(2))
        cursor.execute("SET max_execution_time = 300")
        (code, message), took = timed_error(connection, join)

    assert (code, message) == (
        3024,
        "Query execution was interrupted, maximum statement execution time "
        "exceeded (0.3 s)",
    )
    assert took < 1.5
