"""KILL QUERY: the query ends with MySQL's 1317 and its model call is dropped.

A real byom and PyMySQL against a model endpoint that never answers but
watches its connection: after KILL QUERY from a second client, the first gets
1317 and can go on, and the endpoint sees byom close the call's connection.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pymysql
import pytest
from aiohttp import web

from tests.support.byom_process import ByomProcess
from tests.support.http_apps import BackgroundApp


class WatchingModel(BackgroundApp):
    """Trains at once; a predict call hangs and records when byom drops it."""

    def __init__(self) -> None:
        super().__init__()
        self.predict_started = threading.Event()
        self.predict_dropped = threading.Event()

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/train", self._train)
        app.router.add_post("/predict", self._predict)
        return app

    async def _train(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "ok"})

    async def _predict(self, request: web.Request) -> web.Response:
        await request.read()
        self.predict_started.set()
        for _ in range(400):
            transport = request.transport
            if transport is None or transport.is_closing():
                self.predict_dropped.set()
                break
            await asyncio.sleep(0.05)
        return web.json_response({"prediction": [1.0]})


@pytest.fixture
def model() -> Iterator[WatchingModel]:
    served = WatchingModel()
    served.start()
    yield served
    served.stop()


def test_kill_query_answers_1317_and_drops_the_model_call(
    byom: ByomProcess, model: WatchingModel
) -> None:
    byom.query(
        "CREATE PREDICTOR slow FROM mydb (SELECT number_of_rooms, initial_price, "
        "rental_price FROM test_data.home_rentals) PREDICT number_of_rooms USING "
        f"url.train = '{model.url('/train')}', url.predict = '{model.url('/predict')}'"
        ', dtype_dict = {"number_of_rooms": "integer", "initial_price": "integer", '
        '"rental_price": "integer"}, format = \'ray_server\', join_learn_process = true'
    )
    victim = byom.connect()
    victim_id = victim.thread_id()

    def run() -> tuple[int, str]:
        with victim.cursor() as cursor, pytest.raises(pymysql.err.MySQLError) as got:
            cursor.execute(
                "SELECT number_of_rooms FROM slow WHERE initial_price = 1 "
                "AND rental_price = 2"
            )
        return got.value.args[0], got.value.args[1]

    with ThreadPoolExecutor(1) as pool:
        outcome = pool.submit(run)
        assert model.predict_started.wait(10)
        started = time.monotonic()
        byom.query(f"KILL QUERY {victim_id}")
        assert outcome.result(10) == (1317, "Query execution was interrupted")
    took = time.monotonic() - started

    assert model.predict_dropped.wait(5)
    assert took < 3
    with victim.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == ((1,),)
    victim.close()


def test_kill_query_of_an_idle_connection_leaves_it_open(byom: ByomProcess) -> None:
    # MySQL answers OK and the idle connection goes on as if nothing happened;
    # stock mimic ended it.
    with byom.connect() as victim, byom.connect() as killer:
        victim_id = victim.thread_id()
        with killer.cursor() as cursor:
            assert cursor.execute(f"KILL QUERY {victim_id}") == 0
        with victim.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID(), 1 + 1")
            assert cursor.fetchall() == ((victim_id, 2),)
        with killer.cursor() as cursor:
            cursor.execute("SHOW PROCESSLIST")
            ids = sorted(row[0] for row in cursor.fetchall())
        assert ids == sorted([victim_id, killer.thread_id()])


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("KILL {}", id="kill"),
        pytest.param("KILL CONNECTION {}", id="kill-connection"),
    ],
)
def test_kill_connection_of_an_idle_connection_ends_it(
    byom: ByomProcess, statement: str
) -> None:
    with byom.connect() as victim, byom.connect() as killer:
        victim_id = victim.thread_id()
        with killer.cursor() as cursor:
            assert cursor.execute(statement.format(victim_id)) == 0

        with victim.cursor() as cursor, pytest.raises(pymysql.err.MySQLError) as got:
            cursor.execute("SELECT 1")
        assert got.value.args == (2013, "Lost connection to MySQL server during query")
        assert _processlist_ids(killer) == [killer.thread_id()]


def _processlist_ids(connection: pymysql.connections.Connection[Any]) -> list[int]:
    # The killed connection leaves the list once the server has closed it.
    deadline = time.monotonic() + 5
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SHOW PROCESSLIST")
            ids = sorted(row[0] for row in cursor.fetchall())
        if len(ids) == 1 or time.monotonic() > deadline:
            return ids
        time.sleep(0.05)


def test_kill_query_of_the_own_connection_interrupts_the_kill(
    byom: ByomProcess,
) -> None:
    with byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as got:
            cursor.execute(f"KILL QUERY {connection.thread_id()}")
        assert got.value.args == (1317, "Query execution was interrupted")

        cursor.execute("SELECT CONNECTION_ID()")
        assert cursor.fetchall() == ((connection.thread_id(),),)
