"""Join shapes beyond ``table JOIN predictor``, end to end on three sources.

``ON t.a = p.b`` mappings, outer joins, the predictor named first, a subquery on
the left, two predictors in one query, a query wrapping a join as BI tools do,
and ``SELECT *`` naming each column once. Each query runs through PyMySQL
against a real byom that reads the home rentals table from the embedded SQLite
demo, a real MariaDB and a real PostgreSQL. Predictors p and q are served by
``ControlledModel`` (p predicts ``initial_price % 4``, q ``(initial_price + 1)
% 4``); the expected rows are computed here from the source's own rows.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pymysql.cursors
import pytest

from byom.sources.demo import COLUMNS, generate_rows
from tests.support.byom_process import ByomProcess
from tests.support.http_apps import ControlledModel
from tests.support.mariadb import (
    HOME_RENTALS_COLUMNS,
    MariaDBServer,
    read_home_rentals,
)
from tests.support.postgres import PostgresServer
from tests.test_statements import create_sql

Row = dict[str, Any]

# Where each source's home_rentals table is, as byom names it.
TABLES = {
    "sqlite": "mydb.test_data.home_rentals",
    "mariadb": "mdb.home_rentals",
    "postgres": "pg.test_data.home_rentals",
}
SOURCES = [pytest.param(kind, id=kind) for kind in TABLES]
TABLE_NAMES = [name for name, _ in COLUMNS]


@pytest.fixture(scope="module")
def models() -> Iterator[tuple[ControlledModel, ControlledModel]]:
    p, q = ControlledModel(), ControlledModel(offset=1)
    p.start()
    q.start()
    yield p, q
    p.stop()
    q.stop()


@pytest.fixture(scope="module")
def server(
    models: tuple[ControlledModel, ControlledModel],
    mariadb: MariaDBServer,
    postgres: PostgresServer,
) -> Iterator[ByomProcess]:
    """One byom with predictors p and q and the three sources registered."""
    byom = ByomProcess()
    byom.start()
    trained = ", join_learn_process = true"
    byom.query(create_sql("p", models[0], extra=trained))
    byom.query(create_sql("q", models[1], extra=trained))
    byom.query(
        "CREATE DATABASE mdb WITH ENGINE = 'mariadb', PARAMETERS = "
        f'{{"host": "127.0.0.1", "port": {mariadb.port}, "user": "{mariadb.user}", '
        f'"password": "{mariadb.password}", "database": "{mariadb.database}"}}'
    )
    byom.query(
        "CREATE DATABASE pg WITH ENGINE = 'postgres', PARAMETERS = "
        f'{{"host": "127.0.0.1", "port": {postgres.port}, '
        f'"user": "{postgres.user}", "password": "{postgres.password}", '
        f'"database": "{postgres.database}"}}'
    )
    yield byom
    byom.cleanup()


def source_rows(kind: str) -> list[Row]:
    """The table's rows as the source holds them."""
    if kind == "sqlite":
        return [dict(zip(TABLE_NAMES, row, strict=True)) for row in generate_rows()]
    names = [name for name, _ in HOME_RENTALS_COLUMNS]
    return [dict(zip(names, row, strict=True)) for row in read_home_rentals()]


def rooms(value: float, offset: int = 0) -> int:
    """What ControlledModel answers for an initial_price, as byom casts it."""
    return int((value + offset) % 4)


def fetch(byom: ByomProcess, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and every row of a query."""
    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        return names, [tuple(row) for row in cursor.fetchall()]


@pytest.mark.parametrize("kind", SOURCES)
def test_on_maps_a_table_column_onto_an_input(server: ByomProcess, kind: str) -> None:
    names, rows = fetch(
        server,
        f"SELECT t.sqft, t.rental_price, p.number_of_rooms, p.initial_price "
        f"FROM {TABLES[kind]} AS t JOIN mindsdb.p AS p "
        "ON t.sqft = p.initial_price WHERE t.rental_price > 5300",
    )

    expected = [
        (r["sqft"], r["rental_price"], rooms(r["sqft"]), r["sqft"])
        for r in source_rows(kind)
        if r["rental_price"] > 5300
    ]
    assert names == ["sqft", "rental_price", "number_of_rooms", "initial_price"]
    assert sorted(rows) == sorted(expected)
    assert expected


@pytest.mark.parametrize(
    "join",
    [
        pytest.param("LEFT JOIN", id="left-join"),
        pytest.param("LEFT OUTER JOIN", id="left-outer-join"),
        pytest.param("INNER JOIN", id="inner-join"),
        pytest.param("CROSS JOIN", id="cross-join"),
        pytest.param(",", id="comma"),
    ],
)
def test_every_join_kind_scores_every_row(server: ByomProcess, join: str) -> None:
    _, rows = fetch(
        server,
        f"SELECT t.initial_price, p.number_of_rooms FROM {TABLES['sqlite']} AS t "
        f"{join} mindsdb.p AS p WHERE t.rental_price > 5300",
    )

    expected = [
        (r["initial_price"], rooms(r["initial_price"]))
        for r in source_rows("sqlite")
        if r["rental_price"] > 5300
    ]
    assert sorted(rows) == sorted(expected)


@pytest.mark.parametrize("kind", SOURCES)
def test_predictor_first_means_the_same(server: ByomProcess, kind: str) -> None:
    names, rows = fetch(
        server,
        f"SELECT * FROM mindsdb.p AS p JOIN {TABLES[kind]} AS t "
        "WHERE t.rental_price > 5300 ORDER BY t.sqft, t.initial_price",
    )

    table = [
        r
        for r in sorted(
            source_rows(kind), key=lambda r: (r["sqft"], r["initial_price"])
        )
        if r["rental_price"] > 5300
    ]
    others = [name for name in TABLE_NAMES if name != "number_of_rooms"]
    assert names == ["number_of_rooms", *others]
    assert rows == [
        (rooms(r["initial_price"]), *(r[name] for name in others)) for r in table
    ]


@pytest.mark.parametrize("kind", SOURCES)
def test_star_names_each_column_once(server: ByomProcess, kind: str) -> None:
    names, rows = fetch(
        server,
        f"SELECT * FROM {TABLES[kind]} AS t JOIN mindsdb.p AS p "
        "ORDER BY t.sqft, t.initial_price LIMIT 3",
    )
    qualified, _ = fetch(
        server,
        f"SELECT t.*, p.* FROM {TABLES[kind]} AS t JOIN mindsdb.p AS p LIMIT 1",
    )

    first = sorted(source_rows(kind), key=lambda r: (r["sqft"], r["initial_price"]))
    others = [name for name in TABLE_NAMES if name != "number_of_rooms"]
    assert names == [*others, "number_of_rooms"]
    assert rows == [
        (*(r[name] for name in others), rooms(r["initial_price"])) for r in first[:3]
    ]
    assert qualified == [*TABLE_NAMES, "number_of_rooms"]


@pytest.mark.parametrize("kind", SOURCES)
def test_subquery_on_the_left_keeps_its_limit(server: ByomProcess, kind: str) -> None:
    names, rows = fetch(
        server,
        f"SELECT t.initial_price, p.number_of_rooms FROM (SELECT initial_price, "
        f"rental_price FROM {TABLES[kind]} ORDER BY initial_price DESC, sqft "
        "LIMIT 3) AS t JOIN mindsdb.p AS p LIMIT 100",
    )

    top = sorted(source_rows(kind), key=lambda r: (-r["initial_price"], r["sqft"]))
    assert names == ["initial_price", "number_of_rooms"]
    assert sorted(rows) == sorted(
        (r["initial_price"], rooms(r["initial_price"])) for r in top[:3]
    )


@pytest.mark.parametrize("kind", SOURCES)
def test_grouped_subquery_on_the_left(server: ByomProcess, kind: str) -> None:
    _, rows = fetch(
        server,
        "SELECT t.neighborhood, t.n, p.number_of_rooms FROM (SELECT neighborhood, "
        "count(*) AS n, max(initial_price) AS initial_price, "
        f"max(rental_price) AS rental_price FROM {TABLES[kind]} "
        "GROUP BY neighborhood) AS t JOIN mindsdb.p AS p",
    )

    groups: dict[str, list[Row]] = {}
    for r in source_rows(kind):
        groups.setdefault(r["neighborhood"], []).append(r)
    expected = [
        (name, len(members), rooms(max(m["initial_price"] for m in members)))
        for name, members in groups.items()
    ]
    assert sorted(rows) == sorted(expected)


@pytest.mark.parametrize("kind", SOURCES)
def test_two_predictors_score_every_row(server: ByomProcess, kind: str) -> None:
    names, rows = fetch(
        server,
        "SELECT t.initial_price, p.number_of_rooms AS a, q.number_of_rooms AS b "
        f"FROM {TABLES[kind]} AS t JOIN mindsdb.p AS p JOIN mindsdb.q AS q "
        "WHERE t.rental_price > 5300",
    )

    expected = [
        (r["initial_price"], rooms(r["initial_price"]), rooms(r["initial_price"], 1))
        for r in source_rows(kind)
        if r["rental_price"] > 5300
    ]
    assert names == ["initial_price", "a", "b"]
    assert sorted(rows) == sorted(expected)


def test_two_predictors_after_prediction(server: ByomProcess) -> None:
    _, rows = fetch(
        server,
        "SELECT q.number_of_rooms, count(*) AS n FROM "
        f"{TABLES['sqlite']} AS t JOIN mindsdb.p AS p ON t.sqft = p.initial_price "
        "JOIN mindsdb.q AS q WHERE p.number_of_rooms = 0 "
        "GROUP BY q.number_of_rooms ORDER BY q.number_of_rooms",
    )

    counts = Counter(
        rooms(r["initial_price"], 1)
        for r in source_rows("sqlite")
        if rooms(r["sqft"]) == 0
    )
    assert rows == sorted(counts.items())


@pytest.mark.parametrize("kind", SOURCES)
def test_query_wrapping_a_join(server: ByomProcess, kind: str) -> None:
    names, rows = fetch(
        server,
        "SELECT number_of_rooms, count(*) AS n FROM (SELECT * FROM "
        f"{TABLES[kind]} AS t JOIN mindsdb.p AS p) AS virtual_table "
        "GROUP BY number_of_rooms ORDER BY n DESC, number_of_rooms",
    )

    counts = Counter(rooms(r["initial_price"]) for r in source_rows(kind))
    assert names == ["number_of_rooms", "n"]
    assert rows == sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def test_explain_shows_each_predictor(server: ByomProcess) -> None:
    _, rows = fetch(
        server,
        f"EXPLAIN SELECT p.number_of_rooms, q.number_of_rooms FROM {TABLES['sqlite']} "
        "AS t JOIN mindsdb.p AS p ON t.sqft = p.initial_price JOIN mindsdb.q AS q",
    )

    lines = [row[0] for row in rows]
    assert lines[0] == (
        "fetch from mydb: SELECT t.sqft, t.rental_price, t.initial_price "
        "FROM test_data.home_rentals AS t"
    )
    assert lines[1].startswith("predict with p (ray_server at http://127.0.0.1:")
    assert lines[1].endswith(
        "inputs initial_price, rental_price; 10000 rows per call, 4 calls in flight"
    )
    assert lines[2].startswith("predict with q (ray_server at http://127.0.0.1:")


@pytest.mark.parametrize(
    ("sql", "code", "message"),
    [
        pytest.param(
            f"SELECT * FROM (SELECT sqft FROM {TABLES['sqlite']}) JOIN mindsdb.p",
            1248,
            "Every derived table must have its own alias",
            id="derived-table-without-alias",
        ),
        pytest.param(
            f"SELECT t.sqft, p.number_of_rooms FROM (SELECT sqft FROM "
            f"{TABLES['sqlite']}) AS t JOIN mindsdb.p AS p",
            1054,
            "predictor 'p' needs input 'initial_price', which table 't' does not "
            "have; map a column to it with ON t.<column> = p.initial_price",
            id="subquery-lacks-an-input",
        ),
        pytest.param(
            f"SELECT number_of_rooms FROM {TABLES['sqlite']} AS t "
            "JOIN mindsdb.p AS p JOIN mindsdb.q AS q",
            1052,
            "Column 'number_of_rooms' is ambiguous: it is in table 'home_rentals' "
            "and is an output of predictor 'p'",
            id="target-of-two-predictors-and-the-table",
        ),
        pytest.param(
            "SELECT a.x FROM (SELECT * FROM mindsdb.p WHERE initial_price = 1) AS a "
            f"JOIN {TABLES['sqlite']} AS t",
            1235,
            "subqueries, UNION and CTEs next to a predictor are not supported yet",
            id="subquery-on-a-predictor-joined-with-a-table",
        ),
        pytest.param(
            "SELECT t.sqft FROM (SELECT sqft FROM mindsdb.predictors) AS t "
            "JOIN mindsdb.p AS p",
            1235,
            "a subquery joined with a predictor must read the tables of one "
            "integration only: SELECT sqft FROM mindsdb.predictors",
            id="subquery-on-the-catalog-joined-with-a-predictor",
        ),
    ],
)
def test_join_refusals(server: ByomProcess, sql: str, code: int, message: str) -> None:
    with pytest.raises(pymysql.MySQLError) as caught:
        fetch(server, sql)

    assert caught.value.args == (code, message)


@pytest.mark.parametrize("kind", SOURCES)
def test_columns_name_their_table(server: ByomProcess, kind: str) -> None:
    # PyMySQL's DictCursor keys a repeated name by the table the server names.
    with server.connect() as connection:
        with connection.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute(
                f"SELECT t.*, p.* FROM {TABLES[kind]} AS t JOIN mindsdb.p AS p "
                "ORDER BY t.sqft, t.initial_price LIMIT 1"
            )
            row = cursor.fetchone()

    first = min(source_rows(kind), key=lambda r: (r["sqft"], r["initial_price"]))
    assert row == {**first, "p.number_of_rooms": rooms(first["initial_price"])}


@pytest.mark.parametrize("kind", SOURCES)
def test_filters_and_groups_on_predictions(server: ByomProcess, kind: str) -> None:
    _, rows = fetch(
        server,
        "SELECT t.location, count(*) AS n, sum(p.number_of_rooms) AS total "
        f"FROM {TABLES[kind]} AS t JOIN mindsdb.p AS p "
        "WHERE p.number_of_rooms > 1 AND t.sqft > 500 "
        "GROUP BY t.location ORDER BY t.location",
    )

    groups: dict[str, list[int]] = {}
    for r in source_rows(kind):
        if rooms(r["initial_price"]) > 1 and r["sqft"] > 500:
            groups.setdefault(r["location"], []).append(rooms(r["initial_price"]))
    expected = [(name, len(v), sum(v)) for name, v in sorted(groups.items())]
    assert [(loc, n, int(total)) for loc, n, total in rows] == expected


@pytest.mark.parametrize("kind", SOURCES)
def test_constant_input_and_limit(server: ByomProcess, kind: str) -> None:
    _, rows = fetch(
        server,
        "SELECT t.sqft, p.initial_price, p.number_of_rooms "
        f"FROM {TABLES[kind]} AS t JOIN mindsdb.p AS p "
        "WHERE p.initial_price = 3001 ORDER BY t.sqft DESC, t.initial_price LIMIT 4",
    )

    top = sorted(source_rows(kind), key=lambda r: (-r["sqft"], r["initial_price"]))
    assert rows == [(r["sqft"], 3001, rooms(3001)) for r in top[:4]]


def test_wrapping_query_cuts_the_join_to_its_limit(server: ByomProcess) -> None:
    sql = (
        "SELECT * FROM (SELECT t.sqft, p.number_of_rooms FROM "
        f"{TABLES['sqlite']} AS t JOIN mindsdb.p AS p) AS v LIMIT 3 OFFSET 1"
    )
    _, plan = fetch(server, f"EXPLAIN {sql}")
    _, rows = fetch(server, sql)

    assert plan[0] == (
        "fetch from mydb: SELECT t.sqft, t.initial_price, t.rental_price "
        "FROM test_data.home_rentals AS t LIMIT 4",
    )
    table = source_rows("sqlite")
    assert rows == [(r["sqft"], rooms(r["initial_price"])) for r in table[1:4]]


def test_two_levels_of_wrapping(server: ByomProcess) -> None:
    _, rows = fetch(
        server,
        "SELECT count(*) FROM (SELECT * FROM (SELECT t.sqft, p.number_of_rooms "
        f"FROM {TABLES['sqlite']} AS t JOIN mindsdb.p AS p) AS v "
        "WHERE number_of_rooms > 1) AS w",
    )

    expected = sum(1 for r in source_rows("sqlite") if rooms(r["initial_price"]) > 1)
    assert rows == [(expected,)]


@pytest.mark.parametrize(
    ("limit", "count"),
    [
        pytest.param("LIMIT 18446744073709551615", 5000, id="mysql-to-the-end"),
        pytest.param("LIMIT 4998, 18446744073709551615", 2, id="offset-to-the-end"),
        pytest.param("LIMIT 9223372036854775808", 5000, id="past-2-63"),
    ],
)
@pytest.mark.parametrize("kind", SOURCES)
def test_huge_limits_mean_every_row(
    server: ByomProcess, kind: str, limit: str, count: int
) -> None:
    total = len(source_rows(kind))
    expected = count if kind == "sqlite" else total - (5000 - count)
    plain = fetch(server, f"SELECT sqft FROM {TABLES[kind]} {limit}")[1]
    joined = fetch(
        server,
        f"SELECT p.number_of_rooms FROM {TABLES[kind]} AS t JOIN mindsdb.p AS p "
        f"{limit}",
    )[1]

    assert (len(plain), len(joined)) == (expected, expected)


@pytest.mark.parametrize(
    ("sql", "code", "message"),
    [
        pytest.param(
            "SELECT * FROM (SELECT t.number_of_rooms, p.number_of_rooms FROM "
            f"{TABLES['sqlite']} AS t JOIN mindsdb.p AS p) AS v",
            1060,
            "Duplicate column name 'number_of_rooms'",
            id="wrapped-duplicate-names",
        ),
        pytest.param(
            f"SELECT * FROM (SELECT t.*, p.* FROM {TABLES['sqlite']} AS t "
            "JOIN mindsdb.p AS p) AS v LIMIT 2",
            1060,
            "Duplicate column name 'number_of_rooms'",
            id="wrapped-qualified-stars",
        ),
        pytest.param(
            f"SELECT * FROM (SELECT * FROM {TABLES['sqlite']} AS t "
            "JOIN mindsdb.p AS p) LIMIT 2",
            1248,
            "Every derived table must have its own alias",
            id="wrapped-without-alias",
        ),
        pytest.param(
            f"SELECT nosuch FROM (SELECT * FROM {TABLES['sqlite']} AS t "
            "JOIN mindsdb.p AS p) AS v",
            1054,
            "Unknown column 'nosuch' in 'field list'",
            id="wrapped-unknown-column",
        ),
        pytest.param(
            f"SELECT sqft FROM {TABLES['sqlite']} LIMIT -1",
            1064,
            "You have an error in your SQL syntax; LIMIT takes a whole number of "
            "rows from 0 to 18446744073709551615, not -1",
            id="negative-limit",
        ),
        pytest.param(
            f"SELECT p.number_of_rooms FROM {TABLES['sqlite']} AS t "
            "JOIN mindsdb.p AS p LIMIT 1.5",
            1064,
            "You have an error in your SQL syntax; LIMIT takes a whole number of "
            "rows from 0 to 18446744073709551615, not 1.5",
            id="fractional-limit",
        ),
        pytest.param(
            f"SELECT p.number_of_rooms FROM {TABLES['sqlite']} AS t "
            "JOIN mindsdb.p AS p USING q.batch_rows = 10",
            1210,
            "USING q.batch_rows names 'q', which is not a predictor of this query",
            id="using-for-another-predictor",
        ),
        pytest.param(
            f"SELECT p.number_of_rooms FROM {TABLES['sqlite']} AS t "
            "JOIN mindsdb.p AS p USING batch_rows = 99999999999999999999999",
            1210,
            "USING batch_rows must be at most 10000000 (rows per predict call), "
            "not 99999999999999999999999",
            id="using-huge-batch-rows",
        ),
    ],
)
def test_wrapping_and_limit_refusals(
    server: ByomProcess, sql: str, code: int, message: str
) -> None:
    with pytest.raises(pymysql.MySQLError) as caught:
        fetch(server, sql)

    assert caught.value.args == (code, message)


def test_cte_over_an_integration(server: ByomProcess) -> None:
    _, rows = fetch(
        server,
        f"WITH x AS (SELECT sqft FROM {TABLES['sqlite']} WHERE sqft > 1000) "
        "SELECT count(*) FROM x",
    )

    assert rows == [(sum(1 for r in source_rows("sqlite") if r["sqft"] > 1000),)]


def test_create_table_refuses_duplicate_names(
    server: ByomProcess, tmp_path: Path
) -> None:
    target = tmp_path / "out.sqlite"
    sqlite3.connect(target).close()
    server.query(
        "CREATE DATABASE dup_out WITH ENGINE = 'sqlite', "
        f'PARAMETERS = {{"db_file": "{target}"}}'
    )

    with pytest.raises(pymysql.MySQLError) as caught:
        server.query(
            "CREATE TABLE dup_out.scores (SELECT t.number_of_rooms, "
            f"p.number_of_rooms FROM {TABLES['sqlite']} AS t JOIN mindsdb.p AS p)"
        )

    assert caught.value.args == (1060, "Duplicate column name 'number_of_rooms'")
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []


@pytest.mark.parametrize(
    ("kind", "sql", "code", "message"),
    [
        pytest.param(
            "sqlite",
            "SELECT * FROM mydb.test_data.nosuch",
            1146,
            "Table 'mydb.test_data.nosuch' doesn't exist",
            id="sqlite-table",
        ),
        pytest.param(
            "sqlite",
            "SELECT nosuch FROM mydb.test_data.home_rentals",
            1054,
            "Unknown column 'nosuch' in 'field list'",
            id="sqlite-column",
        ),
        pytest.param(
            "sqlite",
            "SELECT sqft FROM mydb.test_data.home_rentals AS a, "
            "mydb.test_data.home_rentals AS b",
            1052,
            "Column 'sqft' in field list is ambiguous",
            id="sqlite-ambiguous",
        ),
        pytest.param(
            "mariadb",
            "SELECT * FROM mdb.nosuch",
            1146,
            "Table 'test_data.nosuch' doesn't exist",
            id="mariadb-table",
        ),
        pytest.param(
            "mariadb",
            "SELECT nosuch FROM mdb.home_rentals",
            1054,
            "Unknown column 'nosuch' in 'SELECT'",
            id="mariadb-column",
        ),
        pytest.param(
            "postgres",
            "SELECT nosuch FROM pg.test_data.home_rentals",
            1054,
            "data source 'pg': column \"nosuch\" does not exist",
            id="postgres-column",
        ),
    ],
)
def test_query_mistakes_on_a_source(
    server: ByomProcess, kind: str, sql: str, code: int, message: str
) -> None:
    with pytest.raises(pymysql.MySQLError) as caught:
        fetch(server, sql)

    assert caught.value.args == (code, message)
