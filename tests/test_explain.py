"""EXPLAIN: the plan of a query, with nothing fetched and no model called."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.byom_process import ByomProcess
from tests.support.fault_apps import ScriptedEndpoints
from tests.test_backend_faults import create_sql, endpoint


@pytest.fixture(scope="module")
def server(fake: ScriptedEndpoints) -> Iterator[ByomProcess]:
    byom = ByomProcess(extra={"batch_rows": 500, "calls_in_flight": 3})
    byom.start()
    url = endpoint(fake, "plan", "ray_server")
    secret = url.replace("http://", "http://me:pw@") + "?token=t"
    byom.query(create_sql("plan", "ray_server", url).replace(f"'{url}'", f"'{secret}'"))
    yield byom
    byom.cleanup()


@pytest.mark.parametrize(
    ("sql", "lines"),
    [
        pytest.param(
            "EXPLAIN SELECT t.sqft, p.number_of_rooms FROM mydb.test_data.home_rentals "
            "AS t JOIN mindsdb.plan AS p WHERE t.rental_price > 5300 LIMIT 5",
            [
                "fetch from mydb: SELECT t.sqft, t.initial_price, t.rental_price FROM "
                "test_data.home_rentals AS t WHERE t.rental_price > 5300 LIMIT 5",
                "predict with plan (ray_server at {url}): inputs initial_price, "
                "rental_price; 500 rows per call, 3 calls in flight",
                "output: sqft, number_of_rooms",
            ],
            id="join-pushed",
        ),
        pytest.param(
            "EXPLAIN SELECT p.number_of_rooms, COUNT(*) AS n FROM "
            "mydb.test_data.home_rentals AS t JOIN mindsdb.plan AS p "
            "GROUP BY p.number_of_rooms",
            [
                "fetch from mydb: SELECT t.initial_price, t.rental_price FROM "
                "test_data.home_rentals AS t",
                "predict with plan (ray_server at {url}): inputs initial_price, "
                "rental_price; 500 rows per call, 3 calls in flight",
                "after prediction, in DuckDB over all joined rows (at most 1000000): "
                "SELECT p.number_of_rooms AS number_of_rooms, COUNT(*) AS n FROM "
                "source_rows AS t POSITIONAL JOIN predictions AS p "
                "GROUP BY p.number_of_rooms",
            ],
            id="join-local-step",
        ),
        pytest.param(
            "EXPLAIN SELECT * FROM plan WHERE initial_price = 1 AND rental_price = 2",
            [
                "predict 1 row with plan (ray_server at {url})",
                "output: number_of_rooms, initial_price, rental_price",
            ],
            id="single-row",
        ),
    ],
)
def test_explain_prints_the_plan_without_running_it(
    server: ByomProcess,
    fake: ScriptedEndpoints,
    sql: str,
    lines: list[str],
) -> None:
    calls = len(fake.calls("plan"))

    with server.connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        header = [d[0] for d in cursor.description]
        got = [row[0] for row in cursor.fetchall()]

    url = endpoint(fake, "plan", "ray_server")
    assert header == ["EXPLAIN"]
    assert got == [line.format(url=url) for line in lines]
    assert "pw" not in " ".join(got) and "token" not in " ".join(got)
    assert len(fake.calls("plan")) == calls
