"""The seed flow end to end: real clients, real databases, a real Ray Serve model.

The three statements run verbatim (only the model's port changes when 8000 is
taken) through the mariadb CLI and through PyMySQL, against the embedded SQLite
demo and against real MariaDB and PostgreSQL servers loaded with the public
home-rentals data. Every answer is checked against the same scikit-learn model
trained offline on the same rows.
"""

from __future__ import annotations

import re
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pymysql
import pytest

from tests.support.byom_process import ByomProcess
from tests.support.http_apps import RecordingProxy
from tests.support.mariadb import MariaDBServer
from tests.support.postgres import PostgresServer
from tests.support.ray_backend import RayServeProcess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "ray_serve"))
import training  # noqa: E402

CREATE = """CREATE PREDICTOR byom FROM mydb (
    SELECT number_of_rooms, initial_price, rental_price FROM test_data.home_rentals
) PREDICT number_of_rooms
USING url.train = 'http://127.0.0.1:8000/my_model/train',
      url.predict = 'http://127.0.0.1:8000/my_model/predict',
      dtype_dict = {"number_of_rooms": "categorical", "initial_price": "integer",
                    "rental_price": "integer"},
      format = 'ray_server';"""
SINGLE = "SELECT * FROM byom WHERE initial_price = 3000 AND rental_price = 3000;"
JOIN = """SELECT tb.number_of_rooms, t.rental_price
FROM mydb.test_data.home_rentals AS t JOIN mindsdb.byom AS tb
WHERE t.rental_price > 5300;"""
TRAINING_QUERY = (
    "SELECT number_of_rooms, initial_price, rental_price FROM test_data.home_rentals"
)
JOIN_QUERY = (
    "SELECT initial_price, rental_price FROM test_data.home_rentals "
    "WHERE rental_price > 5300"
)


_CURSOR = re.compile(r'^DECLARE "[^"]+" (?:NO SCROLL )?CURSOR (?:WITH HOLD )?FOR ')


def seed_statements(ray: RayServeProcess) -> tuple[str, str, str]:
    """The seed statements, pointed at the Ray server actually running."""
    create = CREATE.replace("http://127.0.0.1:8000/my_model", ray.base_url)
    return create, SINGLE, JOIN


def mysql_double(value: float) -> str:
    """How MySQL prints a DOUBLE in a text result."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


class Source:
    """Where the seed's table lives, and how to read it directly."""

    def __init__(self, name: str, rows: Callable[[str], list[tuple[Any, ...]]]):
        self.name = name
        self.rows = rows


def demo_source(byom: ByomProcess) -> Source:
    path = byom.data_dir / "demo" / "test_data.sqlite"

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as db:
            return db.execute(sql.replace("test_data.", "")).fetchall()

    return Source("sqlite", rows)


def mariadb_source(byom: ByomProcess, server: MariaDBServer) -> Source:
    byom.query(
        "CREATE DATABASE mydb WITH ENGINE = 'mysql', PARAMETERS = "
        f'{{"host": "127.0.0.1", "port": {server.port}, "user": "{server.user}", '
        f'"password": "{server.password}", "database": "test_data"}}'
    )

    def rows(sql: str) -> list[tuple[Any, ...]]:
        connection = pymysql.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
        )
        with connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    return Source("mariadb", rows)


def postgres_source(byom: ByomProcess, server: PostgresServer) -> Source:
    byom.query(
        "CREATE DATABASE mydb WITH ENGINE = 'postgres', PARAMETERS = "
        f'{{"host": "127.0.0.1", "port": {server.port}, "user": "{server.user}", '
        f'"password": "{server.password}", "database": "{server.database}"}}'
    )

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            dbname=server.database,
        ) as connection:
            return list(connection.execute(sql).fetchall())

    return Source("postgres", rows)


def expected_answers(
    source: Source,
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The seed's single-row and JOIN answers from the same model trained offline."""
    frame = pd.DataFrame(
        source.rows(TRAINING_QUERY),
        columns=["number_of_rooms", "initial_price", "rental_price"],
    )
    model, features = training.fit(frame, "number_of_rooms")

    single = pd.DataFrame([{"initial_price": 3000, "rental_price": 3000}])
    label = training.predict(model, features, single)[0]
    inputs = source.rows(JOIN_QUERY)
    joined = pd.DataFrame(inputs, columns=["initial_price", "rental_price"])
    labels = training.predict(model, features, joined)
    rows = [(int(lab), row[1]) for lab, row in zip(labels, inputs, strict=True)]
    return (int(label), 3000, 3000), rows


@pytest.fixture(params=["sqlite", "mariadb", "postgres"])
def seeded(
    request: pytest.FixtureRequest,
    byom_factory: Callable[..., ByomProcess],
) -> tuple[ByomProcess, Source]:
    """A byom server whose `mydb` is the demo SQLite or the real MariaDB."""
    if request.param == "sqlite":
        byom = byom_factory()
        return byom, demo_source(byom)
    byom = byom_factory(demo=False)
    if request.param == "postgres":
        return byom, postgres_source(byom, request.getfixturevalue("postgres"))
    return byom, mariadb_source(byom, request.getfixturevalue("mariadb"))


def test_seed_statements_through_pymysql(
    seeded: tuple[ByomProcess, Source], ray_serve: RayServeProcess
) -> None:
    byom, source = seeded
    create, single, join = seed_statements(ray_serve)
    expected_single, expected_join = expected_answers(source)

    with byom.connect() as connection, connection.cursor() as cursor:
        assert cursor.execute(create) == 0
        cursor.execute(single)
        assert [d[0] for d in cursor.description] == [
            "number_of_rooms",
            "initial_price",
            "rental_price",
        ]
        assert cursor.fetchall() == (expected_single,)
        cursor.execute(join)
        assert [d[0] for d in cursor.description] == [
            "number_of_rooms",
            "rental_price",
        ]
        assert list(cursor.fetchall()) == expected_join
    assert len(expected_join) > 100


def test_seed_statements_through_mariadb_cli(
    seeded: tuple[ByomProcess, Source], ray_serve: RayServeProcess
) -> None:
    byom, source = seeded
    expected_single, expected_join = expected_answers(source)

    done = byom.cli("\n\n".join(seed_statements(ray_serve)) + "\n")

    lines = done.stdout.splitlines()
    assert lines[0] == "number_of_rooms\tinitial_price\trental_price"
    assert lines[1] == "\t".join(str(v) for v in expected_single)
    assert lines[2] == "number_of_rooms\trental_price"
    printed = [
        f"{rooms}\t{mysql_double(price) if isinstance(price, float) else price}"
        for rooms, price in expected_join
    ]
    assert lines[3:] == printed
    assert done.stderr == ""


@pytest.mark.parametrize("engine", ["mariadb", "postgres"])
def test_join_filter_runs_in_the_source_and_model_gets_only_inputs(
    engine: str,
    request: pytest.FixtureRequest,
    ray_serve: RayServeProcess,
    byom_factory: Callable[..., ByomProcess],
) -> None:
    byom = byom_factory(demo=False, extra={"batch_rows": 1000})
    server = request.getfixturevalue(engine)
    make_source = mariadb_source if engine == "mariadb" else postgres_source
    source = make_source(byom, server)
    proxy = RecordingProxy(ray_serve.base_url)
    proxy.start()
    try:
        create = CREATE.replace("http://127.0.0.1:8000/my_model", proxy.url(""))
        byom.query(create)
        # Training runs in the background and reads the source too.
        byom.wait_for_status("byom", "complete")
        server.mark()
        rows = byom.query(JOIN)
    finally:
        proxy.stop()

    # PostgreSQL logs a server-side cursor as DECLARE ... CURSOR FOR <query>.
    statements = [_CURSOR.sub("", s) for s in server.general_log()]
    fetches = [s for s in statements if s.startswith("SELECT") and "home_rentals" in s]
    assert fetches == [
        "SELECT t.rental_price, t.initial_price FROM test_data.home_rentals AS t "
        "WHERE t.rental_price > 5300"
    ]
    frames = proxy.frames("/predict")
    inputs = source.rows(JOIN_QUERY)
    assert [len(frame) for frame in frames] == [
        min(1000, len(inputs) - start) for start in range(0, len(inputs), 1000)
    ]
    sent = [record for frame in frames for record in frame]
    assert sent == [
        {"initial_price": price, "rental_price": rent} for price, rent in inputs
    ]
    assert len(rows) == len(inputs)
    trained = proxy.frames("/train")
    assert len(trained) == 1
    assert list(trained[0][0]) == ["number_of_rooms", "initial_price", "rental_price"]
