"""Bad input and failing models get a clear MySQL error, and the server goes on.

Each case asserts the exact error code and the culprit named in the message,
then checks that the same connection and other clients still work.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests.support.byom_process import ByomProcess
from tests.support.http_apps import GatedModel, ScriptedModel
from tests.support.procs import free_port

DTYPES = (
    '{"number_of_rooms": "categorical", "initial_price": "integer", '
    '"rental_price": "integer"}'
)


def create_sql(name: str, train: str, predict: str, **using: str) -> str:
    """A seed-shaped CREATE PREDICTOR with the given URLs and USING overrides."""
    items = {
        "url.train": f"'{train}'",
        "url.predict": f"'{predict}'",
        "dtype_dict": DTYPES,
        "format": "'ray_server'",
        **using,
    }
    listed = ", ".join(f"{k} = {v}" for k, v in items.items() if v)
    return (
        f"CREATE PREDICTOR {name} FROM mydb (SELECT number_of_rooms, initial_price, "
        f"rental_price FROM test_data.home_rentals) PREDICT number_of_rooms "
        f"USING {listed}"
    )


def error_of(byom: ByomProcess, sql: str) -> tuple[int, str]:
    """Run sql, expecting an error; return (code, message)."""
    with byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(sql)
        code, message = caught.value.args[0], caught.value.args[1]
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == ((1,),), "the connection must keep working"
    return code, message


@pytest.fixture
def working_model() -> Iterator[GatedModel]:
    model = GatedModel()
    model.start()
    model.open()
    yield model
    model.stop()


def test_refused_predict_url_names_the_url_and_others_keep_working(
    byom: ByomProcess, working_model: GatedModel
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/my_model/predict"
    byom.query(create_sql("dead", working_model.url("/train"), dead))
    byom.query(
        create_sql("alive", working_model.url("/train"), working_model.url("/predict"))
    )

    code, message = error_of(
        byom, "SELECT * FROM dead WHERE initial_price = 1 AND rental_price = 2"
    )
    assert code == 1429
    assert message == (
        f"predictor 'dead': cannot connect to model endpoint {dead}: Connection refused"
    )

    with byom.connect() as other, other.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM alive WHERE initial_price = 7 AND rental_price = 2"
        )
        assert cursor.fetchall() == ((3, 7, 2),)


def test_refused_train_url_is_recorded_as_the_training_error(
    byom: ByomProcess,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    byom.query(create_sql("untrained", f"{dead}/train", f"{dead}/predict"))
    refused = (
        f"predictor 'untrained': cannot connect to model endpoint {dead}/train: "
        "Connection refused"
    )

    code, message = error_of(
        byom, "SELECT * FROM untrained WHERE initial_price = 1 AND rental_price = 2"
    )
    assert (code, message) == (
        1105,
        f"predictor 'untrained' failed to train: {refused}",
    )
    assert byom.query(
        "SELECT status, error FROM mindsdb.predictors WHERE name = 'untrained'"
    ) == [("error", refused)]


def test_join_learn_process_reports_the_training_error_at_create(
    byom: ByomProcess,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    sql = create_sql(
        "waited", f"{dead}/train", f"{dead}/predict", join_learn_process="true"
    )
    assert error_of(byom, sql) == (
        1429,
        f"predictor 'waited': cannot connect to model endpoint {dead}/train: "
        "Connection refused",
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(
            (500, "text/plain", b"Internal Server Error"),
            "answered HTTP 500: Internal Server Error",
            id="http-500",
        ),
        pytest.param(
            (200, "text/html", b"<html>proxy login</html>"),
            "with a body that is not a JSON object: <html>proxy login</html>",
            id="not-json",
        ),
        pytest.param(
            (400, "application/json", b'{"error": "bad input"}'),
            'answered HTTP 400: {"error": "bad input"}',
            id="http-400-json",
        ),
        pytest.param(
            (200, "application/json", b'{"result": [1]}'),
            "without a 'prediction' key",
            id="no-prediction-key",
        ),
        pytest.param(
            (
                200,
                "application/json",
                lambda rows: json.dumps({"prediction": [1.0] * (rows + 1)}).encode(),
            ),
            "2 values in 'prediction' for 1 rows sent",
            id="too-many-rows",
        ),
        pytest.param(
            (200, "application/json", b'{"prediction": ["three"]}'),
            "answered a value for 'number_of_rooms' that is not LONGLONG",
            id="label-for-integer-class",
        ),
    ],
)
def test_model_contract_violations_are_error_1296(
    byom: ByomProcess,
    reply: tuple[int, str, bytes | Callable[[int], bytes]],
    expected: str,
) -> None:
    model = ScriptedModel(*reply)
    model.start()
    try:
        byom.query(create_sql("liar", model.url("/train"), model.url("/predict")))
        code, message = error_of(
            byom, "SELECT * FROM liar WHERE initial_price = 1 AND rental_price = 2"
        )
    finally:
        model.stop()
    assert code == 1296
    assert "predictor 'liar'" in message
    assert expected in message


@pytest.mark.parametrize(
    ("sql", "code", "message"),
    [
        pytest.param(
            "SELECT * FROM nothere WHERE a = 1",
            1146,
            "Table 'mindsdb.nothere' doesn't exist",
            id="unknown-predictor",
        ),
        pytest.param(
            "SELECT t.a, p.number_of_rooms FROM nodb.s.t AS t JOIN mindsdb.p AS p",
            1049,
            "Unknown database 'nodb'",
            id="unknown-integration",
        ),
        pytest.param(
            "SELECT * FROM p WHERE sqft = 3",
            1054,
            "Unknown column 'sqft' in predictor 'p'",
            id="unknown-input-column",
        ),
        pytest.param(
            "SELECT * FROM p",
            1235,
            "a query on predictor 'p' needs a WHERE clause",
            id="single-predict-without-where",
        ),
        pytest.param(
            "SELECT * FROM p WHERE initial_price > 3",
            1235,
            "may only join 'column = value' with AND",
            id="single-predict-with-range",
        ),
        pytest.param(
            "SELECT t.nope, p.number_of_rooms "
            "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p",
            1054,
            "Unknown column 't.nope' in 'home_rentals'",
            id="unknown-table-column",
        ),
        pytest.param(
            "SELECT number_of_rooms "
            "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS p",
            1052,
            "Column 'number_of_rooms' is ambiguous",
            id="ambiguous-column",
        ),
        pytest.param(
            "SELECT t.sqft FROM mydb.test_data.nope AS t JOIN mindsdb.p AS p",
            1146,
            "Table 'mydb.test_data.nope' doesn't exist",
            id="unknown-source-table",
        ),
        pytest.param(
            "UPDATE p SET a = 1",
            1235,
            "this statement is not supported: UPDATE p SET a = 1",
            id="update",
        ),
    ],
)
def test_query_errors(
    byom: ByomProcess, working_model: GatedModel, sql: str, code: int, message: str
) -> None:
    byom.query(
        create_sql("p", working_model.url("/train"), working_model.url("/predict"))
    )
    got_code, got_message = error_of(byom, sql)
    assert got_code == code
    assert message in got_message


@pytest.mark.parametrize(
    ("using", "code", "message"),
    [
        pytest.param(
            {"format": "'tensorflow'"},
            1210,
            "USING format = 'tensorflow' is unknown; use one of: ray_server",
            id="unknown-format",
        ),
        pytest.param(
            {"url.predict": ""},
            1210,
            "USING url.predict is required",
            id="missing-predict-url",
        ),
        pytest.param(
            {"dtype_dict": ""},
            1210,
            "USING dtype_dict is required",
            id="missing-dtype-dict",
        ),
        pytest.param(
            {"dtype_dict": '\'{"number_of_rooms": "integer"\''},
            1210,
            "USING dtype_dict is not valid JSON",
            id="malformed-dtype-dict-string",
        ),
        pytest.param(
            {"data_dtype": '{"a": "integer"}'},
            1210,
            "USING data_dtype is not a known key",
            id="unknown-key",
        ),
        pytest.param(
            {"url.train": "'ftp://example.org/train'"},
            1210,
            "USING url.train must be an http:// or https:// URL",
            id="non-http-url",
        ),
        pytest.param(
            {"format": ""},
            1210,
            "USING format is required; use one of: ray_server, mlflow, open_inference",
            id="missing-format",
        ),
        pytest.param(
            {"url.predict": "'http://127.0.0.1:99999/predict'"},
            1210,
            "USING url.predict has an invalid port: Port out of range 0-65535",
            id="port-out-of-range",
        ),
        pytest.param(
            {"url.predict": "'http://:8000/predict'"},
            1210,
            "USING url.predict has no host: http://:8000/predict",
            id="no-host",
        ),
        pytest.param(
            {"dtype_dict": '\'{"number_of_rooms": "categorical"}\''},
            1210,
            "USING dtype_dict must list the model's input columns besides the "
            "PREDICT column 'number_of_rooms'",
            id="only-the-target",
        ),
    ],
)
def test_create_predictor_validation(
    byom: ByomProcess,
    working_model: GatedModel,
    using: dict[str, str],
    code: int,
    message: str,
) -> None:
    sql = create_sql(
        "v", working_model.url("/train"), working_model.url("/predict"), **using
    )
    got_code, got_message = error_of(byom, sql)
    assert got_code == code
    assert message in got_message
    assert byom.query("SELECT 1") == [(1,)]


@pytest.mark.parametrize("name", ["predictors", "MODELS", "call_stats", "databases"])
def test_predictor_may_not_take_a_system_table_name(
    byom: ByomProcess, working_model: GatedModel, name: str
) -> None:
    sql = create_sql(name, working_model.url("/train"), working_model.url("/predict"))

    assert error_of(byom, sql) == (
        1050,
        f"Table '{name}' already exists in 'mindsdb': it is one of byom's own "
        "tables; choose another predictor name",
    )
    assert byom.query("SHOW PREDICTORS") == []


def test_dtype_dict_column_missing_from_the_training_query_fails_training(
    byom: ByomProcess, working_model: GatedModel
) -> None:
    dtypes = (
        '{"number_of_rooms": "categorical", "initial_price": "integer", '
        '"rental_price": "integer", "extra": "float"}'
    )
    sql = create_sql(
        "extra",
        working_model.url("/train"),
        working_model.url("/predict"),
        dtype_dict=dtypes,
        join_learn_process="true",
    )
    message = (
        "USING dtype_dict column(s) extra of predictor 'extra' are not in the "
        "training query (columns: number_of_rooms, initial_price, rental_price)"
    )

    assert error_of(byom, sql) == (1210, message)
    assert byom.query(
        "SELECT status, error FROM mindsdb.predictors WHERE name = 'extra'"
    ) == [("error", message)]


def test_duplicate_predictor_is_error_1050(
    byom: ByomProcess, working_model: GatedModel
) -> None:
    sql = create_sql(
        "twice", working_model.url("/train"), working_model.url("/predict")
    )
    byom.query(sql)
    assert error_of(byom, sql) == (1050, "Predictor 'twice' already exists")


def test_wrong_source_password_is_refused_with_the_source_message(
    byom: ByomProcess, request: pytest.FixtureRequest
) -> None:
    mariadb = request.getfixturevalue("mariadb")
    code, message = error_of(
        byom,
        "CREATE DATABASE other WITH ENGINE = 'mysql', PARAMETERS = "
        f'{{"host": "127.0.0.1", "port": {mariadb.port}, "user": "byom", '
        '"password": "not-the-password"}',
    )
    assert code == 1429
    assert message.startswith("data source 'other' failed: (1045, \"Access denied")
    assert "not-the-password" not in message


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {"db_file": "{tmp}/missing.sqlite"},
            "data source 'files' failed: unable to open database file",
            id="missing-file-is-not-created",
        ),
        pytest.param(
            {"db_file": "{tmp}/text.txt"},
            "data source 'files' failed: file is not a database",
            id="not-a-database",
        ),
        pytest.param(
            {"db_file": "{tmp}/empty.sqlite", "attach": {"s": "{tmp}/gone.sqlite"}},
            "data source 'files' failed: unable to open the database attached as "
            "'s': {tmp}/gone.sqlite",
            id="missing-attached-file",
        ),
    ],
)
def test_sqlite_files_are_checked_at_create(
    byom: ByomProcess, tmp_path: Path, files: dict[str, Any], message: str
) -> None:
    (tmp_path / "text.txt").write_text("not a database " * 20)
    sqlite3.connect(tmp_path / "empty.sqlite").close()
    given = json.dumps(files).replace("{tmp}", str(tmp_path))

    code, got = error_of(
        byom, f"CREATE DATABASE files WITH ENGINE = 'sqlite', PARAMETERS = {given}"
    )

    assert (code, got) == (1429, message.replace("{tmp}", str(tmp_path)))
    assert not (tmp_path / "missing.sqlite").exists()
    assert not (tmp_path / "gone.sqlite").exists()
    assert byom.query("SHOW DATABASES LIKE 'files'") == []


def test_sqlite_integration_may_not_read_the_data_directory(byom: ByomProcess) -> None:
    catalog = byom.data_dir.resolve() / "catalog.sqlite"

    assert error_of(
        byom,
        "CREATE DATABASE peek WITH ENGINE = 'sqlite', PARAMETERS = "
        f'{{"db_file": "{catalog}"}}',
    ) == (
        1210,
        f"PARAMETERS of 'peek': {catalog} is inside byom's data directory, which "
        "an integration may not read",
    )


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT " + "(" * 3000 + "1" + ")" * 3000, id="parentheses"),
        pytest.param(
            "SELECT * FROM deep WHERE "
            + " AND ".join(f"initial_price = {i}" for i in range(5000)),
            id="five-thousand-ands",
        ),
    ],
)
def test_statement_nested_too_deeply_is_a_clear_error(
    byom: ByomProcess, working_model: GatedModel, sql: str
) -> None:
    byom.query(
        create_sql("deep", working_model.url("/train"), working_model.url("/predict"))
    )

    assert error_of(byom, sql) == (
        1436,
        "the statement is nested too deeply for byom to handle; simplify or split it",
    )
