"""Many clients at once: queries beyond the source's connections wait their turn.

A real byom with only two connections per source, and twenty-four clients
running the same JOIN through PyMySQL at the same time: every one gets the exact
rows, none fails on an exhausted connection pool, and none stalls until a pool
timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from byom.sources.demo import COLUMNS, generate_rows
from tests.support.byom_process import ByomProcess
from tests.support.http_apps import ControlledModel
from tests.test_statements import create_sql

CLIENTS = 24
JOIN = (
    "SELECT t.initial_price, p.number_of_rooms FROM mydb.test_data.home_rentals AS t "
    "JOIN mindsdb.busy AS p WHERE t.rental_price > 5300"
)


@pytest.fixture
def model() -> Iterator[ControlledModel]:
    served = ControlledModel()
    served.start()
    yield served
    served.stop()


def test_clients_beyond_the_source_connections_all_get_their_rows(
    byom_factory: Callable[..., ByomProcess], model: ControlledModel
) -> None:
    byom = byom_factory(extra={"source_connections": 2, "batch_rows": 100})
    byom.query(create_sql("busy", model, extra=", join_learn_process = true"))
    names = [name for name, _ in COLUMNS]
    price, rent = names.index("initial_price"), names.index("rental_price")
    expected = [
        (row[price], row[price] % 4) for row in generate_rows() if row[rent] > 5300
    ]

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda _: byom.query(JOIN), range(CLIENTS)))
    took = time.monotonic() - started

    assert len(expected) > 500
    assert all(rows == expected for rows in results)
    assert took < 60
    assert "QueuePool" not in byom.log()
