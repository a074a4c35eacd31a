"""The exact bytes byom sends to models for each kind of SQL value, in every format.

Unit tests pin the encoders (``byom.backends.values`` and each format's body);
the end-to-end tests read DECIMAL, DATE, DATETIME and TIME columns from a real
MariaDB table through a real byom, and compare what a recording endpoint
received, byte for byte, with what this module says it must be.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from aiohttp import web

from byom.backends.base import records_json
from byom.backends.mlflow import encode_batch, parquet_body
from byom.backends.open_inference import request_inputs
from byom.backends.values import time_text, to_json, value_text
from byom.catalog.records import Predictor
from byom.errors import NotSupportedError, WrongArgumentsError
from tests.support.byom_process import ByomProcess
from tests.support.http_apps import BackgroundApp
from tests.support.mariadb import MariaDBServer

UTC = dt.UTC
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, b"null", id="null"),
        pytest.param(True, b"true", id="bool"),
        pytest.param(float("nan"), b"null", id="float-nan"),
        pytest.param(float("-inf"), b"null", id="float-infinity"),
        pytest.param(0.1, b"0.1", id="float"),
        pytest.param(
            Decimal("12345678901234567.89"),
            b"12345678901234567.89",
            id="decimal-beyond-a-double",
        ),
        pytest.param(Decimal("1.50"), b"1.50", id="decimal-keeps-its-scale"),
        pytest.param(Decimal("-0.001"), b"-0.001", id="decimal-negative"),
        pytest.param(Decimal("0.0000001"), b"1E-7", id="decimal-tiny"),
        pytest.param(Decimal("100"), b"100", id="decimal-integral"),
        pytest.param(Decimal("NaN"), b"null", id="decimal-nan"),
        pytest.param(Decimal("sNaN"), b"null", id="decimal-signalling-nan"),
        pytest.param(Decimal("Infinity"), b"null", id="decimal-infinity"),
        pytest.param(Decimal("-Infinity"), b"null", id="decimal-minus-infinity"),
        pytest.param(2**64 - 1, b"18446744073709551615", id="int-unsigned-64-max"),
        pytest.param(2**64, b"18446744073709551616", id="int-beyond-64-bits"),
        pytest.param(-(2**63) - 1, b"-9223372036854775809", id="int-below-64-bits"),
        pytest.param(10**40, b"1" + b"0" * 40, id="int-huge"),
        pytest.param(dt.date(2024, 2, 29), b'"2024-02-29"', id="date"),
        pytest.param(
            dt.datetime(2024, 2, 29, 10, 11, 12),
            b'"2024-02-29T10:11:12"',
            id="datetime",
        ),
        pytest.param(
            dt.datetime(2024, 2, 29, 10, 11, 12, 120),
            b'"2024-02-29T10:11:12.000120"',
            id="datetime-fraction",
        ),
        pytest.param(
            dt.datetime(2024, 2, 29, 10, 11, 12, tzinfo=UTC),
            b'"2024-02-29T10:11:12+00:00"',
            id="datetime-with-zone",
        ),
        pytest.param(dt.time(10, 11, 12), b'"10:11:12"', id="time"),
        pytest.param(
            dt.time(10, 11, 12, 500000), b'"10:11:12.500000"', id="time-fraction"
        ),
        pytest.param(
            dt.time(10, 11, 12, tzinfo=PLUS_TWO),
            b'"10:11:12+02:00"',
            id="time-with-zone",
        ),
        pytest.param(dt.timedelta(0), b'"00:00:00"', id="timedelta-zero"),
        pytest.param(
            dt.timedelta(hours=1, minutes=2, seconds=3),
            b'"01:02:03"',
            id="timedelta",
        ),
        pytest.param(
            -dt.timedelta(hours=1, minutes=30), b'"-01:30:00"', id="timedelta-negative"
        ),
        pytest.param(
            dt.timedelta(hours=838, minutes=59, seconds=59),
            b'"838:59:59"',
            id="timedelta-mysql-max",
        ),
        pytest.param(
            -dt.timedelta(hours=838, minutes=59, seconds=59),
            b'"-838:59:59"',
            id="timedelta-mysql-min",
        ),
        pytest.param(
            dt.timedelta(days=1, hours=2), b'"26:00:00"', id="timedelta-beyond-a-day"
        ),
        pytest.param(
            dt.timedelta(microseconds=-500000),
            b'"-00:00:00.500000"',
            id="timedelta-negative-fraction",
        ),
        pytest.param("é", '"é"'.encode(), id="text"),
        pytest.param(b"\xc3\xa9t\xc3\xa9", '"été"'.encode(), id="bytes"),
        pytest.param(b"a\xffb", '"a\ufffdb"'.encode(), id="bytes-not-utf8"),
    ],
)
def test_each_value_has_one_json_text(value: Any, expected: bytes) -> None:
    # The second list holds an integer orjson refuses, so the slower path that
    # spells such values out runs, and must write every other value the same.
    assert to_json([value]) == b"[" + expected + b"]"
    assert to_json([value, 2**64]) == b"[" + expected + b",18446744073709551616]"
    assert to_json({"v": value}) == b'{"v":' + expected + b"}"


def test_decimal_digits_read_back_exactly() -> None:
    value = Decimal("12345678901234567.89")

    decoded = json.loads(to_json([value]), parse_float=Decimal)

    assert decoded == [value]
    assert json.loads(to_json([value])) == [float(value)]


def test_pandas_reads_the_date_and_time_texts() -> None:
    day, moment = dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 10, 11, 12, 120)
    text = records_json(["day", "at"], [(day, moment)])

    frame = pd.read_json(io.StringIO(text), dtype=False)

    assert pd.to_datetime(frame["day"]).tolist() == [pd.Timestamp(2024, 2, 29)]
    assert pd.to_datetime(frame["at"]).tolist() == [pd.Timestamp(moment)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(dt.timedelta(seconds=59), "00:00:59", id="seconds"),
        pytest.param(dt.timedelta(days=-1), "-24:00:00", id="minus-a-day"),
        pytest.param(dt.timedelta(days=-1, seconds=1), "-23:59:59", id="as-pymysql"),
        pytest.param(
            dt.timedelta(hours=100, microseconds=7), "100:00:00.000007", id="fraction"
        ),
    ],
)
def test_time_text_writes_mysql_time(value: dt.timedelta, expected: str) -> None:
    assert time_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(Decimal("12345678901234567.89"), "12345678901234567.89", id="dec"),
        pytest.param(Decimal("NaN"), None, id="decimal-nan"),
        pytest.param(1e16, "1e+16", id="float"),
        pytest.param(2**70, "1180591620717411303424", id="int-beyond-64-bits"),
        pytest.param(False, "false", id="bool"),
        pytest.param(dt.datetime(2024, 2, 29, 1, 2, 3), "2024-02-29T01:02:03", id="dt"),
        pytest.param(-dt.timedelta(minutes=90), "-01:30:00", id="timedelta"),
        pytest.param(b"\xc3\xa9", "é", id="bytes"),
    ],
)
def test_value_text_is_what_json_carries(value: Any, expected: str | None) -> None:
    assert value_text(value) == expected


# One row of each kind the sources give, and one of NULLs and extremes.
COLUMNS = ["price", "day", "at", "clock", "wait", "big"]
ROWS: list[tuple[Any, ...]] = [
    (
        Decimal("12345678901234567.89"),
        dt.date(2024, 2, 29),
        dt.datetime(2024, 2, 29, 10, 11, 12, 120),
        dt.time(10, 11, 12),
        -dt.timedelta(hours=1, minutes=30),
        2**64,
    ),
    (
        Decimal("NaN"),
        None,
        dt.datetime(2024, 3, 1),
        dt.time(0, 0, 0, 500000),
        dt.timedelta(hours=838, minutes=59, seconds=59),
        1,
    ),
]
ROW_OBJECTS = (
    '{"price":12345678901234567.89,"day":"2024-02-29",'
    '"at":"2024-02-29T10:11:12.000120","clock":"10:11:12","wait":"-01:30:00",'
    '"big":18446744073709551616},'
    '{"price":null,"day":null,"at":"2024-03-01T00:00:00",'
    '"clock":"00:00:00.500000","wait":"838:59:59","big":1}'
)


@pytest.mark.parametrize(
    ("layout", "content_type", "expected"),
    [
        pytest.param(
            "dataframe_records",
            "application/json",
            '{"dataframe_records":[' + ROW_OBJECTS + "]}",
            id="dataframe_records",
        ),
        pytest.param(
            "dataframe_split",
            "application/json",
            '{"dataframe_split":{"columns":["price","day","at","clock","wait","big"],'
            '"data":[[12345678901234567.89,"2024-02-29","2024-02-29T10:11:12.000120",'
            '"10:11:12","-01:30:00",18446744073709551616],'
            '[null,null,"2024-03-01T00:00:00","00:00:00.500000","838:59:59",1]]}}',
            id="dataframe_split",
        ),
        pytest.param(
            "inputs",
            "application/json",
            '{"inputs":{"price":[12345678901234567.89,null],'
            '"day":["2024-02-29",null],'
            '"at":["2024-02-29T10:11:12.000120","2024-03-01T00:00:00"],'
            '"clock":["10:11:12","00:00:00.500000"],'
            '"wait":["-01:30:00","838:59:59"],"big":[18446744073709551616,1]}}',
            id="inputs",
        ),
        pytest.param(
            "csv",
            "text/csv; charset=utf-8",
            "price,day,at,clock,wait,big\r\n"
            "12345678901234567.89,2024-02-29,2024-02-29T10:11:12.000120,10:11:12,"
            "-01:30:00,18446744073709551616\r\n"
            ",,2024-03-01T00:00:00,00:00:00.500000,838:59:59,1\r\n",
            id="csv",
        ),
    ],
)
def test_mlflow_bodies_carry_the_same_values(
    layout: str, content_type: str, expected: str
) -> None:
    body = encode_batch(layout, COLUMNS, ROWS, "predictor 'p'")

    assert body.content_type == content_type
    assert body.content == expected.encode()


def test_ray_server_frame_carries_the_same_values() -> None:
    assert records_json(COLUMNS, ROWS) == "[" + ROW_OBJECTS + "]"


def test_parquet_keeps_decimals_exact_and_writes_dates_as_the_json_text() -> None:
    table = pq.read_table(io.BytesIO(parquet_body(COLUMNS, ROWS, "predictor 'p'")))

    assert [(f.name, str(f.type)) for f in table.schema] == [
        ("price", "decimal128(19, 2)"),
        ("day", "string"),
        ("at", "string"),
        ("clock", "string"),
        ("wait", "string"),
        ("big", "decimal128(20, 0)"),
    ]
    assert table.to_pydict() == {
        "price": [Decimal("12345678901234567.89"), None],
        "day": ["2024-02-29", None],
        "at": ["2024-02-29T10:11:12.000120", "2024-03-01T00:00:00"],
        "clock": ["10:11:12", "00:00:00.500000"],
        "wait": ["-01:30:00", "838:59:59"],
        "big": [Decimal(2**64), Decimal(1)],
    }


def test_parquet_column_with_floats_is_double() -> None:
    rows = [(Decimal("1.25"), 2**64), (0.5, 0.5)]

    table = pq.read_table(io.BytesIO(parquet_body(["d", "n"], rows, "predictor 'p'")))

    assert [str(f.type) for f in table.schema] == ["double", "double"]
    assert table.to_pydict() == {"d": [1.25, 0.5], "n": [float(2**64), 0.5]}


def _oip_predictor() -> Predictor:
    return Predictor(
        name="p",
        format="open_inference",
        target="y",
        dtype_dict={
            "price": "float",
            "day": "date",
            "at": "datetime",
            "wait": "categorical",
            "code": "integer",
            "y": "integer",
        },
        predict_url="http://127.0.0.1:9/v2/models/m",
    )


def test_open_inference_text_tensors_carry_the_same_texts() -> None:
    columns = ["price", "day", "at", "wait", "code"]
    row = (
        Decimal("12345678901234567.89"),
        dt.date(2024, 2, 29),
        dt.datetime(2024, 2, 29, 10, 11, 12, 120),
        -dt.timedelta(hours=1, minutes=30),
        Decimal("7"),
    )

    tensors = request_inputs(_oip_predictor(), {}, columns, [row])

    assert to_json(tensors) == (
        b'[{"name":"price","shape":[1],"datatype":"FP64",'
        b'"data":[1.2345678901234568e+16]},'
        b'{"name":"day","shape":[1],"datatype":"BYTES","data":["2024-02-29"]},'
        b'{"name":"at","shape":[1],"datatype":"BYTES",'
        b'"data":["2024-02-29T10:11:12.000120"]},'
        b'{"name":"wait","shape":[1],"datatype":"BYTES","data":["-01:30:00"]},'
        b'{"name":"code","shape":[1],"datatype":"INT64","data":[7]}]'
    )


def test_open_inference_refuses_an_integer_its_tensor_cannot_hold() -> None:
    with pytest.raises(WrongArgumentsError) as caught:
        request_inputs(_oip_predictor(), {}, ["code"], [(2**63,)])

    assert caught.value.message == (
        "predictor 'p': column 'code' holds 9223372036854775808, which the "
        "model's INT64 input 'code' cannot take"
    )


def test_open_inference_takes_a_decimal_nan_for_null() -> None:
    with pytest.raises(NotSupportedError) as caught:
        request_inputs(_oip_predictor(), {}, ["price"], [(Decimal("NaN"),)])

    assert caught.value.message == (
        "predictor 'p': column 'price' is NULL in a row sent to the model; a "
        "tensor of the Open Inference Protocol cannot hold NULL"
    )


# End to end: a MariaDB table, a real byom, an endpoint recording raw bodies.

TABLE_SQL = (
    "CREATE TABLE test_data.model_values (id INT PRIMARY KEY, price DECIMAL(20, 2), "
    "sold_on DATE, seen_at DATETIME(6), waited TIME, label INT)"
)
TABLE_ROWS = [
    (
        1,
        "12345678901234567.89",
        "2024-02-29",
        "2024-02-29 10:11:12.000120",
        "-01:30:00",
        0,
    ),
    (2, "0.10", "1999-12-31", "1999-12-31 23:59:59", "838:59:59", 1),
    (3, None, None, None, None, 1),
]
FEATURES = (
    '[{"price":12345678901234567.89,"sold_on":"2024-02-29",'
    '"seen_at":"2024-02-29T10:11:12.000120","waited":"-01:30:00"},'
    '{"price":0.10,"sold_on":"1999-12-31","seen_at":"1999-12-31T23:59:59",'
    '"waited":"838:59:59"},'
    '{"price":null,"sold_on":null,"seen_at":null,"waited":null}]'
)
DTYPES = (
    '{"price": "float", "sold_on": "date", "seen_at": "datetime", '
    '"waited": "categorical", "label": "integer"}'
)
JOIN = "SELECT t.id, p.label FROM vals.model_values AS t JOIN mindsdb.{name} AS p"


class RawRecorder(BackgroundApp):
    """A model answering every route with zeros, keeping each body's bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[tuple[str, str | None, bytes]] = []

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{route}", self._handle)
        return app

    def received(self, route: str) -> list[tuple[str | None, bytes]]:
        return [(kind, body) for path, kind, body in self.bodies if path == route]

    async def _handle(self, request: web.Request) -> web.Response:
        route, body = request.match_info["route"], await request.read()
        self.bodies.append((route, request.headers.get("Content-Type"), body))
        if route == "train":
            return web.json_response({"status": "ok"})
        rows = _row_count(body, request.headers.get("Content-Type", ""))
        key = "prediction" if route == "predict" else "predictions"
        return web.json_response({key: [0] * rows})


def _row_count(body: bytes, content_type: str) -> int:
    if content_type.startswith("text/csv"):
        return body.count(b"\r\n") - 1
    decoded = json.loads(body)
    if "df" in decoded:
        return len(json.loads(decoded["df"]))
    if "dataframe_split" in decoded:
        return len(decoded["dataframe_split"]["data"])
    if "inputs" in decoded:
        return len(next(iter(decoded["inputs"].values())))
    return len(decoded["dataframe_records"])


def _as_string(text: str) -> str:
    """text as a JSON string, as the ray_server format nests its frame."""
    return '"' + text.replace('"', '\\"') + '"'


@pytest.fixture(scope="module")
def recorder() -> Iterator[RawRecorder]:
    app = RawRecorder()
    app.start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def values_byom(mariadb: MariaDBServer) -> Iterator[ByomProcess]:
    """A byom whose integration ``vals`` holds test_data.model_values."""
    connection = mariadb.connect()
    with connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS test_data.model_values")
        cursor.execute(TABLE_SQL)
        cursor.executemany(
            "INSERT INTO test_data.model_values VALUES (%s, %s, %s, %s, %s, %s)",
            TABLE_ROWS,
        )

    server = ByomProcess()
    server.start()
    server.query(mariadb.integration_sql("vals", "mysql"))
    yield server
    server.cleanup()


def test_ray_server_train_and_predict_bodies_from_mariadb(
    values_byom: ByomProcess, recorder: RawRecorder
) -> None:
    values_byom.query(
        "CREATE PREDICTOR vals_ray FROM vals (SELECT price, sold_on, seen_at, "
        "waited, label FROM model_values ORDER BY id) PREDICT label USING "
        f"url.train = '{recorder.url('/train')}', "
        f"url.predict = '{recorder.url('/predict')}', dtype_dict = {DTYPES}, "
        "format = 'ray_server', join_learn_process = true"
    )

    rows = values_byom.query(JOIN.format(name="vals_ray"))

    training = FEATURES.replace(
        '"waited":"-01:30:00"', '"waited":"-01:30:00","label":0'
    )
    training = training.replace(
        '"waited":"838:59:59"', '"waited":"838:59:59","label":1'
    )
    training = training.replace('"waited":null', '"waited":null,"label":1')
    assert recorder.received("train") == [
        (
            "application/json",
            ('{"df":' + _as_string(training) + ',"target":"label"}').encode(),
        )
    ]
    assert recorder.received("predict") == [
        ("application/json", ('{"df":' + _as_string(FEATURES) + "}").encode())
    ]
    assert rows == [(1, 0), (2, 0), (3, 0)]


@pytest.mark.parametrize(
    ("layout", "content_type", "expected"),
    [
        pytest.param(
            "dataframe_records",
            "application/json",
            '{"dataframe_records":' + FEATURES + "}",
            id="dataframe_records",
        ),
        pytest.param(
            "dataframe_split",
            "application/json",
            '{"dataframe_split":{"columns":["price","sold_on","seen_at","waited"],'
            '"data":[[12345678901234567.89,"2024-02-29","2024-02-29T10:11:12.000120",'
            '"-01:30:00"],[0.10,"1999-12-31","1999-12-31T23:59:59","838:59:59"],'
            "[null,null,null,null]]}}",
            id="dataframe_split",
        ),
        pytest.param(
            "inputs",
            "application/json",
            '{"inputs":{"price":[12345678901234567.89,0.10,null],'
            '"sold_on":["2024-02-29","1999-12-31",null],'
            '"seen_at":["2024-02-29T10:11:12.000120","1999-12-31T23:59:59",null],'
            '"waited":["-01:30:00","838:59:59",null]}}',
            id="inputs",
        ),
        pytest.param(
            "csv",
            "text/csv; charset=utf-8",
            "price,sold_on,seen_at,waited\r\n"
            "12345678901234567.89,2024-02-29,2024-02-29T10:11:12.000120,-01:30:00\r\n"
            "0.10,1999-12-31,1999-12-31T23:59:59,838:59:59\r\n"
            ",,,\r\n",
            id="csv",
        ),
    ],
)
def test_mlflow_bodies_from_mariadb(
    values_byom: ByomProcess,
    recorder: RawRecorder,
    layout: str,
    content_type: str,
    expected: str,
) -> None:
    name = f"vals_{layout}"
    values_byom.query(
        f"CREATE PREDICTOR {name} PREDICT label USING "
        f"url.predict = '{recorder.url('/' + name)}', dtype_dict = {DTYPES}, "
        f"format = 'mlflow', body_format = '{layout}'"
    )

    rows = values_byom.query(JOIN.format(name=name))

    assert recorder.received(name) == [(content_type, expected.encode())]
    assert rows == [(1, 0), (2, 0), (3, 0)]
