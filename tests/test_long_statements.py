"""A very long statement does not stall the other connections.

All connections share one event loop. A generated 600 KB ``IN (...)`` list took
about 2 s to parse, and ``SELECT 1+1+...`` with 20,000 terms about 4 s to
evaluate; before, every other connection waited until they were done. Now both
run in a worker thread, and a ``SELECT 1`` sent meanwhile on another connection
is answered at once (about 0.1-0.3 s while the GIL is shared). The bound below
is generous; the stall it replaces lasted seconds, and each statement still
gives its exact result.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from byom.sources.demo import generate_rows
from tests.support.byom_process import ByomProcess

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


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_in_list, id="600-kb-in-list"),
        pytest.param(_sum_of_ones, id="select-of-20000-terms"),
    ],
)
def test_other_connections_are_answered_during_a_long_statement(
    server: ByomProcess, make: Any
) -> None:
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
        sent = time.monotonic()
        cursor.execute("SELECT 1")
        probe = cursor.fetchall()
        answered = time.monotonic()
        long.join(timeout=120)

    assert probe == ((1,),)
    assert answered - sent < PROBE_BOUND
    assert answered < outcome["finished"], "the quick query waited for the long one"
    assert outcome["rows"] == expected
