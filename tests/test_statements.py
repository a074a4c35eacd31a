"""The statement surface for predictors and integrations, over a real server.

Every statement form runs through PyMySQL against ``byom serve``, with exact
rows and error codes: the catalog tables, SHOW, DESCRIBE, DROP, RETRAIN, USE and
plain SELECTs on an integration, asynchronous training states, and secrets that
never show.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from byom import __version__
from byom.backends.call_options import CALL_OPTION_KEYS
from tests.support.byom_process import ByomProcess
from tests.support.http_apps import ControlledModel

DTYPES = (
    '{"number_of_rooms": "categorical", "initial_price": "integer", '
    '"rental_price": "integer"}'
)
TRAINING_QUERY = (
    "SELECT number_of_rooms, initial_price, rental_price FROM test_data.home_rentals"
)
COLUMNS = [
    "number_of_rooms",
    "initial_price",
    "rental_price",
    "number_of_rooms_confidence",
    "number_of_rooms_min",
    "number_of_rooms_max",
    "number_of_rooms_anomaly",
]


def create_sql(
    name: str,
    model: ControlledModel,
    *,
    head: str = "CREATE PREDICTOR",
    extra: str = "",
) -> str:
    return (
        f"{head} {name} FROM mydb ({TRAINING_QUERY}) PREDICT number_of_rooms "
        f"USING url.train = '{model.url('/train')}', "
        f"url.predict = '{model.url('/predict')}', dtype_dict = {DTYPES}, "
        f"format = 'ray_server'{extra}"
    )


def run(byom: ByomProcess, sql: str) -> list[tuple[Any, ...]]:
    return byom.query(sql)


@pytest.fixture
def model() -> Iterator[ControlledModel]:
    served = ControlledModel()
    served.start()
    yield served
    served.stop()


@pytest.fixture
def trained(byom: ByomProcess, model: ControlledModel) -> ByomProcess:
    """A server with predictor p trained on the demo data."""
    run(byom, create_sql("p", model, extra=", join_learn_process = true"))
    return byom


def test_predictors_table_shows_the_seed_columns(trained: ByomProcess) -> None:
    rows = run(
        trained,
        "SELECT name, status, accuracy, predict, update_status, mindsdb_version, "
        "error, select_data_query FROM mindsdb.predictors",
    )
    assert rows == [
        (
            "p",
            "complete",
            None,
            "number_of_rooms",
            "up_to_date",
            __version__,
            None,
            TRAINING_QUERY,
        )
    ]


def test_training_options_redact_urls_and_secrets(
    byom: ByomProcess, model: ControlledModel
) -> None:
    url = model.url("/train").replace("http://", "http://user:hunter2@")
    run(
        byom,
        create_sql("secretive", model, extra=", join_learn_process = true").replace(
            model.url("/train"), url + "?token=abc"
        ),
    )
    (options,) = run(
        byom, "SELECT training_options FROM mindsdb.predictors WHERE name='secretive'"
    )[0]
    assert "hunter2" not in options and "token=abc" not in options
    assert model.url("/train") in options
    assert "hunter2" not in byom.log()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param("SHOW PREDICTORS", ["a", "b", "p"], id="show-predictors"),
        pytest.param("SHOW MODELS", ["a", "b", "p"], id="show-models"),
        pytest.param("SHOW PREDICTORS LIKE 'p%'", ["p"], id="like"),
        pytest.param("SHOW MODELS LIKE '_'", ["a", "b", "p"], id="like-underscore"),
        pytest.param("SHOW PREDICTORS WHERE name <> 'p'", ["a", "b"], id="where"),
        pytest.param(
            "SHOW MODELS WHERE STATUS = 'complete' AND NAME IN ('a', 'p')",
            ["a", "p"],
            id="models-where",
        ),
        pytest.param(
            "SELECT NAME FROM mindsdb.models WHERE VERSION = 1 ORDER BY NAME DESC",
            ["p", "b", "a"],
            id="models-table",
        ),
        pytest.param(
            "SELECT name FROM mindsdb.models WHERE status = 'COMPLETE' "
            "AND name LIKE 'A%' OR version > 1 ORDER BY 1",
            ["a"],
            id="models-table-columns-in-lower-case",
        ),
        pytest.param(
            "SELECT max(name) FROM mindsdb.predictors GROUP BY status",
            ["p"],
            id="predictors-aggregate",
        ),
    ],
)
def test_show_predictors_and_models(
    trained: ByomProcess, model: ControlledModel, sql: str, expected: list[str]
) -> None:
    for name in ("a", "b"):
        run(trained, create_sql(name, model, extra=", join_learn_process = true"))
    assert [row[0] for row in run(trained, sql)] == expected


def test_describe_predictor(trained: ByomProcess, model: ControlledModel) -> None:
    with trained.connect() as connection, connection.cursor() as cursor:
        cursor.execute("DESCRIBE PREDICTOR mindsdb.p")
        names = [d[0] for d in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
    assert {
        k: row[k]
        for k in (
            "name",
            "status",
            "format",
            "target",
            "inputs",
            "outputs",
            "predict_url",
            "train_url",
            "integration",
            "select_data_query",
            "version",
            "update_status",
            "training_rows",
            "error",
        )
    } == {
        "name": "p",
        "status": "complete",
        "format": "ray_server",
        "target": "number_of_rooms",
        "inputs": "initial_price, rental_price",
        "outputs": "number_of_rooms bigint, number_of_rooms_confidence double, "
        "number_of_rooms_min double, number_of_rooms_max double, "
        "number_of_rooms_anomaly tinyint",
        "predict_url": model.url("/predict"),
        "train_url": model.url("/train"),
        "integration": "mydb",
        "select_data_query": TRAINING_QUERY,
        "version": 1,
        "update_status": "up_to_date",
        "training_rows": 5000,
        "error": None,
    }


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("DESCRIBE p", id="describe"),
        pytest.param("SHOW COLUMNS FROM p", id="show-columns"),
        pytest.param("SHOW FULL COLUMNS FROM p FROM mindsdb", id="show-full-columns"),
    ],
)
def test_predictor_columns(trained: ByomProcess, sql: str) -> None:
    assert [row[0] for row in run(trained, sql)] == COLUMNS


def test_where_false_returns_the_columns_and_no_row(trained: ByomProcess) -> None:
    with trained.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM p WHERE 1 = 0")
        assert [d[0] for d in cursor.description] == COLUMNS[:3]
        assert cursor.fetchall() == ()


@pytest.mark.parametrize(
    ("sql", "code", "message"),
    [
        pytest.param(
            "DROP PREDICTOR nothere",
            1146,
            "Predictor 'nothere' doesn't exist",
            id="drop-unknown",
        ),
        pytest.param(
            "DESCRIBE PREDICTOR nothere",
            1146,
            "Table 'mindsdb.nothere' doesn't exist",
            id="describe-unknown",
        ),
        pytest.param(
            "RETRAIN nothere",
            1146,
            "Table 'mindsdb.nothere' doesn't exist",
            id="retrain-unknown",
        ),
        pytest.param("USE nowhere", 1049, "Unknown database 'nowhere'", id="use"),
        pytest.param(
            "DROP DATABASE nowhere",
            1049,
            "Unknown database 'nowhere'",
            id="drop-database-unknown",
        ),
        pytest.param(
            "DROP DATABASE mindsdb",
            1235,
            "Database 'mindsdb' cannot be dropped",
            id="drop-project",
        ),
        pytest.param(
            "CREATE DATABASE mydb WITH ENGINE = 'sqlite', "
            'PARAMETERS = {"db_file": "/tmp/x.sqlite"}',
            1050,
            "Database 'mydb' already exists",
            id="create-database-twice",
        ),
        pytest.param(
            "CREATE DATABASE x WITH ENGINE = 'oracle', PARAMETERS = {}",
            1210,
            "ENGINE 'oracle' is not supported; use one of: mariadb, mysql, postgres, "
            "sqlite",
            id="unknown-engine",
        ),
        pytest.param(
            'CREATE DATABASE x WITH ENGINE = \'mysql\', PARAMETERS = {"host": "h"}',
            1210,
            "PARAMETERS for ENGINE 'mysql' lack: user",
            id="missing-parameter",
        ),
        pytest.param(
            "SELECT * FROM mydb.test_data.nope",
            1146,
            "Table 'mydb.test_data.nope' doesn't exist",
            id="passthrough-unknown-table",
        ),
    ],
)
def test_refusals(trained: ByomProcess, sql: str, code: int, message: str) -> None:
    assert trained.error(sql) == (code, message)
    assert run(trained, "SELECT 1") == [(1,)]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            "batch_rows = 0",
            "USING batch_rows must be a positive integer (rows per predict call), "
            "not 0",
            id="batch-rows-zero",
        ),
        pytest.param(
            "batch_rows = 'x'",
            "USING batch_rows must be a positive integer (rows per predict call), "
            "not 'x'",
            id="batch-rows-text",
        ),
        pytest.param(
            "batch_bytes = -1",
            "USING batch_bytes must be an integer, 0 or more (bytes, 0 for no byte "
            "limit), not -1",
            id="batch-bytes-negative",
        ),
        pytest.param(
            "calls_in_flight = 1.5",
            "USING calls_in_flight must be a positive integer (predict calls at "
            "once), not 1.5",
            id="calls-in-flight-fraction",
        ),
        pytest.param(
            "predict_timeout = 0",
            "USING predict_timeout must be a positive number (seconds), not 0",
            id="predict-timeout-zero",
        ),
    ],
)
def test_call_options_are_checked_at_create(
    byom: ByomProcess, model: ControlledModel, extra: str, message: str
) -> None:
    assert byom.error(create_sql("sized", model, extra=f", {extra}")) == (
        1210,
        message,
    )
    assert run(byom, "SHOW PREDICTORS") == []


def test_call_options_are_stored_and_shown(
    byom: ByomProcess, model: ControlledModel
) -> None:
    extra = (
        ", batch_rows = 100, batch_bytes = 0, calls_in_flight = 2, "
        "predict_timeout = 3, join_learn_process = true"
    )
    run(byom, create_sql("sized", model, extra=extra))

    ((options,),) = run(
        byom, "SELECT training_options FROM mindsdb.predictors WHERE name='sized'"
    )
    given = json.loads(options)
    assert {key: given[key] for key in CALL_OPTION_KEYS} == {
        "batch_rows": 100,
        "batch_bytes": 0,
        "calls_in_flight": 2,
        "predict_timeout": 3.0,
    }
    assert run(
        byom, "SELECT * FROM sized WHERE initial_price = 5 AND rental_price = 1"
    ) == [(1, 5, 1)]


def test_retrain_checks_call_options_too(trained: ByomProcess) -> None:
    assert trained.error("RETRAIN p USING batch_rows = 0") == (
        1210,
        "USING batch_rows must be a positive integer (rows per predict call), not 0",
    )
    assert run(trained, "SELECT status, update_status FROM mindsdb.predictors") == [
        ("complete", "up_to_date")
    ]


def test_drop_predictor(trained: ByomProcess) -> None:
    run(trained, "DROP PREDICTOR p")
    assert run(trained, "SHOW PREDICTORS") == []
    assert trained.error("SELECT * FROM p WHERE initial_price = 1") == (
        1146,
        "Table 'mindsdb.p' doesn't exist",
    )
    run(trained, "DROP PREDICTOR IF EXISTS p")
    run(trained, "DROP MODEL IF EXISTS mindsdb.p")


@pytest.mark.parametrize(
    ("head", "extra"),
    [
        pytest.param("CREATE MODEL", "", id="create-model"),
        pytest.param("CREATE PREDICTOR mindsdb.", "", id="project-prefix"),
        pytest.param("CREATE PREDICTOR IF NOT EXISTS", "", id="if-not-exists"),
        pytest.param("CREATE OR REPLACE PREDICTOR", "", id="or-replace"),
    ],
)
def test_create_forms(
    byom: ByomProcess, model: ControlledModel, head: str, extra: str
) -> None:
    name = "q"
    sql = create_sql(name, model, head=head, extra=", join_learn_process = true")
    sql = sql.replace(f"{head} {name}", f"{head}{'' if head.endswith('.') else ' '}q")
    run(byom, sql)
    if "NOT EXISTS" in head or "REPLACE" in head:
        run(byom, sql)
    assert run(byom, "SELECT name, status FROM mindsdb.predictors") == [
        ("q", "complete")
    ]
    assert run(
        byom, "SELECT * FROM q WHERE initial_price = 5 AND rental_price = 1"
    ) == [(1, 5, 1)]


def test_dtype_dict_as_a_quoted_string_means_the_same(
    byom: ByomProcess, model: ControlledModel
) -> None:
    quoted = create_sql("s", model, extra=", join_learn_process = true").replace(
        f"dtype_dict = {DTYPES}", f"dtype_dict = '{DTYPES}'"
    )
    run(byom, quoted)
    run(byom, create_sql("o", model, extra=", join_learn_process = true"))
    assert run(byom, "DESCRIBE s") == run(byom, "DESCRIBE o")


def test_training_is_asynchronous_and_its_states_are_visible(
    byom_factory: Callable[..., ByomProcess], model: ControlledModel
) -> None:
    byom = byom_factory(extra={"training_wait": 0})
    model.hold()
    started = time.monotonic()
    run(byom, create_sql("slow", model))
    assert time.monotonic() - started < 5
    assert model.train_started.wait(10)

    assert run(
        byom, "SELECT status, update_status FROM mindsdb.predictors WHERE name='slow'"
    ) == [("training", "up_to_date")]
    assert byom.error("SELECT * FROM slow WHERE initial_price = 1") == (
        1105,
        "predictor 'slow' is still training; query it when its status is 'complete'",
    )

    model.release()
    byom.wait_for_status("slow", "complete")
    assert run(
        byom, "SELECT * FROM slow WHERE initial_price = 2 AND rental_price = 1"
    ) == [(2, 2, 1)]


def test_a_query_waits_for_training_under_way(
    byom: ByomProcess, model: ControlledModel
) -> None:
    model.hold()
    run(byom, create_sql("w", model))
    assert model.train_started.wait(10)
    # release() waits on the model's own loop, so it is called from a thread.
    threading.Timer(1.0, model.release).start()
    assert run(
        byom, "SELECT * FROM w WHERE initial_price = 3 AND rental_price = 1"
    ) == [(3, 3, 1)]


def test_retrain_keeps_the_old_version_until_the_new_one_is_ready(
    trained: ByomProcess, model: ControlledModel
) -> None:
    newer = ControlledModel(offset=1)
    newer.start()
    try:
        newer.hold()
        run(
            trained,
            f"RETRAIN p USING url.train = '{newer.url('/train')}', "
            f"url.predict = '{newer.url('/predict')}'",
        )
        assert newer.train_started.wait(10)
        query = "SELECT number_of_rooms FROM p WHERE initial_price = 4"
        assert run(trained, query) == [(0,)]
        assert run(
            trained,
            "SELECT STATUS, UPDATE_STATUS, VERSION FROM mindsdb.models WHERE NAME='p'",
        ) == [("complete", "updating", 1)]

        newer.release()
        deadline = time.monotonic() + 30
        while run(trained, query) != [(1,)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run(trained, query) == [(1,)]
        assert run(
            trained,
            "SELECT STATUS, UPDATE_STATUS, VERSION FROM mindsdb.models WHERE NAME='p'",
        ) == [("complete", "up_to_date", 2)]
    finally:
        newer.stop()


def test_failed_retrain_keeps_the_old_version_and_shows_the_error(
    trained: ByomProcess, model: ControlledModel
) -> None:
    model.stop()
    replacement = ControlledModel()
    replacement.start()
    try:
        dead = model.url("/train")
        run(trained, "RETRAIN p")
        deadline = time.monotonic() + 30
        sql = "SELECT status, update_status, error FROM mindsdb.predictors"
        while run(trained, sql)[0][1] == "updating" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run(trained, sql) == [
            (
                "complete",
                "update_failed",
                f"predictor 'p': cannot connect to model endpoint {dead}: "
                "Connection refused",
            )
        ]
    finally:
        replacement.stop()


def test_integrations_show_use_and_passthrough(byom: ByomProcess) -> None:
    assert [r[0] for r in run(byom, "SHOW DATABASES")] == [
        "information_schema",
        "mindsdb",
        "mydb",
        "mysql",
    ]
    assert run(byom, "SHOW TABLES FROM mydb") == [("test_data.home_rentals",)]

    demo = byom.data_dir / "demo" / "test_data.sqlite"
    with sqlite3.connect(demo) as db:
        expected = db.execute(
            "SELECT sqft, location FROM home_rentals WHERE sqft > 1000 "
            "ORDER BY sqft DESC LIMIT 3"
        ).fetchall()

    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute("USE mydb")
        cursor.execute(
            "SELECT sqft, location FROM test_data.home_rentals WHERE sqft > 1000 "
            "ORDER BY sqft DESC LIMIT 3"
        )
        assert list(cursor.fetchall()) == expected
        cursor.execute("SELECT COUNT(*) AS n FROM test_data.home_rentals")
        assert cursor.fetchall() == ((5000,),)


def test_create_and_drop_database_with_a_password_never_shown(
    byom: ByomProcess, request: pytest.FixtureRequest
) -> None:
    mariadb = request.getfixturevalue("mariadb")
    run(
        byom,
        "CREATE DATABASE IF NOT EXISTS maria WITH ENGINE = 'mysql', PARAMETERS = "
        f'{{"host": "127.0.0.1", "port": {mariadb.port}, "user": "{mariadb.user}", '
        f'"password": "{mariadb.password}", "database": "test_data"}}',
    )
    assert run(byom, "SELECT * FROM mindsdb.databases WHERE name = 'maria'") == [
        ("maria", "mysql", "127.0.0.1", mariadb.port, mariadb.user)
    ]
    assert run(byom, "SELECT COUNT(*) FROM maria.home_rentals") == [(5037,)]
    assert "home_rentals" in [r[0] for r in run(byom, "SHOW TABLES FROM maria")]
    assert mariadb.password not in byom.log()

    run(byom, "DROP DATABASE maria")
    assert byom.error("SELECT COUNT(*) FROM maria.home_rentals") == (
        1049,
        "Unknown database 'maria'",
    )
    run(byom, "DROP DATABASE IF EXISTS maria")


# Durability: a server killed with SIGKILL keeps every committed predictor.


def catalog_is_sound(byom: ByomProcess) -> None:
    with sqlite3.connect(byom.data_dir / "catalog.sqlite") as catalog:
        assert catalog.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_sigkill_during_retrain_keeps_the_old_version(
    trained: ByomProcess, model: ControlledModel
) -> None:
    query = "SELECT number_of_rooms FROM p WHERE initial_price = 5"
    model.hold()
    run(trained, "RETRAIN p")
    assert model.train_started.wait(10)
    trained.stop(signal.SIGKILL)
    model.release()
    catalog_is_sound(trained)

    trained.start()

    assert run(
        trained,
        "SELECT status, update_status, error FROM mindsdb.predictors WHERE name='p'",
    ) == [
        ("complete", "update_failed", "retraining was interrupted by a server restart")
    ]
    assert run(trained, "SELECT VERSION FROM mindsdb.models WHERE NAME='p'") == [(1,)]
    assert run(trained, query) == [(1,)]


def test_sigkill_after_drop_and_create_keeps_what_was_committed(
    trained: ByomProcess, model: ControlledModel
) -> None:
    run(trained, create_sql("kept", model, extra=", join_learn_process = true"))
    run(trained, "DROP PREDICTOR p")
    trained.stop(signal.SIGKILL)
    catalog_is_sound(trained)

    trained.start()

    assert run(trained, "SELECT name, status FROM mindsdb.predictors") == [
        ("kept", "complete")
    ]
    assert run(trained, "SELECT * FROM kept WHERE initial_price = 6") == [(2, 6, None)]
