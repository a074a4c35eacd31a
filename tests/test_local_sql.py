"""What runs after prediction: filters, order, groups and expressions on predictions.

Each query joins the demo table with predictor p, served by the in-process
``ControlledModel`` (which predicts ``initial_price % 4``), through a real byom
and PyMySQL. The expected rows are computed here from the demo rows with plain
Python, and compared exactly, column types included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from statistics import median
from typing import Any

import pymysql
import pytest
from pymysql.constants import FIELD_TYPE

from byom.sources.demo import COLUMNS, generate_rows
from tests.support.byom_process import ByomProcess
from tests.support.http_apps import ControlledModel
from tests.test_statements import create_sql

JOIN = "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p"
NAMES = [name for name, _ in COLUMNS]
ROWS = [dict(zip(NAMES, row, strict=True)) for row in generate_rows()]
LONG, DOUBLE, DECIMAL, TEXT = (
    FIELD_TYPE.LONGLONG,
    FIELD_TYPE.DOUBLE,
    FIELD_TYPE.NEWDECIMAL,
    FIELD_TYPE.VAR_STRING,
)


def predicted(row: dict[str, Any]) -> int:
    """What ControlledModel answers for a row."""
    return int(row["initial_price"] % 4)


@pytest.fixture(scope="module")
def model() -> Iterator[ControlledModel]:
    served = ControlledModel()
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def server(model: ControlledModel) -> Iterator[ByomProcess]:
    """One byom with predictor p trained, shared by the read-only tests here."""
    byom = ByomProcess()
    byom.start()
    byom.query(create_sql("p", model, extra=", join_learn_process = true"))
    yield byom
    byom.cleanup()


def typed_rows(byom: ByomProcess, sql: str) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """The (name, type code) of each column, and every row."""
    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        described = [(d[0], d[1]) for d in cursor.description]
        return described, list(cursor.fetchall())


def by_prediction() -> dict[int, list[dict[str, Any]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in ROWS:
        groups.setdefault(predicted(row), []).append(row)
    return dict(sorted(groups.items()))


def neighborhood_sums() -> dict[str, int]:
    sums: dict[str, int] = {}
    for row in ROWS:
        sums[row["neighborhood"]] = sums.get(row["neighborhood"], 0) + predicted(row)
    return sums


SUMS = neighborhood_sums()
THRESHOLD = int(median(SUMS.values()))


CASES = [
    pytest.param(
        f"SELECT t.sqft, p.number_of_rooms {JOIN} WHERE p.number_of_rooms = 3",
        [("sqft", LONG), ("number_of_rooms", LONG)],
        [(r["sqft"], 3) for r in ROWS if predicted(r) == 3],
        id="where-on-the-prediction-keeps-source-order",
    ),
    pytest.param(
        f"SELECT t.initial_price, p.number_of_rooms AS r {JOIN} "
        "ORDER BY r DESC, t.initial_price LIMIT 5",
        [("initial_price", LONG), ("r", LONG)],
        [
            (r["initial_price"], predicted(r))
            for r in sorted(ROWS, key=lambda r: (-predicted(r), r["initial_price"]))
        ][:5],
        id="order-by-prediction-with-limit",
    ),
    pytest.param(
        f"SELECT p.number_of_rooms AS r, COUNT(*) AS n, AVG(t.sqft) AS a {JOIN} "
        "GROUP BY r ORDER BY r",
        [("r", LONG), ("n", LONG), ("a", DOUBLE)],
        [
            (key, len(group), sum(r["sqft"] for r in group) / len(group))
            for key, group in by_prediction().items()
        ],
        id="group-by-prediction-count-and-avg",
    ),
    pytest.param(
        f"SELECT t.neighborhood, SUM(p.number_of_rooms) AS s {JOIN} "
        f"GROUP BY t.neighborhood HAVING SUM(p.number_of_rooms) > {THRESHOLD} "
        "ORDER BY s DESC",
        [("neighborhood", TEXT), ("s", DECIMAL)],
        sorted(
            [(n, Decimal(s)) for n, s in SUMS.items() if s > THRESHOLD],
            key=lambda item: -item[1],
        ),
        id="having-on-a-sum-of-predictions",
    ),
    pytest.param(
        f"SELECT DISTINCT p.number_of_rooms AS r {JOIN} ORDER BY r",
        [("r", LONG)],
        [(0,), (1,), (2,), (3,)],
        id="distinct-predictions",
    ),
    pytest.param(
        f"SELECT p.number_of_rooms * 2 AS x, t.sqft + 1 AS y {JOIN} "
        "WHERE t.sqft > 1300",
        [("x", LONG), ("y", LONG)],
        [(predicted(r) * 2, r["sqft"] + 1) for r in ROWS if r["sqft"] > 1300],
        id="expressions-in-the-select-list",
    ),
    pytest.param(
        f"SELECT t.sqft, t.location, p.number_of_rooms {JOIN} "
        "WHERE t.location = 'good' AND p.number_of_rooms = 1 AND t.sqft < 700",
        [("sqft", LONG), ("location", TEXT), ("number_of_rooms", LONG)],
        [
            (r["sqft"], "good", 1)
            for r in ROWS
            if r["location"] == "good" and predicted(r) == 1 and r["sqft"] < 700
        ],
        id="pushed-and-local-filters-together",
    ),
    pytest.param(
        f"SELECT t.sqft, p.number_of_rooms {JOIN} "
        "WHERE t.sqft > 1450 OR p.number_of_rooms = 0 AND t.sqft < 300",
        [("sqft", LONG), ("number_of_rooms", LONG)],
        [
            (r["sqft"], predicted(r))
            for r in ROWS
            if r["sqft"] > 1450 or (predicted(r) == 0 and r["sqft"] < 300)
        ],
        id="or-across-table-and-prediction",
    ),
    pytest.param(
        f"SELECT t.sqft, NULLIF(p.number_of_rooms, 0) AS r {JOIN} WHERE t.sqft > 1400",
        [("sqft", LONG), ("r", LONG)],
        [(r["sqft"], predicted(r) or None) for r in ROWS if r["sqft"] > 1400],
        id="null-stays-null",
    ),
    pytest.param(
        f"SELECT t.sqft, p.initial_price, p.number_of_rooms {JOIN} "
        "WHERE p.initial_price = 5 AND t.sqft > 1400",
        [("sqft", LONG), ("initial_price", LONG), ("number_of_rooms", LONG)],
        [(r["sqft"], 5, 1) for r in ROWS if r["sqft"] > 1400],
        id="predictor-input-equal-to-a-constant-is-a-model-input",
    ),
    pytest.param(
        f"SELECT COUNT(*) AS n, MAX(p.number_of_rooms) AS m {JOIN} "
        "WHERE t.location LIKE 'GO%'",
        [("n", LONG), ("m", LONG)],
        [
            (
                sum(1 for r in ROWS if r["location"] == "good"),
                max(predicted(r) for r in ROWS if r["location"] == "good"),
            )
        ],
        id="aggregates-without-group-by",
    ),
    pytest.param(
        f"SELECT p.number_of_rooms AS r, COUNT(*) AS n {JOIN} "
        "WHERE p.number_of_rooms_confidence IS NULL GROUP BY 1 ORDER BY 2 DESC, 1",
        [("r", LONG), ("n", LONG)],
        sorted(
            [(key, len(group)) for key, group in by_prediction().items()],
            key=lambda item: (-item[1], item[0]),
        ),
        id="group-and-order-by-position-with-a-null-output",
    ),
    pytest.param(
        f"SELECT t.sqft, t.location {JOIN} "
        "WHERE (t.location LIKE 'GO%' OR t.location = 'GREAT' "
        "OR p.number_of_rooms = 9) AND t.sqft > 1350",
        [("sqft", LONG), ("location", TEXT)],
        [
            (r["sqft"], r["location"])
            for r in ROWS
            if r["location"] in ("good", "great") and r["sqft"] > 1350
        ],
        id="text-compares-without-regard-to-case-as-in-mysql",
    ),
    pytest.param(
        f"SELECT COUNT(*) AS n {JOIN} "
        "WHERE t.location LIKE 'g\\_od' OR p.number_of_rooms = 9",
        [("n", LONG)],
        [(0,)],
        id="like-escapes-with-a-backslash-as-in-mysql",
    ),
    pytest.param(
        f"SELECT COUNT(*) AS n {JOIN} "
        "WHERE t.location LIKE 'G_OD' OR p.number_of_rooms = 9",
        [("n", LONG)],
        [(sum(1 for r in ROWS if r["location"] == "good"),)],
        id="like-underscore-matches-any-one-character",
    ),
    pytest.param(
        f"SELECT t.sqft DIV p.number_of_rooms AS d, t.sqft / p.number_of_rooms AS q, "
        f"p.number_of_rooms > 1 AS big {JOIN} WHERE t.sqft > 1400",
        [("d", LONG), ("q", DOUBLE), ("big", LONG)],
        [
            (
                r["sqft"] // predicted(r) if predicted(r) else None,
                r["sqft"] / predicted(r) if predicted(r) else None,
                int(predicted(r) > 1),
            )
            for r in ROWS
            if r["sqft"] > 1400
        ],
        id="division-by-zero-is-null-and-comparisons-are-integers",
    ),
    pytest.param(
        f"SELECT NULLIF(p.number_of_rooms, 0) AS r, t.sqft {JOIN} "
        "WHERE t.sqft > 1300 ORDER BY r, t.sqft DESC LIMIT 4",
        [("r", LONG), ("sqft", LONG)],
        sorted(
            [(predicted(r) or None, r["sqft"]) for r in ROWS if r["sqft"] > 1300],
            key=lambda item: (item[0] is not None, item[0] or 0, -item[1]),
        )[:4],
        id="nulls-sort-first-as-in-mysql",
    ),
    pytest.param(
        "SELECT number_of_rooms, initial_price FROM mindsdb.p "
        "WHERE initial_price = 3001 AND number_of_rooms = 1",
        [("number_of_rooms", LONG), ("initial_price", LONG)],
        [(1, 3001)],
        id="single-row-filter-on-the-target-keeps-the-row",
    ),
    pytest.param(
        "SELECT number_of_rooms FROM mindsdb.p "
        "WHERE initial_price = 3001 AND number_of_rooms > 1",
        [("number_of_rooms", LONG)],
        [],
        id="single-row-filter-on-the-target-drops-the-row",
    ),
    pytest.param(
        "SELECT number_of_rooms * 10 + initial_price AS x FROM mindsdb.p "
        "WHERE initial_price = 3003",
        [("x", LONG)],
        [(3033,)],
        id="single-row-expression",
    ),
]


@pytest.mark.parametrize(("sql", "columns", "rows"), CASES)
def test_queries_after_prediction(
    server: ByomProcess,
    sql: str,
    columns: list[tuple[str, int]],
    rows: list[tuple[Any, ...]],
) -> None:
    assert typed_rows(server, sql) == (columns, rows)


def test_limit_after_a_filter_on_the_prediction_is_not_pushed(
    server: ByomProcess,
) -> None:
    sql = f"SELECT t.initial_price {JOIN} WHERE p.number_of_rooms = 2 LIMIT 7"

    result = typed_rows(server, sql)

    expected = [(r["initial_price"],) for r in ROWS if predicted(r) == 2][:7]
    assert result == ([("initial_price", LONG)], expected)
    fetches = re.findall(r"plan: fetch from mydb: (.*)", server.log())
    assert fetches[-1] == (
        "SELECT t.initial_price, t.rental_price FROM test_data.home_rentals AS t"
    )


@pytest.mark.parametrize(
    ("sql", "code", "message"),
    [
        pytest.param(
            f"SELECT NO_SUCH_FN(p.number_of_rooms) AS x {JOIN}",
            1235,
            "cannot evaluate 'NO_SUCH_FN(p.number_of_rooms) AS x' after prediction: "
            "Catalog Error: Scalar Function with name no_such_fn does not exist!",
            id="unknown-function-named",
        ),
        pytest.param(
            f"SELECT t.location, p.number_of_rooms {JOIN} GROUP BY t.location",
            1235,
            "cannot evaluate the query after prediction: Binder Error: column "
            '"number_of_rooms" must appear in the GROUP BY clause or must be part '
            "of an aggregate function.",
            id="column-outside-group-by",
        ),
        pytest.param(
            f"SELECT LIST_VALUE(p.number_of_rooms) AS l {JOIN}",
            1235,
            "column 'l' would be a DuckDB BIGINT[], which byom cannot send as a "
            "MySQL type; CAST it to a number, a string or a date",
            id="result-type-without-a-mysql-type",
        ),
        pytest.param(
            f"SELECT t.sqft {JOIN} "
            "WHERE CAST(t.location AS SIGNED) > p.number_of_rooms",
            1105,
            "cannot evaluate 'CAST(t.location AS SIGNED) > p.number_of_rooms' after "
            "prediction: Conversion Error: Could not convert string 'poor' to INT64 "
            "when casting from source column location",
            id="error-while-evaluating-rows",
        ),
    ],
)
def test_errors_name_the_culprit(
    server: ByomProcess, sql: str, code: int, message: str
) -> None:
    with server.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(sql)

    assert caught.value.args[:2] == (code, message)


def test_more_joined_rows_than_max_local_rows_fail_naming_the_setting(
    byom_factory: Callable[..., ByomProcess], model: ControlledModel
) -> None:
    byom = byom_factory(extra={"max_local_rows": 100})
    byom.query(create_sql("p", model, extra=", join_learn_process = true"))

    with byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(f"SELECT t.sqft {JOIN} ORDER BY p.number_of_rooms LIMIT 1")
        cursor.execute(f"SELECT t.sqft {JOIN} WHERE p.number_of_rooms = 0")
        filtered = cursor.fetchall()

    assert caught.value.args[:2] == (
        1105,
        "the query needs more than max_local_rows (100) joined rows in memory to "
        "order, group or filter them after prediction; filter on table columns "
        "first or raise the max_local_rows setting",
    )
    # A filter alone runs batch by batch, whatever the number of rows.
    assert filtered == tuple((r["sqft"],) for r in ROWS if predicted(r) == 0)
