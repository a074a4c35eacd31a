"""How many rows, and how many bytes, go in each predict call.

The limits come from the server's settings, a predictor's own USING keys, and a
query's trailing ``USING`` (``p.key`` for one predictor). Each case runs a real
byom and PyMySQL against ``ScriptedEndpoints``, whose record of every call says
how many rows it carried and what its body was; the query's rows are checked
too, so splitting a batch never loses or reorders a prediction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import mysql.connector
import pymysql
import pytest

from byom.sources.demo import generate_rows
from tests.support.byom_process import USER, ByomProcess
from tests.support.fault_apps import Reply, ScriptedEndpoints
from tests.test_backend_faults import create_sql, endpoint
from tests.test_kill import WatchingModel

PRICES = [row[5] for row in generate_rows()]
JOIN = (
    "SELECT t.initial_price, p.number_of_rooms FROM mydb.test_data.home_rentals "
    "AS t JOIN mindsdb.{name} AS p"
)


@pytest.fixture(scope="module")
def byom(fake: ScriptedEndpoints) -> Iterator[ByomProcess]:
    """A byom whose calls carry 400 rows unless told otherwise."""
    server = ByomProcess(extra={"batch_rows": 400})
    server.start()
    yield server
    server.cleanup()


def predictor(
    byom: ByomProcess, fake: ScriptedEndpoints, name: str, using: str = ""
) -> str:
    sql = create_sql(name, "ray_server", endpoint(fake, name, "ray_server"))
    byom.query(f"{sql}, {using}" if using else sql)
    return JOIN.format(name=name)


def rows_per_call(fake: ScriptedEndpoints, name: str) -> list[int]:
    return sorted((c.rows for c in fake.calls(name, "predict")), reverse=True)


def expected_rows() -> list[tuple[int, int]]:
    return sorted((price, price % 4) for price in PRICES)


def split(total: int, size: int) -> list[int]:
    """Call sizes for total rows in calls of size rows, largest first."""
    return [size] * (total // size) + ([total % size] if total % size else [])


def test_server_setting_sets_rows_per_call(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    sql = predictor(byom, fake, "by_setting")

    assert sorted(byom.query(sql)) == expected_rows()
    assert rows_per_call(fake, "by_setting") == split(len(PRICES), 400)


def test_predictor_using_sets_rows_per_call(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    sql = predictor(byom, fake, "by_predictor", "batch_rows = 150")

    assert sorted(byom.query(sql)) == expected_rows()
    assert rows_per_call(fake, "by_predictor") == split(len(PRICES), 150)


@pytest.mark.parametrize(
    "using",
    [
        pytest.param("batch_rows = 90", id="bare-key"),
        pytest.param("p.batch_rows = 90", id="key-for-the-alias"),
        pytest.param("partition_size = 90", id="mindsdb-spelling"),
    ],
)
def test_query_using_sets_rows_per_call(
    byom: ByomProcess, fake: ScriptedEndpoints, using: str
) -> None:
    name = "by_query_" + using.split(" ")[0].replace(".", "_")
    sql = predictor(byom, fake, name, "batch_rows = 150")

    assert sorted(byom.query(f"{sql} USING {using}")) == expected_rows()
    assert rows_per_call(fake, name) == split(len(PRICES), 90)


@pytest.mark.parametrize(
    "using",
    [
        pytest.param("p.batch_rows = 90, batch_rows = 250", id="alias-key-first"),
        pytest.param("batch_rows = 250, p.batch_rows = 90", id="alias-key-last"),
    ],
)
def test_key_for_the_alias_wins(
    byom: ByomProcess, fake: ScriptedEndpoints, using: str
) -> None:
    name = "wins_" + ("first" if using.startswith("p.") else "last")
    sql = predictor(byom, fake, name)

    assert sorted(byom.query(f"{sql} USING {using}")) == expected_rows()
    assert rows_per_call(fake, name) == split(len(PRICES), 90)


def test_batch_bytes_splits_calls_by_body_size(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    sql = predictor(byom, fake, "by_bytes")

    assert sorted(byom.query(f"{sql} USING batch_bytes = 4000")) == expected_rows()

    calls = fake.calls("by_bytes", "predict")
    sizes = [len(c.body["df"].encode()) for c in calls]
    assert sum(c.rows for c in calls) == len(PRICES)
    assert len(calls) > len(PRICES) // 400
    # The row size is estimated from a sample, so a call may run a little over.
    assert max(sizes) <= 4000 * 1.1, sizes
    assert min(c.rows for c in calls[:-1]) > 1
    first = json.loads(calls[0].body["df"])[0]
    assert first.keys() == {"initial_price", "rental_price"}


def test_query_predict_timeout(byom: ByomProcess, fake: ScriptedEndpoints) -> None:
    sql = predictor(byom, fake, "patient")
    fake.script("patient", "predict", Reply(delay=2.0))

    with pytest.raises(pymysql.MySQLError) as caught:
        byom.query(f"{sql} USING predict_timeout = 0.5")

    url = endpoint(fake, "patient", "ray_server")
    assert caught.value.args == (
        1429,
        f"predictor 'patient': model endpoint {url} did not answer within 0.5 s",
    )


def test_query_timeout_bounds_the_whole_query(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    sql = predictor(byom, fake, "bounded")
    fake.script("bounded", "predict", Reply(delay=3.0))

    with pytest.raises(pymysql.MySQLError) as caught:
        byom.query(f"{sql} USING query_timeout = 0.5")

    assert caught.value.args == (
        3024,
        "Query execution was interrupted, maximum statement execution time "
        "exceeded (0.5 s)",
    )


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        pytest.param(
            "USING threshold = 0.7",
            "USING threshold is not an option of a query on a predictor; a query "
            "takes: batch_rows, batch_bytes, calls_in_flight, predict_timeout, "
            "query_timeout",
            id="unknown-key",
        ),
        pytest.param(
            "USING batch_rows = 0",
            "USING batch_rows must be a positive integer (rows per predict call), "
            "not 0",
            id="zero-rows",
        ),
        pytest.param(
            "USING calls_in_flight = 'two'",
            "USING calls_in_flight must be a positive integer (predict calls at "
            "once), not 'two'",
            id="text-for-a-number",
        ),
        pytest.param(
            "USING p.query_timeout = 2",
            "USING p.query_timeout is not an option of a query on a predictor; a "
            "query takes: batch_rows, batch_bytes, calls_in_flight, predict_timeout, "
            "query_timeout",
            id="query-timeout-for-one-predictor",
        ),
        pytest.param(
            "USING query_timeout = -1",
            "USING query_timeout must be a positive number of seconds, not -1",
            id="negative-query-timeout",
        ),
    ],
)
def test_query_using_refusals(
    byom: ByomProcess, fake: ScriptedEndpoints, tail: str, message: str
) -> None:
    sql = JOIN.format(name="healthy")
    if not fake.calls("healthy"):
        predictor(byom, fake, "healthy")

    with pytest.raises(pymysql.MySQLError) as caught:
        byom.query(f"{sql} {tail}")

    assert caught.value.args == (1210, message)


def test_query_using_without_a_predictor_is_refused(byom: ByomProcess) -> None:
    with pytest.raises(pymysql.MySQLError) as caught:
        byom.query("SELECT sqft FROM mydb.test_data.home_rentals USING batch_rows = 5")

    assert caught.value.args == (
        1210,
        "USING after a query sets how its predictors are called; "
        "this query reads no predictor",
    )


def test_join_using_column_is_not_the_clause(byom: ByomProcess) -> None:
    rows = byom.query(
        "SELECT count(*) FROM mydb.test_data.home_rentals AS a "
        "JOIN mydb.test_data.home_rentals AS b USING (sqft) WHERE a.sqft < 0"
    )

    assert rows == [(0,)]


def test_each_predictor_keeps_its_own_call_size(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    predictor(byom, fake, "first_of_two")
    predictor(byom, fake, "second_of_two", "batch_rows = 700")
    sql = (
        "SELECT t.initial_price, a.number_of_rooms, b.number_of_rooms "
        "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.first_of_two AS a "
        "JOIN mindsdb.second_of_two AS b USING a.batch_rows = 100"
    )

    rows = byom.query(sql)

    assert sorted(rows) == sorted((p, p % 4, p % 4) for p in PRICES)
    assert rows_per_call(fake, "first_of_two") == split(len(PRICES), 100)
    assert rows_per_call(fake, "second_of_two") == split(len(PRICES), 700)


def test_one_predictor_failing_ends_the_others_calls(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    watching = WatchingModel()
    watching.start()
    try:
        predictor(byom, fake, "refusing_of_two")
        byom.query(create_sql("hanging", "ray_server", watching.url("/predict")))
        # The refusal comes once the other call is under way.
        refusal = Reply(status=400, body=b"bad input", delay=0.5)
        fake.script("refusing_of_two", "predict", refusal)
        sql = (
            "SELECT a.number_of_rooms, b.number_of_rooms FROM "
            "mydb.test_data.home_rentals AS t JOIN mindsdb.refusing_of_two AS a "
            "JOIN mindsdb.hanging AS b USING batch_rows = 5000"
        )

        with pytest.raises(pymysql.MySQLError) as caught:
            byom.query(sql)

        url = endpoint(fake, "refusing_of_two", "ray_server")
        assert caught.value.args == (
            1296,
            f"predictor 'refusing_of_two': {url} answered HTTP 400: bad input",
        )
        assert watching.predict_started.is_set()
        assert watching.predict_dropped.wait(5)
    finally:
        watching.stop()


@pytest.mark.parametrize(
    "verb",
    [
        pytest.param("EXPLAIN", id="explain"),
        pytest.param("DESCRIBE", id="describe"),
    ],
)
def test_explain_shows_the_query_using(
    byom: ByomProcess, fake: ScriptedEndpoints, verb: str
) -> None:
    name = f"explained_{verb.lower()}"
    sql = predictor(byom, fake, name)

    lines = byom.query(f"{verb} {sql} USING batch_rows = 7")

    url = endpoint(fake, name, "ray_server")
    assert lines == [
        (
            "fetch from mydb: SELECT t.initial_price, t.rental_price FROM "
            "test_data.home_rentals AS t",
        ),
        (
            f"predict with {name} (ray_server at {url}): inputs initial_price, "
            "rental_price; 7 rows per call, 4 calls in flight",
        ),
        ("output: initial_price, number_of_rooms",),
    ]
    assert fake.calls(name, "predict") == []


@pytest.mark.parametrize(
    ("name", "statement", "created"),
    [
        pytest.param("inserted", "INSERT INTO {db}.scores {query}", False, id="insert"),
        pytest.param(
            "inserted_in_parentheses",
            "INSERT INTO {db}.scores (initial_price, rooms) ({query})",
            False,
            id="insert-parenthesised",
        ),
        pytest.param(
            "created", "CREATE TABLE {db}.scores ({query})", True, id="create"
        ),
        pytest.param(
            "created_as", "CREATE TABLE {db}.scores AS {query}", True, id="create-as"
        ),
    ],
)
def test_write_back_using_sets_rows_per_call(
    byom: ByomProcess,
    fake: ScriptedEndpoints,
    tmp_path: Path,
    name: str,
    statement: str,
    created: bool,
) -> None:
    # The options reach the query whose rows are written, not the INSERT.
    query = predictor(byom, fake, name)
    path = tmp_path / "written.sqlite"
    with sqlite3.connect(path) as db:
        if not created:
            db.execute("CREATE TABLE scores (initial_price BIGINT, rooms BIGINT)")
    byom.query(
        f"CREATE DATABASE {name} WITH ENGINE = 'sqlite', "
        f'PARAMETERS = {{"db_file": "{path}"}}'
    )

    sql = statement.format(db=name, query=query) + " USING batch_rows = 50"
    with byom.connect(autocommit=True) as connection, connection.cursor() as cursor:
        affected = cursor.execute(sql)
    with sqlite3.connect(path) as db:
        written = db.execute("SELECT * FROM scores").fetchall()
    byom.query(f"DROP DATABASE {name}")

    assert affected == len(PRICES)
    assert sorted(written) == expected_rows()
    assert rows_per_call(fake, name) == split(len(PRICES), 50)


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT 1 USING batch_rows = 5", id="select-1"),
        pytest.param("SELECT @@version USING batch_rows = 5", id="variable"),
        pytest.param("SELECT 1 FROM DUAL WHERE 1 = 1 USING batch_rows = 5", id="dual"),
        pytest.param("SELECT 'a' UNION SELECT 'b' USING batch_rows = 5", id="union"),
        pytest.param(
            "SELECT table_name FROM information_schema.tables USING batch_rows = 5",
            id="information-schema",
        ),
        pytest.param("EXPLAIN SELECT 1 USING batch_rows = 5", id="explain"),
    ],
)
def test_query_using_on_a_query_without_a_table_is_refused(
    byom: ByomProcess, sql: str
) -> None:
    # Answered before the planner, which refuses the same USING on a table.
    with pytest.raises(pymysql.MySQLError) as caught:
        byom.query(sql)

    assert caught.value.args == (
        1210,
        "USING after a query sets how its predictors are called; "
        "this query reads no predictor",
    )


@pytest.mark.parametrize(
    ("sql", "line"),
    [
        pytest.param("DESCRIBE byom USING batch_rows = 2", 1, id="describe-table"),
        pytest.param("SHOW TABLES\nUSING batch_rows = 2", 2, id="show"),
        pytest.param(
            "INSERT INTO mydb.t VALUES (1) USING batch_rows = 2", 1, id="insert-values"
        ),
    ],
)
def test_query_using_after_a_statement_without_a_query_is_a_syntax_error(
    byom: ByomProcess, sql: str, line: int
) -> None:
    with pytest.raises(pymysql.MySQLError) as caught:
        byom.query(sql)

    assert caught.value.args == (
        1064,
        "You have an error in your SQL syntax; USING with call options follows "
        "only a query (SELECT, EXPLAIN SELECT, INSERT ... SELECT, CREATE TABLE ... "
        f"SELECT) near 'USING batch_rows = 2' at line {line}",
    )


def test_query_using_in_a_prepared_statement(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    sql = predictor(byom, fake, "prepared")
    connection = mysql.connector.connect(
        host="127.0.0.1", port=byom.port, user=USER, use_pure=True
    )
    with connection, connection.cursor(prepared=True) as cursor:
        cursor.execute(f"{sql} WHERE t.initial_price > ? USING batch_rows = 33", (0,))
        rows = sorted(cursor.fetchall())

    assert rows == expected_rows()
    assert rows_per_call(fake, "prepared") == split(len(PRICES), 33)
