"""The ``mlflow`` format against the real MLflow scoring server, through PyMySQL.

Two models are trained on the public home-rentals data and served with
``mlflow models serve`` (``fixtures/mlflow/make_models.py``): a scikit-learn
classifier and a pyfunc answering two columns. The values byom returns are
compared with the answers the same models gave in the process that built them,
so a wrong column order, a lost row or a bad cast shows up as a wrong value.
The models score the same batches byom sends (one row, or ``BATCH_ROWS`` rows of
the JOIN), because a probability can differ in its last digit with the batch.
Every body format (``USING body_format``) must give the very same answers.
"""

from __future__ import annotations

import datetime
import decimal
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pymysql
import pytest

from byom.backends.mlflow import csv_body, parquet_body
from byom.errors import NotSupportedError
from byom.sources.demo import COLUMNS, generate_rows
from tests.support.byom_process import ByomProcess
from tests.support.mlflow_backend import (
    MlflowServeProcess,
    RawRecordingProxy,
    build_models,
    post_json,
)

DTYPES = (
    '{"initial_price": "float", "rental_price": "float", "number_of_rooms": "integer"}'
)
# The seed's JOIN filter: 1004 of the 5000 demo rows.
JOIN_FILTER = "t.rental_price > 5300"
SINGLE_INPUTS = [(3000, 3000), (1000, 1200), (5500, 5600)]
MODELS = ("classifier", "multi_output")
BATCH_ROWS = 300
DEFAULT_FORMAT = "dataframe_records"
BODY_FORMATS = ("dataframe_records", "dataframe_split", "inputs", "csv", "parquet")

Key = tuple[int, int]
Answer = tuple[int, float | None]


@dataclass(frozen=True)
class OfflineAnswers:
    """What each model answered in-process: (number_of_rooms, confidence).

    ``single`` is by (initial_price, rental_price) scored alone; ``join`` is the
    JOIN's rows in source order, scored in byom's batches.
    """

    single: dict[str, dict[Key, Answer]]
    join: dict[str, list[Answer]]
    join_inputs: list[Key]
    model_dir: Path


def demo_join_inputs() -> list[tuple[int, int]]:
    """(initial_price, rental_price) of the demo rows the JOIN reads, in order."""
    names = [name for name, _ in COLUMNS]
    initial, rental = names.index("initial_price"), names.index("rental_price")
    return [(r[initial], r[rental]) for r in generate_rows() if r[rental] > 5300]


@pytest.fixture(scope="session")
def offline(tmp_path_factory: pytest.TempPathFactory) -> OfflineAnswers:
    """Build both models once and keep their in-process answers."""
    out = tmp_path_factory.mktemp("mlflow-models")
    join_inputs = demo_join_inputs()
    join_batches = [
        join_inputs[i : i + BATCH_ROWS] for i in range(0, len(join_inputs), BATCH_ROWS)
    ]
    batches = [[key] for key in SINGLE_INPUTS] + join_batches
    answers = build_models(
        out,
        [
            [{"initial_price": a, "rental_price": b} for a, b in keys]
            for keys in batches
        ],
    )

    # Each model's answers as (rooms, confidence), batch by batch.
    scored = {
        "classifier": [
            [(rooms, None) for rooms in batch] for batch in answers["classifier"]
        ],
        "multi_output": [
            [(rooms, confidence) for rooms, confidence in batch]
            for batch in answers["multi_output"]
        ],
    }
    count = len(SINGLE_INPUTS)
    return OfflineAnswers(
        single={
            model: dict(
                zip(
                    SINGLE_INPUTS, (batch[0] for batch in by_batch[:count]), strict=True
                )
            )
            for model, by_batch in scored.items()
        },
        join={
            model: [answer for batch in by_batch[count:] for answer in batch]
            for model, by_batch in scored.items()
        },
        join_inputs=join_inputs,
        model_dir=out,
    )


@pytest.fixture(scope="session")
def mlflow_servers(offline: OfflineAnswers) -> Iterator[dict[str, MlflowServeProcess]]:
    """Both models served at once, each by its own ``mlflow models serve``."""
    servers = {name: MlflowServeProcess(offline.model_dir / name) for name in MODELS}
    try:
        for server in servers.values():
            server.spawn()
        for server in servers.values():
            server.wait_ready()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def byom() -> Iterator[ByomProcess]:
    """One byom for the module; small batches so a JOIN makes several calls."""
    server = ByomProcess(extra={"batch_rows": BATCH_ROWS})
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def predictors(
    byom: ByomProcess, mlflow_servers: dict[str, MlflowServeProcess]
) -> dict[tuple[str, str], str]:
    """A predictor per model and body format, created without FROM.

    Keyed by (model, body format); the default format's predictor is named
    after the model and gives no ``body_format`` at all.
    """
    names: dict[tuple[str, str], str] = {}
    for model, server in mlflow_servers.items():
        for layout in BODY_FORMATS:
            name = model if layout == DEFAULT_FORMAT else f"{model}_{layout}"
            using = {} if layout == DEFAULT_FORMAT else {"body_format": f"'{layout}'"}
            byom.query(create_sql(name, server.invocations_url, **using))
            names[model, layout] = name
    return names


def create_sql(name: str, url: str, source: str = "", **using: str) -> str:
    """CREATE PREDICTOR for an MLflow model, with USING overrides."""
    items = {
        "url.predict": f"'{url}'",
        "dtype_dict": DTYPES,
        "format": "'mlflow'",
        **using,
    }
    listed = ", ".join(f"{k} = {v}" for k, v in items.items())
    return f"CREATE PREDICTOR {name} {source} PREDICT number_of_rooms USING {listed}"


def error_of(byom: ByomProcess, sql: str) -> tuple[int, str]:
    """Run sql, expecting an error; return (code, message)."""
    with byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(sql)
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == ((1,),), "the connection must keep working"
    return caught.value.args[0], caught.value.args[1]


def mlflow_excerpt(message: str) -> str:
    """The part of an MLflow error message byom quotes: one line, 200 chars."""
    flat = re.sub(r"\s+", " ", message).strip()
    return flat[:200] + ("..." if len(flat) > 200 else "")


@pytest.mark.parametrize("body_format", BODY_FORMATS)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    "key",
    [pytest.param(key, id=f"{key[0]}-{key[1]}") for key in SINGLE_INPUTS],
)
def test_single_row_prediction_matches_the_model(
    byom: ByomProcess,
    predictors: dict[tuple[str, str], str],
    offline: OfflineAnswers,
    model: str,
    key: tuple[int, int],
    body_format: str,
) -> None:
    name = predictors[model, body_format]
    rows = byom.query(
        f"SELECT number_of_rooms, number_of_rooms_confidence FROM {name} "
        f"WHERE initial_price = {key[0]} AND rental_price = {key[1]}"
    )
    assert rows == [offline.single[model][key]]


@pytest.mark.parametrize(
    ("model", "names", "expected"),
    [
        pytest.param(
            "classifier",
            ["initial_price", "rental_price", "number_of_rooms"],
            (3000, 3000, 2),
            id="classifier",
        ),
        pytest.param(
            "multi_output",
            [
                "initial_price",
                "rental_price",
                "number_of_rooms",
                "number_of_rooms_confidence",
            ],
            (3000, 3000, 2, 0.9643086297620606),
            id="multi-output-adds-its-column",
        ),
    ],
)
def test_select_star_shows_inputs_and_what_the_model_answered(
    byom: ByomProcess,
    predictors: dict[tuple[str, str], str],
    offline: OfflineAnswers,
    model: str,
    names: list[str],
    expected: tuple[Any, ...],
) -> None:
    # The literal values are pinned here and cross-checked with the model's own
    # answers, so that a drift in the trained model is told apart from a bug.
    answer = offline.single[model][(3000, 3000)]
    assert expected[2:] == (answer if answer[1] is not None else answer[:1])
    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {predictors[model, DEFAULT_FORMAT]} "
            "WHERE initial_price = 3000 AND rental_price = 3000"
        )
        assert [d[0] for d in cursor.description] == names
        assert cursor.fetchall() == (expected,)


@pytest.mark.parametrize("body_format", BODY_FORMATS)
@pytest.mark.parametrize("model", MODELS)
def test_join_with_the_demo_source_matches_the_model(
    byom: ByomProcess,
    predictors: dict[tuple[str, str], str],
    offline: OfflineAnswers,
    model: str,
    body_format: str,
) -> None:
    name = predictors[model, body_format]
    rows = byom.query(
        "SELECT t.initial_price, t.rental_price, m.number_of_rooms, "
        "m.number_of_rooms_confidence "
        f"FROM mydb.test_data.home_rentals AS t JOIN mindsdb.{name} AS m "
        f"WHERE {JOIN_FILTER}"
    )
    expected = [
        key + answer
        for key, answer in zip(offline.join_inputs, offline.join[model], strict=True)
    ]
    assert len(rows) == 1004
    assert rows == expected


def expected_body(body_format: str, keys: list[Key]) -> Any:
    """What byom must send for rows of (initial_price, rental_price), decoded.

    Written out per format rather than taken from byom, so that the test pins
    the wire form: JSON bodies decoded, CSV as its text, Parquet as its column
    types and values.
    """
    names = ["initial_price", "rental_price"]
    if body_format == "dataframe_records":
        return {
            "dataframe_records": [dict(zip(names, key, strict=True)) for key in keys]
        }
    if body_format == "dataframe_split":
        return {"dataframe_split": {"columns": names, "data": [list(k) for k in keys]}}
    if body_format == "inputs":
        return {
            "inputs": {
                "initial_price": [a for a, _ in keys],
                "rental_price": [b for _, b in keys],
            }
        }
    if body_format == "csv":
        return "initial_price,rental_price\r\n" + "".join(
            f"{a},{b}\r\n" for a, b in keys
        )
    assert body_format == "parquet"
    return (
        [("initial_price", "int32"), ("rental_price", "int32")],
        {"initial_price": [a for a, _ in keys], "rental_price": [b for _, b in keys]},
    )


def decoded_body(body_format: str, body: bytes) -> Any:
    """A recorded request body in the form ``expected_body`` gives."""
    if body_format == "csv":
        return body.decode("utf-8")
    if body_format == "parquet":
        table = pq.read_table(io.BytesIO(body))
        return ([(f.name, str(f.type)) for f in table.schema], table.to_pydict())
    return json.loads(body)


@pytest.mark.parametrize(
    ("body_format", "content_type"),
    [
        pytest.param("dataframe_records", "application/json", id="records-by-default"),
        pytest.param("dataframe_split", "application/json", id="split"),
        pytest.param("inputs", "application/json", id="inputs-columnar"),
        pytest.param("csv", "text/csv; charset=utf-8", id="csv"),
        pytest.param("parquet", "application/vnd.apache.parquet", id="parquet"),
    ],
)
def test_body_format_is_what_byom_sends(
    byom: ByomProcess,
    mlflow_servers: dict[str, MlflowServeProcess],
    offline: OfflineAnswers,
    body_format: str,
    content_type: str,
) -> None:
    proxy = RawRecordingProxy(mlflow_servers["classifier"].base_url)
    proxy.start()
    try:
        name = f"via_proxy_{body_format}"
        using = (
            {} if body_format == DEFAULT_FORMAT else {"body_format": f"'{body_format}'"}
        )
        byom.query(create_sql(name, proxy.url("/invocations"), **using))
        single = byom.query(
            f"SELECT number_of_rooms FROM {name} "
            "WHERE initial_price = 1000 AND rental_price = 1200"
        )
        joined = byom.query(
            "SELECT t.initial_price, t.rental_price, m.number_of_rooms "
            f"FROM mydb.test_data.home_rentals AS t JOIN mindsdb.{name} AS m "
            f"WHERE {JOIN_FILTER}"
        )
    finally:
        proxy.stop()

    assert single == [offline.single["classifier"][(1000, 1200)][:1]]
    assert joined == [
        key + answer[:1]
        for key, answer in zip(
            offline.join_inputs, offline.join["classifier"], strict=True
        )
    ]

    assert [(path, kind) for path, kind, _ in proxy.requests] == [
        ("/invocations", content_type)
    ] * 5
    bodies = [decoded_body(body_format, body) for _, _, body in proxy.requests]
    assert bodies[0] == expected_body(body_format, [(1000, 1200)])
    # The JOIN's batches may be in flight together and arrive in any order.
    chunks = [
        offline.join_inputs[i : i + BATCH_ROWS]
        for i in range(0, len(offline.join_inputs), BATCH_ROWS)
    ]
    assert [len(chunk) for chunk in chunks] == [300, 300, 300, 104]
    assert sorted(map(repr, bodies[1:])) == sorted(
        repr(expected_body(body_format, chunk)) for chunk in chunks
    )


@pytest.mark.parametrize(
    ("using", "message"),
    [
        pytest.param(
            {"url.train": "'http://127.0.0.1:1/train'"},
            "USING url.train does not apply to format 'mlflow': MLflow models are "
            "trained outside byom, which only calls url.predict",
            id="url-train",
        ),
        pytest.param(
            {"train_url": "'http://127.0.0.1:1/train'"},
            "USING train_url does not apply to format 'mlflow': MLflow models are "
            "trained outside byom, which only calls url.predict",
            id="train-url",
        ),
        pytest.param(
            {"body_format": "'pandas-split'"},
            "USING body_format = 'pandas-split' is unknown; use one of: "
            "dataframe_records, dataframe_split, inputs, csv, parquet",
            id="unknown-body-format",
        ),
        pytest.param(
            {"body_formt": "'dataframe_split'"},
            "USING body_formt is not a known key; known keys: batch_bytes, "
            "batch_rows, body_format, calls_in_flight, dtype_dict, engine, format, "
            "headers, join_learn_process, on_error, predict_timeout, predict_url, "
            "train_url, url.predict, url.train",
            id="misspelt-key",
        ),
        pytest.param(
            {"dtype_dict": '{"number_of_rooms": "integer"}'},
            "USING dtype_dict must list the model's input columns besides the "
            "PREDICT column 'number_of_rooms'",
            id="no-inputs",
        ),
    ],
)
def test_create_refuses_what_mlflow_cannot_do(
    byom: ByomProcess,
    mlflow_servers: dict[str, MlflowServeProcess],
    using: dict[str, str],
    message: str,
) -> None:
    url = mlflow_servers["classifier"].invocations_url
    assert error_of(byom, create_sql("refused", url, **using)) == (1210, message)
    assert error_of(byom, "SELECT * FROM refused WHERE initial_price = 1") == (
        1146,
        "Table 'mindsdb.refused' doesn't exist",
    )


def test_body_format_is_refused_for_ray_server(byom: ByomProcess) -> None:
    sql = (
        "CREATE PREDICTOR ray_split FROM mydb (SELECT number_of_rooms, initial_price "
        "FROM test_data.home_rentals) PREDICT number_of_rooms USING "
        "url.train = 'http://127.0.0.1:1/train', "
        "url.predict = 'http://127.0.0.1:1/predict', format = 'ray_server', "
        f"dtype_dict = {DTYPES}, body_format = 'dataframe_split'"
    )
    assert error_of(byom, sql) == (
        1210,
        "USING body_format applies to format 'mlflow' only, not 'ray_server'",
    )


def test_create_with_from_checks_one_row_and_then_answers(
    byom: ByomProcess,
    mlflow_servers: dict[str, MlflowServeProcess],
    offline: OfflineAnswers,
) -> None:
    source = (
        "FROM mydb (SELECT initial_price, rental_price FROM test_data.home_rentals)"
    )
    url = mlflow_servers["multi_output"].invocations_url
    byom.query(create_sql("probed", url, source))

    rows = byom.query(
        "SELECT number_of_rooms, number_of_rooms_confidence FROM probed "
        "WHERE initial_price = 5500 AND rental_price = 5600"
    )
    assert rows == [offline.single["multi_output"][(5500, 5600)]]


def test_create_with_from_fails_when_the_model_rejects_the_columns(
    byom: ByomProcess, mlflow_servers: dict[str, MlflowServeProcess]
) -> None:
    url = mlflow_servers["classifier"].invocations_url
    first = generate_rows(1)[0]
    names = [name for name, _ in COLUMNS]
    sent = {
        "sqft": first[names.index("sqft")],
        "days_on_market": first[names.index("days_on_market")],
    }
    status, answer = post_json(url, {"dataframe_records": [sent]})
    assert (status, answer["error_class"]) == (400, "SCHEMA_ENFORCEMENT_FAILED")
    expected = (
        f"predictor 'wrong_columns': {url} answered HTTP 400 "
        f"({answer['error_code']}): {mlflow_excerpt(answer['message'])} "
        "(byom sent the columns: sqft, days_on_market)"
    )

    sql = create_sql(
        "wrong_columns",
        url,
        "FROM mydb (SELECT sqft, days_on_market FROM test_data.home_rentals)",
        dtype_dict=(
            '{"sqft": "float", "days_on_market": "float", "number_of_rooms": "integer"}'
        ),
        join_learn_process="true",
    )
    assert error_of(byom, sql) == (1296, expected)
    assert error_of(byom, "SELECT * FROM wrong_columns WHERE sqft = 1") == (
        1105,
        f"predictor 'wrong_columns' failed to train: {expected}",
    )


def test_model_error_reaches_the_client_without_its_stack_trace(
    byom: ByomProcess,
    predictors: dict[tuple[str, str], str],
    mlflow_servers: dict[str, MlflowServeProcess],
) -> None:
    url = mlflow_servers["classifier"].invocations_url
    bad = {"initial_price": "abc", "rental_price": 1}
    status, answer = post_json(url, {"dataframe_records": [bad]})
    assert (status, answer["error_code"]) == (400, "BAD_REQUEST")

    code, message = error_of(
        byom,
        f"SELECT number_of_rooms FROM {predictors['classifier', DEFAULT_FORMAT]} "
        "WHERE initial_price = 'abc' AND rental_price = 1",
    )
    assert (code, message) == (
        1296,
        f"predictor 'classifier': {url} answered HTTP 400 (BAD_REQUEST): "
        f"{mlflow_excerpt(answer['message'])}",
    )
    assert "Traceback" not in json.dumps(message)


def test_csv_quotes_text_and_sends_null_as_an_empty_field(
    byom: ByomProcess,
    mlflow_servers: dict[str, MlflowServeProcess],
    offline: OfflineAnswers,
) -> None:
    # The models take numbers only; a text column they do not know is sent all
    # the same and dropped by the server, which must still parse the CSV.
    proxy = RawRecordingProxy(mlflow_servers["classifier"].base_url)
    proxy.start()
    try:
        dtypes = (
            '{"initial_price": "float", "rental_price": "float", '
            '"note": "short_text", "number_of_rooms": "integer"}'
        )
        sql = create_sql(
            "csv_note",
            proxy.url("/invocations"),
            dtype_dict=dtypes,
            body_format="'csv'",
        )
        byom.query(sql)
        where = "WHERE initial_price = 1000 AND rental_price = 1200"
        quoted = byom.query(
            f"SELECT number_of_rooms FROM csv_note {where} AND note = 'a,\"b\" c\nd'"
        )
        missing = byom.query(f"SELECT number_of_rooms FROM csv_note {where}")
        refused = error_of(
            byom, f"SELECT number_of_rooms FROM csv_note {where} AND note = 'NA'"
        )
    finally:
        proxy.stop()

    answer = [offline.single["classifier"][(1000, 1200)][:1]]
    assert (quoted, missing) == (answer, answer)
    assert [body for _, _, body in proxy.requests] == [
        b'initial_price,rental_price,note\r\n1000,1200,"a,""b"" c\nd"\r\n',
        b"initial_price,rental_price,note\r\n1000,1200,\r\n",
    ]
    assert refused == (
        1235,
        "predictor 'csv_note': column 'note' holds the text 'NA', which the MLflow "
        "server reads from CSV as a missing value; use USING body_format = "
        "'dataframe_records' to send it as text",
    )


def test_csv_body_writes_every_kind_of_value_exactly() -> None:
    columns = ["n", "x", "d", "flag", "text", "raw", "day"]
    rows = [
        (
            1000,
            0.1,
            decimal.Decimal("12.30"),
            True,
            'a,"b" c',
            b"\xc3\xa9t\xc3\xa9",
            None,
        ),
        (-7, 1e16, decimal.Decimal("1E-7"), False, "line\r\nbreak", None, None),
        (2**70, float("nan"), None, None, None, None, datetime.date(2024, 2, 29)),
    ]
    assert csv_body(columns, rows, "predictor 'p'") == (
        b"n,x,d,flag,text,raw,day\r\n"
        b'1000,0.1,12.30,true,"a,""b"" c",\xc3\xa9t\xc3\xa9,\r\n'
        b'-7,1e+16,1E-7,false,"line\r\nbreak",,\r\n'
        b"1180591620717411303424,,,,,,2024-02-29\r\n"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("NA", "NA", id="NA"),
        pytest.param("null", "null", id="null"),
        pytest.param(b"N/A", "N/A", id="bytes"),
    ],
)
def test_csv_body_refuses_text_the_server_reads_as_missing(
    value: Any, shown: str
) -> None:
    with pytest.raises(NotSupportedError) as caught:
        csv_body(["n", "note"], [(1, "fine"), (2, value)], "predictor 'p'")
    assert caught.value.message == (
        f"predictor 'p': column 'note' holds the text '{shown}', which the MLflow "
        "server reads from CSV as a missing value; use USING body_format = "
        "'dataframe_records' to send it as text"
    )


def test_parquet_body_picks_column_types_the_server_can_cast() -> None:
    columns = ["small", "big", "mixed", "real", "text", "empty", "flag"]
    rows = [
        (1, 2**40, 1, 0.5, "a", None, True),
        (None, -1, 2.5, float("inf"), b"b", None, False),
        (-(2**31), 3, None, decimal.Decimal("1.25"), None, None, None),
    ]
    table = pq.read_table(io.BytesIO(parquet_body(columns, rows, "predictor 'p'")))
    assert [(f.name, str(f.type)) for f in table.schema] == [
        ("small", "int32"),
        ("big", "int64"),
        ("mixed", "double"),
        ("real", "double"),
        ("text", "string"),
        ("empty", "null"),
        ("flag", "bool"),
    ]
    assert table.to_pydict() == {
        "small": [1, None, -(2**31)],
        "big": [2**40, -1, 3],
        "mixed": [1.0, 2.5, None],
        "real": [0.5, None, 1.25],
        "text": ["a", "b", None],
        "empty": [None, None, None],
        "flag": [True, False, None],
    }


def test_parquet_body_refuses_a_column_mixing_text_and_numbers() -> None:
    with pytest.raises(NotSupportedError) as caught:
        parquet_body(["n", "code"], [(1, "7"), (2, 8)], "predictor 'p'")
    assert caught.value.message == (
        "predictor 'p': column 'code' cannot be sent as one Parquet column "
        "(Expected bytes, got a 'int' object); use USING body_format = "
        "'dataframe_records'"
    )
