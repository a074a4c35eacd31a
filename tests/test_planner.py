"""The query planner: what a SELECT on a predictor turns into.

Join pushdown cases live in ``fixtures/planner/join_pushdown.sql`` as pairs of
user query and expected source query, and the steps run after prediction in
``fixtures/planner/local_step.sql`` with the DuckDB query as a third part; the
other tables here check the rest of each plan and the refusals. Plans are built
against a real catalog and the embedded SQLite demo source; no model is called.

Rendering the same fetch for a MySQL or PostgreSQL integration is not tested:
the planner reads the dialect from a connected source and exposes only the
rendered ``fetch_sql``, and no such server runs for these tests.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from byom.catalog.records import Predictor
from byom.catalog.store import Catalog
from byom.errors import (
    AmbiguousColumnError,
    ByomError,
    NotSupportedError,
    NotUniqueTableError,
    SqlSyntaxError,
    UnknownColumnError,
    UnknownDatabaseError,
    UnknownTableError,
)
from byom.planning.plan import (
    CatalogPlan,
    JoinPlan,
    OutputColumn,
    PassthroughPlan,
    SinglePredictPlan,
)
from byom.planning.planner import Planner
from byom.settings import Settings
from byom.sources.demo import demo_integration
from byom.sources.registry import Sources
from byom.types import SqlType

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "planner"
PUSHDOWN_FIXTURE = FIXTURES / "join_pushdown.sql"
LOCAL_FIXTURE = FIXTURES / "local_step.sql"
JOIN = "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS tb"
SETTINGS = Settings(batch_rows=500, calls_in_flight=3)

P = Predictor(
    name="p",
    format="ray_server",
    target="number_of_rooms",
    dtype_dict={
        "number_of_rooms": "categorical",
        "initial_price": "integer",
        "rental_price": "integer",
    },
    predict_url="http://127.0.0.1:1/predict",
    train_url="http://127.0.0.1:1/train",
    integration="mydb",
    select_sql=(
        "SELECT number_of_rooms, initial_price, rental_price "
        "FROM test_data.home_rentals"
    ),
    column_types={
        "number_of_rooms": "LONGLONG",
        "initial_price": "LONGLONG",
        "rental_price": "LONGLONG",
    },
    status="complete",
)
# Needs an input the demo table lacks.
Q = Predictor(
    name="q",
    format="ray_server",
    target="rental_price",
    dtype_dict={"rental_price": "integer", "floor": "integer"},
    predict_url="http://127.0.0.1:1/predict",
    status="complete",
)

LONG = SqlType.LONGLONG
TEXT = SqlType.VAR_STRING


def model(
    name: str, kind: SqlType = LONG, key: str = "number_of_rooms"
) -> OutputColumn:
    """An output column holding the model's answer for key."""
    return OutputColumn(name, kind, "model", key=key)


def row(name: str, index: int, kind: SqlType = LONG) -> OutputColumn:
    """An output column read from position index of the fetched row."""
    return OutputColumn(name, kind, "row", index=index)


def const(name: str, value: Any, kind: SqlType = LONG) -> OutputColumn:
    """An output column echoing a given input on every row."""
    return OutputColumn(name, kind, "const", value=value)


# Fixture file


@dataclass(frozen=True)
class PushdownCase:
    """One case of the fixture file: a user query and the fetch it should give."""

    name: str
    query: str
    expected: str
    xfail: str
    local: str = ""
    streaming: bool = False


# The headers of a case's local step, and whether each streams.
LOCAL_PARTS = {"-- local batch by batch:": True, "-- local over all rows:": False}


def read_pushdown_cases(path: Path) -> list[PushdownCase]:
    """Parse the ``-- name:`` / ``-- expect:`` (/ ``-- local ...:``) blocks."""
    blocks: list[tuple[str, dict[str, list[str]]]] = []
    part = "query"
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("-- name:"):
            parts: dict[str, list[str]] = {"query": [], "expect": [], "xfail": []}
            blocks.append((line[8:].strip(), parts))
            part = "query"
        elif not blocks or not line:
            continue
        elif line.startswith("-- xfail:"):
            blocks[-1][1]["xfail"].append(line[9:].strip())
        elif line == "-- expect:":
            part = "expect"
        elif line in LOCAL_PARTS:
            part = line
            blocks[-1][1][part] = []
        elif not line.startswith("--"):
            blocks[-1][1][part].append(line)

    cases = []
    for name, lines in blocks:
        if not lines["query"] or not lines["expect"]:
            raise ValueError(f"{path.name}: case {name!r} lacks a query or -- expect:")
        query, expected = "\n".join(lines["query"]), " ".join(lines["expect"])
        xfail = " ".join(lines["xfail"])
        case = PushdownCase(name, query, expected, xfail)
        for header, streaming in LOCAL_PARTS.items():
            if header in lines:
                local = " ".join(lines[header])
                case = PushdownCase(name, query, expected, xfail, local, streaming)
        cases.append(case)
    names = [case.name for case in cases]
    if len(set(names)) != len(names):
        raise ValueError(f"{path.name}: two cases share a name")
    return cases


def pushdown_params(path: Path = PUSHDOWN_FIXTURE) -> list[Any]:
    """The fixture cases as pytest params, xfail (strict) where marked."""
    params = []
    for case in read_pushdown_cases(path):
        marks = (
            [pytest.mark.xfail(reason=case.xfail, strict=True)] if case.xfail else []
        )
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


# Planner against a real catalog and the demo source


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planner]:
    """A planner over a catalog holding the demo source and predictors p and q."""
    data_dir = tmp_path_factory.mktemp("planner")
    catalog = Catalog(data_dir / "catalog.sqlite")
    catalog.add_integration(demo_integration(data_dir))
    catalog.add_predictor(P)
    catalog.add_predictor(Q)
    sources = Sources(catalog)
    yield Planner(catalog, sources, SETTINGS)
    sources.close()
    catalog.close()


async def plan_of(planner: Planner, sql: str, database: str | None = None) -> Any:
    """Parse sql as MySQL and plan it."""
    select = sqlglot.parse_one(sql, read="mysql")
    assert isinstance(select, exp.Select)
    return await planner.plan(select, database)


async def join_plan(planner: Planner, sql: str) -> JoinPlan:
    plan = await plan_of(planner, sql)
    assert isinstance(plan, JoinPlan)
    return plan


async def single_plan(planner: Planner, sql: str) -> SinglePredictPlan:
    plan = await plan_of(planner, sql)
    assert isinstance(plan, SinglePredictPlan)
    return plan


# Joins


@pytest.mark.parametrize("case", pushdown_params())
async def test_join_fetch_sql(planner: Planner, case: PushdownCase) -> None:
    plan = await join_plan(planner, case.query)

    assert (plan.fetch_sql, plan.local) == (case.expected, None)


@pytest.mark.parametrize("case", pushdown_params(LOCAL_FIXTURE))
async def test_join_local_step(planner: Planner, case: PushdownCase) -> None:
    plan = await join_plan(planner, case.query)

    assert plan.local is not None, "no local step"
    assert plan.fetch_sql == case.expected
    assert (plan.local.sql, plan.local.streaming) == (case.local, case.streaming)


async def test_join_plan_carries_source_predictor_and_settings(
    planner: Planner,
) -> None:
    plan = await join_plan(
        planner, f"SELECT tb.number_of_rooms, t.rental_price {JOIN} WHERE t.sqft > 1"
    )

    assert (plan.source, plan.predictor, plan.notes) == ("mydb", P, [])
    assert (plan.batch_rows, plan.calls_in_flight) == (500, 3)


@pytest.mark.parametrize(
    ("select_list", "expected"),
    [
        pytest.param(
            "tb.number_of_rooms",
            [("initial_price", 0), ("rental_price", 1)],
            id="inputs-fetched-after-the-select-list",
        ),
        pytest.param(
            "tb.number_of_rooms, t.rental_price",
            [("initial_price", 1), ("rental_price", 0)],
            id="input-already-selected-is-reused",
        ),
        pytest.param(
            "t.sqft, T.Initial_Price, tb.number_of_rooms",
            [("initial_price", 1), ("rental_price", 2)],
            id="input-selected-with-other-case",
        ),
        pytest.param(
            "t.*",
            [("initial_price", 5), ("rental_price", 7)],
            id="table-star-has-every-input",
        ),
        pytest.param(
            "tb.rental_price, tb.number_of_rooms",
            [("initial_price", 1), ("rental_price", 0)],
            id="echoed-input-read-from-the-table",
        ),
    ],
)
async def test_join_model_inputs(
    planner: Planner, select_list: str, expected: list[tuple[str, int]]
) -> None:
    plan = await join_plan(planner, f"SELECT {select_list} {JOIN}")

    assert plan.models[0].inputs == expected


@pytest.mark.parametrize(
    ("select_list", "expected"),
    [
        pytest.param(
            "tb.number_of_rooms, t.rental_price",
            [model("number_of_rooms"), row("rental_price", 0)],
            id="seed",
        ),
        pytest.param(
            "t.sqft AS area, tb.number_of_rooms AS rooms, tb.initial_price AS ip, "
            "tb.number_of_rooms_confidence, t.location",
            [
                row("area", 0),
                model("rooms"),
                row("ip", 1),
                model(
                    "number_of_rooms_confidence",
                    SqlType.DOUBLE,
                    "number_of_rooms_confidence",
                ),
                row("location", 2, TEXT),
            ],
            id="aliases-echoed-input-and-confidence",
        ),
        pytest.param(
            "T.Rental_Price, TB.Number_Of_Rooms",
            [row("Rental_Price", 0), model("Number_Of_Rooms")],
            id="names-keep-the-query-spelling",
        ),
        pytest.param(
            "t.*, tb.number_of_rooms_min",
            [
                row("number_of_rooms", 0),
                row("number_of_bathrooms", 1),
                row("sqft", 2),
                row("location", 3, TEXT),
                row("days_on_market", 4),
                row("initial_price", 5),
                row("neighborhood", 6, TEXT),
                row("rental_price", 7),
                model("number_of_rooms_min", SqlType.DOUBLE, "number_of_rooms_min"),
            ],
            id="table-star-then-model-column",
        ),
        pytest.param(
            "*",
            [
                row("number_of_bathrooms", 0),
                row("sqft", 1),
                row("location", 2, TEXT),
                row("days_on_market", 3),
                row("initial_price", 4),
                row("neighborhood", 5, TEXT),
                row("rental_price", 6),
                model("number_of_rooms"),
            ],
            id="star-is-table-columns-then-target-named-once",
        ),
        pytest.param(
            "tb.*, t.*",
            [
                model("number_of_rooms"),
                row("number_of_rooms", 0),
                row("number_of_bathrooms", 1),
                row("sqft", 2),
                row("location", 3, TEXT),
                row("days_on_market", 4),
                row("initial_price", 5),
                row("neighborhood", 6, TEXT),
                row("rental_price", 7),
            ],
            id="qualified-stars-keep-both-in-their-order",
        ),
    ],
)
async def test_join_outputs(
    planner: Planner, select_list: str, expected: list[OutputColumn]
) -> None:
    plan = await join_plan(planner, f"SELECT {select_list} {JOIN}")

    assert plan.outputs == expected


async def test_join_local_step_reads_the_joined_rows(planner: Planner) -> None:
    plan = await join_plan(
        planner,
        f"SELECT t.sqft * 2 AS x, tb.number_of_rooms_confidence {JOIN} "
        "WHERE tb.number_of_rooms > 1 OR t.location = 'good'",
    )

    assert plan.local is not None
    assert plan.outputs == [
        row("sqft", 0),
        row("location", 1, TEXT),
        row("initial_price", 2),
        row("rental_price", 3),
        model(
            "number_of_rooms_confidence", SqlType.DOUBLE, "number_of_rooms_confidence"
        ),
        model("number_of_rooms"),
    ]
    assert (plan.local.widths, plan.local.names) == (
        [4, 2],
        ["x", "number_of_rooms_confidence"],
    )
    assert plan.local.probes == [
        (
            "t.sqft * 2 AS x",
            "SELECT t.sqft * 2 AS x FROM source_rows AS t "
            "POSITIONAL JOIN predictions AS tb",
        ),
        (
            "tb.number_of_rooms > 1 OR t.location = 'good'",
            "SELECT 1 FROM source_rows AS t POSITIONAL JOIN predictions AS tb "
            "WHERE tb.number_of_rooms > 1 OR t.location = 'good'",
        ),
    ]
    assert plan.describe() == [
        "fetch from mydb: SELECT t.sqft, t.location, t.initial_price, "
        "t.rental_price FROM test_data.home_rentals AS t",
        "predict with p (ray_server at http://127.0.0.1:1/predict): inputs "
        "initial_price, rental_price; 500 rows per call, 3 calls in flight",
        "after prediction, in DuckDB batch by batch: SELECT t.sqft * 2 AS x, "
        "tb.number_of_rooms_confidence AS number_of_rooms_confidence "
        "FROM source_rows AS t POSITIONAL JOIN predictions AS tb "
        "WHERE tb.number_of_rooms > 1 OR t.location = 'good'",
    ]


async def test_join_local_step_is_bounded_by_max_local_rows(
    tmp_path: Path,
) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    catalog.add_integration(demo_integration(tmp_path))
    catalog.add_predictor(P)
    sources = Sources(catalog)
    try:
        planner = Planner(catalog, sources, Settings(max_local_rows=7))
        plan = await join_plan(
            planner, f"SELECT t.sqft {JOIN} ORDER BY tb.number_of_rooms"
        )
    finally:
        sources.close()
        catalog.close()

    assert plan.local is not None
    assert (plan.local.max_rows, plan.local.streaming) == (7, False)
    assert plan.describe()[-1] == (
        "after prediction, in DuckDB over all joined rows (at most 7): "
        "SELECT t.sqft AS sqft FROM source_rows AS t POSITIONAL JOIN predictions "
        "AS tb ORDER BY tb.number_of_rooms NULLS FIRST"
    )


@pytest.mark.parametrize(
    ("where", "model_inputs", "constants", "outputs"),
    [
        pytest.param(
            "tb.initial_price = 3000",
            [("rental_price", 1)],
            {"initial_price": 3000},
            [row("sqft", 0), const("initial_price", 3000), model("number_of_rooms")],
            id="input-equal-to-a-constant",
        ),
        pytest.param(
            "3000 = TB.Initial_Price AND t.sqft > 1",
            [("rental_price", 1)],
            {"initial_price": 3000},
            [row("sqft", 0), const("initial_price", 3000), model("number_of_rooms")],
            id="constant-first-and-other-case",
        ),
        pytest.param(
            "tb.initial_price = 'x' AND tb.rental_price = -2",
            [],
            {"initial_price": "x", "rental_price": -2},
            [
                row("sqft", 0),
                const("initial_price", "x", TEXT),
                model("number_of_rooms"),
            ],
            id="every-input-a-constant",
        ),
        pytest.param(
            "initial_price = 3000",
            [("initial_price", 1), ("rental_price", 2)],
            {},
            [row("sqft", 0), row("initial_price", 1), model("number_of_rooms")],
            id="unqualified-input-is-the-table-column",
        ),
    ],
)
async def test_join_constant_inputs(
    planner: Planner,
    where: str,
    model_inputs: list[tuple[str, int]],
    constants: dict[str, Any],
    outputs: list[OutputColumn],
) -> None:
    plan = await join_plan(
        planner,
        f"SELECT t.sqft, tb.initial_price, tb.number_of_rooms {JOIN} WHERE {where}",
    )

    assert (plan.models[0].inputs, plan.models[0].constants) == (
        model_inputs,
        constants,
    )
    assert (plan.outputs, plan.local) == (outputs, None)


async def test_join_constant_gives_an_input_the_table_lacks(planner: Planner) -> None:
    plan = await join_plan(
        planner,
        "SELECT b.rental_price FROM mydb.test_data.home_rentals AS t "
        "JOIN mindsdb.q AS b WHERE b.floor = 3",
    )

    assert plan.fetch_sql == "SELECT t.number_of_rooms FROM test_data.home_rentals AS t"
    assert (plan.models[0].inputs, plan.models[0].constants) == ([], {"floor": 3})
    assert plan.describe()[1] == (
        "predict with q (ray_server at http://127.0.0.1:1/predict): inputs "
        "floor = 3; 500 rows per call, 3 calls in flight"
    )


# Single-row predictions


@pytest.mark.parametrize(
    ("sql", "inputs", "outputs", "star"),
    [
        pytest.param(
            "SELECT * FROM p WHERE initial_price = 3000 AND rental_price = 3000",
            {"initial_price": 3000, "rental_price": 3000},
            [
                model("number_of_rooms"),
                const("initial_price", 3000),
                const("rental_price", 3000),
            ],
            True,
            id="star-seed",
        ),
        pytest.param(
            "SELECT p.* FROM mindsdb.p WHERE 3000 = initial_price",
            {"initial_price": 3000, "rental_price": None},
            [
                model("number_of_rooms"),
                const("initial_price", 3000),
                const("rental_price", None),
            ],
            True,
            id="qualified-star-value-first-missing-input-none",
        ),
        pytest.param(
            "SELECT number_of_rooms AS rooms, initial_price AS ip, "
            "number_of_rooms_confidence AS confidence FROM p "
            "WHERE initial_price = 3000 AND rental_price = 2500",
            {"initial_price": 3000, "rental_price": 2500},
            [
                model("rooms"),
                const("ip", 3000),
                model("confidence", SqlType.DOUBLE, "number_of_rooms_confidence"),
            ],
            False,
            id="aliases",
        ),
        pytest.param(
            "SELECT Number_Of_Rooms, Rental_Price FROM P WHERE Initial_Price = 3000",
            {"initial_price": 3000, "rental_price": None},
            [model("Number_Of_Rooms"), const("Rental_Price", None)],
            False,
            id="case-differences",
        ),
        pytest.param(
            "SELECT number_of_rooms FROM p WHERE initial_price = 1 LIMIT 1 OFFSET 0",
            {"initial_price": 1, "rental_price": None},
            [model("number_of_rooms")],
            False,
            id="offset-0-keeps-the-row",
        ),
    ],
)
async def test_single_predict(
    planner: Planner,
    sql: str,
    inputs: dict[str, Any],
    outputs: list[OutputColumn],
    star: bool,
) -> None:
    plan = await single_plan(planner, sql)

    assert (plan.predictor, plan.inputs, plan.outputs) == (P, inputs, outputs)
    assert (plan.star, plan.empty) == (star, False)


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT * FROM p WHERE 1 = 0", id="where-1-eq-0"),
        pytest.param("SELECT * FROM p WHERE FALSE", id="where-false"),
        pytest.param(
            "SELECT * FROM p WHERE initial_price = 3000 LIMIT 0", id="limit-0"
        ),
        pytest.param(
            "SELECT * FROM p WHERE initial_price = 3000 LIMIT 1 OFFSET 1",
            id="offset-past-the-one-row",
        ),
        pytest.param(
            "SELECT * FROM p WHERE initial_price = 3000 LIMIT 1, 5",
            id="offset-in-the-comma-form",
        ),
        pytest.param("SELECT * FROM p WHERE 1.5 = 2", id="numbers-that-differ"),
        pytest.param("SELECT * FROM p WHERE -1 = 1", id="negated-number"),
    ],
)
async def test_single_predict_empty(planner: Planner, sql: str) -> None:
    plan = await single_plan(planner, sql)

    assert (plan.empty, plan.star) == (True, True)
    assert [c.name for c in plan.outputs] == [
        "number_of_rooms",
        "initial_price",
        "rental_price",
    ]


@pytest.mark.parametrize(
    ("sql", "inputs", "local", "names", "empty"),
    [
        pytest.param(
            "SELECT * FROM p WHERE initial_price = 3000 AND number_of_rooms = 2",
            {"initial_price": 3000, "rental_price": None},
            "SELECT p.number_of_rooms AS number_of_rooms, p.initial_price AS "
            "initial_price, p.rental_price AS rental_price FROM predictions AS p "
            "WHERE p.number_of_rooms = 2",
            ["number_of_rooms", "initial_price", "rental_price"],
            False,
            id="filter-on-the-target",
        ),
        pytest.param(
            "SELECT number_of_rooms * 2 AS x, initial_price FROM mindsdb.p AS m "
            "WHERE m.initial_price = 1 AND m.number_of_rooms_confidence > 0.5 "
            "ORDER BY x",
            {"initial_price": 1, "rental_price": None},
            "SELECT m.number_of_rooms * 2 AS x, m.initial_price AS initial_price "
            "FROM predictions AS m WHERE m.number_of_rooms_confidence > 0.5 "
            "ORDER BY x NULLS FIRST",
            ["x", "initial_price"],
            False,
            id="expression-filter-on-confidence-and-order-by",
        ),
        pytest.param(
            "SELECT COUNT(*) AS n FROM p WHERE 1 = 0",
            {"initial_price": None, "rental_price": None},
            "SELECT COUNT(*) AS n FROM predictions AS p",
            ["n"],
            True,
            id="aggregate-over-no-row",
        ),
        pytest.param(
            "SELECT DISTINCT number_of_rooms FROM p WHERE initial_price = 1 LIMIT 0",
            {"initial_price": 1, "rental_price": None},
            "SELECT DISTINCT p.number_of_rooms AS number_of_rooms "
            "FROM predictions AS p LIMIT 0",
            ["number_of_rooms"],
            True,
            id="distinct-with-limit-0",
        ),
    ],
)
async def test_single_predict_local_step(
    planner: Planner,
    sql: str,
    inputs: dict[str, Any],
    local: str,
    names: list[str],
    empty: bool,
) -> None:
    plan = await single_plan(planner, sql)

    assert plan.local is not None
    assert (plan.inputs, plan.empty, plan.star) == (inputs, empty, False)
    assert (plan.local.sql, plan.local.names) == (local, names)
    assert (plan.local.widths, [c.name for c in plan.outputs]) == (
        [0, 7],
        [
            "number_of_rooms",
            "initial_price",
            "rental_price",
            "number_of_rooms_confidence",
            "number_of_rooms_min",
            "number_of_rooms_max",
            "number_of_rooms_anomaly",
        ],
    )


@pytest.mark.parametrize(
    ("literal", "value", "kind"),
    [
        pytest.param("3000", 3000, LONG, id="integer"),
        pytest.param("-7", -7, LONG, id="negative-integer"),
        pytest.param("+5", 5, LONG, id="unary-plus"),
        pytest.param("-1.5", -1.5, SqlType.DOUBLE, id="negative-float"),
        pytest.param("0.10", 0.1, SqlType.DOUBLE, id="float"),
        pytest.param("1e3", 1000.0, SqlType.DOUBLE, id="exponent"),
        pytest.param("'o''brien'", "o'brien", TEXT, id="doubled-quote"),
        pytest.param("'o\\'brien'", "o'brien", TEXT, id="backslash-quote"),
        pytest.param('"it\'s"', "it's", TEXT, id="double-quoted-string"),
        pytest.param("'a\\nb'", "a\nb", TEXT, id="backslash-n"),
        pytest.param("''", "", TEXT, id="empty-string"),
        pytest.param("- -5", 5, LONG, id="double-minus"),
        pytest.param("-TRUE", -1, LONG, id="minus-true-is-minus-one"),
        pytest.param("-NULL", None, LONG, id="minus-null-is-null"),
        pytest.param("TRUE", True, SqlType.TINY, id="true"),
        pytest.param("NULL", None, LONG, id="null-keeps-declared-type"),
        pytest.param("0x10", 16, LONG, id="hexadecimal"),
        pytest.param(
            "99999999999999999999999",
            decimal.Decimal("99999999999999999999999"),
            SqlType.NEWDECIMAL,
            id="beyond-bigint-is-decimal",
        ),
        pytest.param(
            "DATE '2024-02-29'", dt.date(2024, 2, 29), SqlType.DATE, id="date"
        ),
        pytest.param(
            "TIMESTAMP '2024-02-29 10:11:12'",
            dt.datetime(2024, 2, 29, 10, 11, 12),
            SqlType.DATETIME,
            id="timestamp",
        ),
    ],
)
async def test_single_predict_literals(
    planner: Planner, literal: str, value: Any, kind: SqlType
) -> None:
    plan = await single_plan(
        planner, f"SELECT initial_price FROM p WHERE initial_price = {literal}"
    )

    given = plan.inputs["initial_price"]
    assert (given, type(given)) == (value, type(value))
    assert plan.inputs == {"initial_price": value, "rental_price": None}
    assert plan.outputs == [const("initial_price", value, kind)]


# Queries that read no predictor


@pytest.mark.parametrize(
    ("sql", "database", "expected"),
    [
        pytest.param(
            "SELECT * FROM mydb.test_data.home_rentals",
            None,
            "SELECT * FROM test_data.home_rentals",
            id="table",
        ),
        pytest.param(
            "SELECT sqft FROM home_rentals WHERE location = 'it''s'",
            "mydb",
            "SELECT sqft FROM home_rentals WHERE location = 'it''s'",
            id="table-in-database",
        ),
    ],
)
async def test_integration_tables_pass_through(
    planner: Planner, sql: str, database: str | None, expected: str
) -> None:
    plan = await plan_of(planner, sql, database)

    assert isinstance(plan, PassthroughPlan)
    assert (plan.source, plan.sql) == ("mydb", expected)


async def test_catalog_tables_are_evaluated_locally(planner: Planner) -> None:
    plan = await plan_of(planner, "SELECT name FROM mindsdb.predictors")

    assert isinstance(plan, CatalogPlan)
    assert plan.tables == ["predictors"]


# Refusals


def refused(
    sql: str, error: type[ByomError], message: str, id: str, xfail: str = ""
) -> Any:
    """A query the planner refuses with exactly this error and message."""
    marks = [pytest.mark.xfail(reason=xfail, strict=True)] if xfail else []
    return pytest.param(sql, error, message, id=id, marks=marks)


REFUSALS = [
    # Single-row predictions
    refused(
        "SELECT * FROM p WHERE initial_price = 3000 OR rental_price = 3000",
        NotSupportedError,
        "the WHERE of a query on predictor 'p' may only join 'column = value' "
        "with AND; got: initial_price = 3000 OR rental_price = 3000",
        id="single-or",
    ),
    refused(
        "SELECT * FROM p WHERE initial_price > 3000",
        NotSupportedError,
        "the WHERE of a query on predictor 'p' may only join 'column = value' "
        "with AND; got: initial_price > 3000",
        id="single-range",
    ),
    refused(
        "SELECT * FROM p",
        NotSupportedError,
        "a query on predictor 'p' needs a WHERE clause giving its inputs, "
        "e.g. WHERE col = 1 AND other = 'x'",
        id="single-missing-where",
    ),
    refused(
        "SELECT * FROM p WHERE initial_price = 1 AND Initial_Price = 2",
        NotSupportedError,
        "column 'initial_price' is given twice in the WHERE",
        id="single-input-given-twice",
    ),
    refused(
        "SELECT * FROM p WHERE initial_price = rental_price",
        NotSupportedError,
        "expected a constant value in the WHERE, got: initial_price = rental_price",
        id="single-column-equals-column",
    ),
    refused(
        "SELECT * FROM p WHERE initial_price = 1 AND 1 = 0",
        NotSupportedError,
        "expected 'column = value' in the WHERE, got: 1 = 0",
        id="single-constant-next-to-inputs",
    ),
    refused(
        "SELECT sqft FROM p WHERE initial_price = 1",
        UnknownColumnError,
        "Unknown column 'sqft' in predictor 'p' "
        "(columns: number_of_rooms, initial_price, rental_price)",
        id="single-unknown-column-selected",
    ),
    refused(
        "SELECT * FROM p WHERE sqft = 1",
        UnknownColumnError,
        "Unknown column 'sqft' in predictor 'p' "
        "(columns: number_of_rooms, initial_price, rental_price)",
        id="single-unknown-column-in-where",
    ),
    refused(
        "SELECT * FROM p WHERE number_of_rooms = initial_price",
        NotSupportedError,
        "expected 'input = value' in the WHERE, got: number_of_rooms = initial_price",
        id="single-target-equals-an-input",
    ),
    refused(
        "SELECT x.number_of_rooms + 1 FROM p WHERE initial_price = 1",
        UnknownColumnError,
        "Unknown column 'x.number_of_rooms'",
        id="single-unknown-qualifier-in-an-expression",
    ),
    refused(
        "SELECT number_of_rooms FROM p WHERE initial_price = 1 "
        "WINDOW w AS (ORDER BY number_of_rooms)",
        NotSupportedError,
        "WINDOW in a query on a predictor is not supported yet",
        id="single-window-clause",
    ),
    refused(
        "SELECT * FROM mindsdb.nope WHERE a = 1",
        UnknownTableError,
        "Table 'mindsdb.nope' doesn't exist",
        id="unknown-predictor",
    ),
    refused(
        "SELECT * FROM p WHERE initial_price = -'5'",
        NotSupportedError,
        "a minus sign before a string is not supported in the WHERE; write the "
        "number without quotes: initial_price = -'5'",
        id="single-negated-string",
    ),
    refused(
        "SELECT * FROM p WHERE 1 = 1.0",
        NotSupportedError,
        "expected 'column = value' in the WHERE, got: 1 = 1.0",
        id="single-true-constant-is-not-read-as-false",
    ),
    refused(
        "SELECT * FROM p WHERE 'a' = 'b'",
        NotSupportedError,
        "expected 'column = value' in the WHERE, got: 'a' = 'b'",
        id="single-string-constants-are-not-compared",
    ),
    refused(
        "SELECT * FROM p WHERE initial_price = 1 LIMIT @n",
        SqlSyntaxError,
        "You have an error in your SQL syntax; LIMIT takes a whole number of rows "
        "from 0 to 18446744073709551615, not @n",
        id="single-limit-not-a-number",
    ),
    refused(
        "SELECT * FROM p WHERE initial_price = (SELECT 1)",
        NotSupportedError,
        "subqueries in the WHERE of a query on a predictor are not supported yet: "
        "(SELECT 1)",
        id="single-subquery-in-where",
    ),
    refused(
        "SELECT (SELECT 1) FROM p WHERE initial_price = 1",
        NotSupportedError,
        "subqueries in the select list of a query on a predictor are not supported "
        "yet: (SELECT 1)",
        id="single-subquery-in-select-list",
    ),
    # Joins
    refused(
        f"SELECT t.sqft {JOIN} WHERE tb.initial_price = 1 AND tb.Initial_Price = 2",
        NotSupportedError,
        "input 'initial_price' is given twice in the query",
        id="join-constant-input-given-twice",
    ),
    refused(
        f"SELECT t.sqft, ROW_NUMBER() OVER w {JOIN} WINDOW w AS (ORDER BY t.sqft)",
        NotSupportedError,
        "WINDOW in a query on a predictor is not supported yet",
        id="join-window-clause",
    ),
    refused(
        f"SELECT t.sqft {JOIN} ORDER BY tb.nope",
        UnknownColumnError,
        "Unknown column 'tb.nope' in predictor 'p'",
        id="join-order-by-unknown-predictor-column",
    ),
    refused(
        f"SELECT t.sqft AS area {JOIN} WHERE area > 1",
        UnknownColumnError,
        "Unknown column 'area' in 'field list'",
        id="join-select-alias-in-where",
    ),
    refused(
        f"SELECT number_of_rooms {JOIN}",
        AmbiguousColumnError,
        "Column 'number_of_rooms' is ambiguous: it is in table 'home_rentals' "
        "and is an output of predictor 'p'",
        id="join-ambiguous-column",
    ),
    refused(
        f"SELECT t.sqft {JOIN} WHERE Number_Of_Rooms > 1",
        AmbiguousColumnError,
        "Column 'Number_Of_Rooms' is ambiguous: it is in table 'home_rentals' "
        "and is an output of predictor 'p'",
        id="join-ambiguous-column-in-where",
    ),
    refused(
        f"SELECT t.floor {JOIN}",
        UnknownColumnError,
        "Unknown column 't.floor' in 'home_rentals'",
        id="join-unknown-table-column",
    ),
    refused(
        f"SELECT floor {JOIN}",
        UnknownColumnError,
        "Unknown column 'floor' in 'field list'",
        id="join-unknown-unqualified-column",
    ),
    refused(
        f"SELECT tb.sqft {JOIN}",
        UnknownColumnError,
        "Unknown column 'tb.sqft' in predictor 'p'",
        id="join-unknown-predictor-column",
    ),
    refused(
        f"SELECT x.sqft {JOIN}",
        UnknownColumnError,
        "Unknown column 'x.sqft'",
        id="join-unknown-qualifier",
    ),
    refused(
        f"SELECT x.* {JOIN}",
        UnknownColumnError,
        "Unknown table 'x'",
        id="join-unknown-star-qualifier",
    ),
    refused(
        "SELECT b.rental_price FROM mydb.test_data.home_rentals AS t "
        "JOIN mindsdb.q AS b",
        UnknownColumnError,
        "predictor 'q' needs input 'floor', which table 'home_rentals' does not "
        "have; map a column to it with ON t.<column> = b.floor",
        id="join-model-input-missing-from-table",
    ),
    refused(
        "SELECT * FROM mydb.test_data.home_rentals AS t "
        "JOIN mydb.test_data.home_rentals AS u JOIN mindsdb.p AS a",
        NotSupportedError,
        "a query may join one table or subquery with predictors; "
        "other combinations are not supported yet",
        id="join-two-tables-and-a-predictor",
    ),
    refused(
        "SELECT * FROM mindsdb.p AS a JOIN mindsdb.q AS b",
        NotSupportedError,
        "a query may join one table or subquery with predictors; "
        "other combinations are not supported yet",
        id="two-predictors-without-a-table",
    ),
    refused(
        f"SELECT t.sqft {JOIN} ON t.sqft > tb.initial_price",
        NotSupportedError,
        "the ON of a join with a predictor may only map a table column to a model "
        "input (t.a = p.b) or give an input a constant (p.b = 1); got: "
        "t.sqft > tb.initial_price",
        id="join-on-not-an-equality",
    ),
    refused(
        f"SELECT t.sqft {JOIN} ON t.sqft = tb.number_of_rooms",
        NotSupportedError,
        "the ON of a join may map a table column to an input of predictor 'p', "
        "and 'number_of_rooms' is one of its outputs: t.sqft = tb.number_of_rooms",
        id="join-on-the-target",
    ),
    refused(
        f"SELECT t.sqft {JOIN} ON t.sqft = tb.initial_price WHERE tb.initial_price = 3",
        NotSupportedError,
        "input 'initial_price' is given twice in the query",
        id="join-on-and-constant-for-one-input",
    ),
    refused(
        "SELECT t.sqft FROM mydb.test_data.home_rentals AS t "
        "JOIN mindsdb.p AS tb USING (sqft)",
        NotSupportedError,
        "JOIN ... USING (column) with a predictor is not supported; "
        "write ON t.column = p.column",
        id="join-using-columns",
    ),
    refused(
        "SELECT t.sqft FROM mydb.test_data.home_rentals AS t NATURAL JOIN mindsdb.p",
        NotSupportedError,
        "NATURAL JOIN with a predictor is not supported; "
        "join without ON to match columns by name",
        id="natural-join",
    ),
    refused(
        "SELECT * FROM nodb.test_data.home_rentals AS t JOIN mindsdb.p",
        UnknownDatabaseError,
        "Unknown database 'nodb'",
        id="join-unknown-database",
    ),
    refused(
        "SELECT * FROM mydb.test_data.rentals AS t JOIN mindsdb.p",
        UnknownTableError,
        "Table 'mydb.test_data.rentals' doesn't exist",
        id="join-unknown-table",
    ),
    refused(
        f"SELECT t.sqft {JOIN} "
        "WHERE t.sqft > (SELECT AVG(sqft) FROM test_data.home_rentals)",
        NotSupportedError,
        "subqueries in the WHERE of a query on a predictor are not supported yet: "
        "(SELECT AVG(sqft) FROM test_data.home_rentals)",
        id="join-subquery-in-where",
    ),
    refused(
        f"SELECT t.sqft {JOIN} WHERE t.sqft IN (SELECT 5)",
        NotSupportedError,
        "subqueries in the WHERE of a query on a predictor are not supported yet: "
        "(SELECT 5)",
        id="join-subquery-without-tables-in-where",
    ),
    refused(
        "WITH s AS (SELECT 1) SELECT t.sqft FROM mydb.test_data.home_rentals AS t "
        "JOIN mindsdb.p",
        NotSupportedError,
        "subqueries in a WITH clause of a query on a predictor are not supported "
        "yet: SELECT 1",
        id="join-cte",
    ),
    refused(
        "SELECT * FROM (SELECT 1) AS s JOIN mindsdb.p",
        NotSupportedError,
        "a subquery joined with a predictor must read the tables of one "
        "integration only: SELECT 1",
        id="join-derived-table-without-tables",
    ),
    refused(
        "SELECT t.number_of_rooms FROM mydb.test_data.home_rentals AS t "
        "JOIN mindsdb.p AS t",
        NotUniqueTableError,
        "Not unique table/alias: 't'",
        id="join-same-alias-twice",
    ),
    refused(
        "SELECT t.sqft FROM mindsdb.p AS T JOIN mydb.test_data.home_rentals AS t",
        NotUniqueTableError,
        "Not unique table/alias: 'T'",
        id="join-aliases-differing-only-in-case",
    ),
    refused(
        f"SELECT t.sqft {JOIN} ORDER BY 2",
        UnknownColumnError,
        "Unknown column '2' in 'order clause'",
        id="join-order-by-position-out-of-range",
    ),
]


@pytest.mark.parametrize(("sql", "error", "message"), REFUSALS)
async def test_refusals(
    planner: Planner, sql: str, error: type[ByomError], message: str
) -> None:
    with pytest.raises(error) as caught:
        await plan_of(planner, sql)

    assert (type(caught.value), caught.value.message) == (error, message)
