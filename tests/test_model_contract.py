"""What a model's answers become: the columns found at CREATE, and NULL on error.

A real byom and PyMySQL against ``ScriptedEndpoints``: a predict-only model
checked at CREATE keeps the columns and types it answered (DESCRIBE and SELECT *
show them), and ``USING on_error = 'null'`` turns a failed batch into NULL
predictions with the reason in ``<target>_error`` instead of failing the query.
``USING predict_timeout`` bounds that predictor's calls instead of the setting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pymysql
import pytest

from tests.support.byom_process import ByomProcess
from tests.support.fault_apps import Reply, ScriptedEndpoints
from tests.test_backend_faults import (
    JOIN_PRICES,
    JOIN_SQL,
    SETTINGS,
    create_sql,
    endpoint,
)

SOURCE = "FROM mydb (SELECT initial_price, rental_price FROM test_data.home_rentals)"


@pytest.fixture(scope="module")
def server() -> Iterator[ByomProcess]:
    """Batches of 50 rows, one call at a time, so a failure hits a known batch."""
    byom = ByomProcess(extra={**SETTINGS, "batch_rows": 50, "calls_in_flight": 1})
    byom.start()
    yield byom
    byom.cleanup()


def with_using(sql: str, extra: str) -> str:
    return sql.replace("join_learn_process", f"{extra}, join_learn_process")


def test_columns_answered_at_create_are_kept(
    server: ByomProcess, fake: ScriptedEndpoints
) -> None:
    name = "contract"
    answer = {"predictions": [{"number_of_rooms": 2, "score": 0.5, "label": "x"}]}
    fake.script(name, "invocations", Reply(body=json.dumps(answer).encode()))
    sql = create_sql(name, "mlflow", endpoint(fake, name, "mlflow"))
    server.query(sql.replace(" PREDICT number", f" {SOURCE} PREDICT number"))

    (outputs,) = server.query(f"DESCRIBE PREDICTOR {name}")[0][5:6]
    columns = [row[0] for row in server.query(f"SHOW COLUMNS FROM {name}")]
    fake.script(name, "invocations", Reply(body=json.dumps(answer).encode()))
    with server.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {name} WHERE initial_price = 1 AND rental_price = 2"
        )
        described = [(d[0], d[1]) for d in cursor.description]
        rows = cursor.fetchall()

    assert outputs == (
        "number_of_rooms bigint, number_of_rooms_confidence double, "
        "number_of_rooms_min double, number_of_rooms_max double, "
        "number_of_rooms_anomaly tinyint, score double, label varchar"
    )
    assert columns[-2:] == ["score", "label"]
    assert rows == ((2, 1, 2, 0.5, "x"),)
    assert described == [
        ("number_of_rooms", pymysql.constants.FIELD_TYPE.LONGLONG),
        ("initial_price", pymysql.constants.FIELD_TYPE.LONGLONG),
        ("rental_price", pymysql.constants.FIELD_TYPE.LONGLONG),
        ("score", pymysql.constants.FIELD_TYPE.DOUBLE),
        ("label", pymysql.constants.FIELD_TYPE.VAR_STRING),
    ]


def test_on_error_null_leaves_a_failed_batch_null_and_says_why(
    server: ByomProcess, fake: ScriptedEndpoints
) -> None:
    name = "forgiving"
    url = endpoint(fake, name, "ray_server")
    server.query(with_using(create_sql(name, "ray_server", url), "on_error = 'null'"))
    fake.script(name, "predict", Reply(400, b"bad input", "text/plain"))

    rows = server.query(
        JOIN_SQL.format(name=name).replace(
            "m.number_of_rooms", "m.number_of_rooms, m.number_of_rooms_error"
        )
    )

    reason = f"predictor '{name}': {url} answered HTTP 400: bad input"
    assert rows == [(price, None, reason) for price in JOIN_PRICES[:50]] + [
        (price, price % 4, None) for price in JOIN_PRICES[50:]
    ]
    assert [c.rows for c in fake.calls(name, "predict")] == [50, len(JOIN_PRICES) - 50]
    columns = [row[0] for row in server.query(f"SHOW COLUMNS FROM {name}")]
    assert columns[-1] == "number_of_rooms_error"


def test_on_error_null_applies_to_a_single_row_too(
    server: ByomProcess, fake: ScriptedEndpoints
) -> None:
    name = "forgiving_single"
    url = endpoint(fake, name, "mlflow")
    server.query(with_using(create_sql(name, "mlflow", url), "on_error = 'NULL'"))
    fake.script(name, "invocations", *[Reply(503, b"busy", "text/plain")] * 3)

    rows = server.query(
        f"SELECT number_of_rooms, number_of_rooms_error FROM {name} "
        "WHERE initial_price = 3 AND rental_price = 4"
    )

    assert rows == [(None, f"predictor '{name}': {url} answered HTTP 503: busy")]
    assert len(fake.calls(name, "invocations")) == 3


def test_without_on_error_the_query_fails_and_has_no_error_column(
    server: ByomProcess, fake: ScriptedEndpoints
) -> None:
    name = "strict"
    url = endpoint(fake, name, "mlflow")
    server.query(create_sql(name, "mlflow", url))
    fake.script(name, "invocations", Reply(400, b"bad input", "text/plain"))

    assert server.error(JOIN_SQL.format(name=name))[0] == 1296
    assert (
        server.error(
            f"SELECT number_of_rooms_error FROM {name} WHERE initial_price = 1"
        )[0]
        == 1054
    )


def test_unknown_on_error_is_refused(
    server: ByomProcess, fake: ScriptedEndpoints
) -> None:
    sql = create_sql("odd", "mlflow", endpoint(fake, "odd", "mlflow"))

    assert server.error(with_using(sql, "on_error = 'ignore'")) == (
        1210,
        "USING on_error = 'ignore' is unknown; use one of: error, null",
    )


@pytest.mark.parametrize("model_format", ["ray_server", "mlflow"])
def test_using_predict_timeout_replaces_the_setting_for_its_predictor(
    server: ByomProcess, fake: ScriptedEndpoints, model_format: str
) -> None:
    name = f"impatient_{model_format}"
    url = endpoint(fake, name, model_format)
    route = url.rsplit("/", 1)[1]
    server.query(
        with_using(create_sql(name, model_format, url), "predict_timeout = 0.2")
    )
    # Slower than USING predict_timeout, well within the server's 1 s.
    fake.script(name, route, Reply(body=b'{"predictions": [1]}', delay=0.6))

    refused = server.error(
        f"SELECT number_of_rooms FROM {name} WHERE initial_price = 1 "
        "AND rental_price = 2"
    )

    assert refused == (
        1429,
        f"predictor '{name}': model endpoint {url} did not answer within 0.2 s",
    )
    assert len(fake.calls(name, route)) == 1
