"""A very long statement does not stall the other connections.

All connections share one event loop. A generated 600 KB ``IN (...)`` list took
about 2 s to parse (and seconds more to plan in a join with a predictor), and
``SELECT 1+1+...`` with 20,000 terms about 4 s to evaluate; before, every other
connection waited until they were done. Now all of it runs in a worker thread,
and a ``SELECT 1`` sent meanwhile on another connection is answered at once
(about 0.1-0.3 s while the GIL is shared). The bound below is generous; the
stall it replaces lasted seconds, and each statement still gives its exact
result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from byom.sources.demo import generate_rows
from tests.support.byom_process import ByomProcess
from tests.support.http_apps import ControlledModel
from tests.test_statements import create_sql

IN_LIST = 100_000
TERMS = 20_000
# Long enough after the long statement starts that it is being parsed.
PROBE_AFTER = 0.3
PROBE_BOUND = 1.0


def _in_list() -> tuple[str, list[tuple[Any, ...]]]:
    values = ",".join(str(i) for i in range(IN_LIST))
    sql = f"SELECT count(*) FROM mydb.test_data.home_rentals WHERE sqft IN ({values})"
    count = sum(1 for row in generate_rows() if 0 <= row[2] < IN_LIST)
    return sql, [(count,)]


def _sum_of_ones() -> tuple[str, list[tuple[Any, ...]]]:
    return "SELECT " + "+".join(["1"] * TERMS), [(TERMS,)]


def _join_in_list() -> tuple[str, list[tuple[Any, ...]]]:
    # Planned in a worker thread: the join copies and renders the whole list.
    values = ",".join(str(i) for i in range(IN_LIST))
    sql = (
        "SELECT count(*) FROM mydb.test_data.home_rentals AS t JOIN mindsdb.lp "
        f"AS p WHERE t.sqft IN ({values})"
    )
    count = sum(1 for row in generate_rows() if 0 <= row[2] < IN_LIST)
    return sql, [(count,)]


@pytest.fixture(scope="module")
def model() -> Iterator[ControlledModel]:
    served = ControlledModel()
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def with_predictor(server: ByomProcess, model: ControlledModel) -> ByomProcess:
    server.query(create_sql("lp", model, extra=", join_learn_process = true"))
    return server


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_in_list, id="600-kb-in-list"),
        pytest.param(_sum_of_ones, id="select-of-20000-terms"),
        pytest.param(_join_in_list, id="600-kb-in-list-in-a-join"),
    ],
)
def test_other_connections_are_answered_during_a_long_statement(
    with_predictor: ByomProcess, make: Any
) -> None:
    server = with_predictor
    sql, expected = make()
    assert len(sql) > 40_000
    outcome: dict[str, Any] = {}

    def run_long() -> None:
        outcome["rows"] = server.query(sql)
        outcome["finished"] = time.monotonic()

    with server.connect() as connection, connection.cursor() as cursor:
        long = threading.Thread(target=run_long)
        long.start()
        time.sleep(PROBE_AFTER)
        # Probes all along the long statement: parsing, planning and running.
        waits, probes = [], []
        while long.is_alive():
            sent = time.monotonic()
            cursor.execute("SELECT 1")
            probes.append(cursor.fetchall())
            waits.append((time.monotonic() - sent, time.monotonic()))
            time.sleep(0.05)
        long.join(timeout=120)

    assert probes and all(probe == ((1,),) for probe in probes)
    assert max(wait for wait, _ in waits) < PROBE_BOUND
    assert waits[0][1] < outcome["finished"], "the quick query waited for the long one"
    assert outcome["rows"] == expected
