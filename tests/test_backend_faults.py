"""Faulty model endpoints: byom retries what may pass, and reports what will not.

Each case runs a real byom and PyMySQL against ``ScriptedEndpoints``, a fake
that answers like a ray_server app or an MLflow scoring server but takes its
next answers from the test. Cases run for both formats, as a single-row query
and as a JOIN with the demo source, and assert the exact rows or error, how many
tries the model saw, and that other clients still get answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pymysql
import pytest

from byom.sources.demo import COLUMNS, generate_rows
from tests.support.byom_process import ByomProcess
from tests.support.fault_apps import Reply, ScriptedEndpoints, nan_body, nan_values
from tests.support.procs import free_port, wait_until

SETTINGS = {
    "predict_timeout": 1.0,
    "retries": 3,
    "retry_backoff": 0.05,
    "retry_max_wait": 0.3,
}
DTYPES = (
    '{"number_of_rooms": "integer", "initial_price": "integer", '
    '"rental_price": "integer"}'
)
FORMATS = ("ray_server", "mlflow")
SHAPES = ("single", "join")
ROUTE = {"ray_server": "predict", "mlflow": "invocations"}

SINGLE_SQL = (
    "SELECT number_of_rooms FROM {name} WHERE initial_price = 7 AND rental_price = 2"
)
JOIN_SQL = (
    "SELECT t.initial_price, m.number_of_rooms FROM mydb.test_data.home_rentals "
    "AS t JOIN mindsdb.{name} AS m WHERE t.rental_price > 8500"
)
_NAMES = [name for name, _ in COLUMNS]
# initial_price of the 84 demo rows the JOIN reads, in source order.
JOIN_PRICES = [
    row[_NAMES.index("initial_price")]
    for row in generate_rows()
    if row[_NAMES.index("rental_price")] > 8500
]


@dataclass(frozen=True)
class Case:
    """One predictor under test: its name, format, URL and query shape."""

    name: str
    model_format: str
    url: str
    shape: str

    @property
    def sql(self) -> str:
        return (SINGLE_SQL if self.shape == "single" else JOIN_SQL).format(
            name=self.name
        )

    @property
    def rows_sent(self) -> int:
        return 1 if self.shape == "single" else len(JOIN_PRICES)

    def rows(self, values: list[Any]) -> list[tuple[Any, ...]]:
        """The query's result when the model answers values (one per row sent)."""
        if self.shape == "single":
            return [(values[0],)]
        return list(zip(JOIN_PRICES, values, strict=True))

    def normal_rows(self) -> list[tuple[Any, ...]]:
        """The result when the model answers normally: initial_price % 4."""
        prices = [7] if self.shape == "single" else JOIN_PRICES
        return self.rows([price % 4 for price in prices])


@pytest.fixture(scope="module")
def byom(fake: ScriptedEndpoints) -> Iterator[ByomProcess]:
    """One byom with short timeouts and waits, and a healthy model per format."""
    server = ByomProcess(extra=SETTINGS)
    server.start()
    for model_format in FORMATS:
        name = f"healthy_{model_format}"
        server.query(create_sql(name, model_format, endpoint(fake, name, model_format)))
    yield server
    server.cleanup()


def endpoint(fake: ScriptedEndpoints, name: str, model_format: str) -> str:
    return fake.url(f"/{name}/{ROUTE[model_format]}")


def create_sql(
    name: str, model_format: str, predict_url: str, train_url: str | None = None
) -> str:
    """CREATE PREDICTOR that waits for training (or the MLflow check) to end."""
    using = f"url.predict = '{predict_url}', dtype_dict = {DTYPES}"
    if model_format == "mlflow":
        return (
            f"CREATE PREDICTOR {name} PREDICT number_of_rooms USING {using}, "
            "format = 'mlflow', join_learn_process = true"
        )
    train_url = train_url or predict_url.rsplit("/", 1)[0] + "/train"
    return (
        f"CREATE PREDICTOR {name} FROM mydb (SELECT number_of_rooms, initial_price, "
        f"rental_price FROM test_data.home_rentals) PREDICT number_of_rooms USING "
        f"{using}, url.train = '{train_url}', format = 'ray_server', "
        "join_learn_process = true"
    )


def make_case(
    byom: ByomProcess,
    fake: ScriptedEndpoints,
    label: str,
    model_format: str,
    shape: str,
    url: str | None = None,
) -> Case:
    name = f"{label}_{model_format}_{shape}".replace("-", "_")
    case = Case(name, model_format, url or endpoint(fake, name, model_format), shape)
    byom.query(create_sql(name, model_format, case.url, fake.url(f"/{name}/train")))
    return case


def error_of(byom: ByomProcess, sql: str) -> tuple[int, str]:
    """Run sql, expecting an error; return (code, message)."""
    with byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(sql)
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == ((1,),), "the connection must keep working"
    return caught.value.args[0], caught.value.args[1]


def assert_other_clients_get_answers(byom: ByomProcess) -> None:
    with byom.connect() as connection, connection.cursor() as cursor:
        for model_format in FORMATS:
            cursor.execute(SINGLE_SQL.format(name=f"healthy_{model_format}"))
            assert cursor.fetchall() == ((3,),)


def excerpt(body: bytes) -> str:
    """The start of an answer as byom quotes it in errors."""
    text = body[:200].decode().strip()
    return text + ("..." if len(body) > 200 else "")


def retry_lines(byom: ByomProcess, url: str) -> list[str]:
    """The WARNING lines byom logged for retries of calls to url."""
    return [
        line
        for line in byom.log().splitlines()
        if " WARNING byom.backends.http: " in line and f": {url} gave " in line
    ]


def too_many(key: str) -> Callable[[int], bytes]:
    return lambda rows: json.dumps({key: [1] * (rows + 1)}).encode()


# Error messages by case; ``{excerpt}`` is filled from the scripted body.
Expect = Callable[[Case], tuple[int, str]]


def _ray_and_mlflow(
    label: str,
    replies: dict[str, tuple[Reply, ...]],
    expected: dict[str, Expect | str],
    tries: int,
) -> list[Any]:
    return [
        pytest.param(
            model_format,
            label,
            replies[model_format],
            expected[model_format],
            tries,
            id=f"{model_format}-{label}",
        )
        for model_format in FORMATS
    ]


BOOM = Reply(500, b"boom", "text/plain")
NOT_JSON = Reply(200, b"<html>proxy login</html>", "text/html")
MISSING = Reply(200, b'{"result": [1]}')

FAULTS = [
    *_ray_and_mlflow(
        "503-then-answers",
        {f: (Reply(503, b"busy", "text/plain"),) for f in FORMATS},
        {f: "answers" for f in FORMATS},
        tries=2,
    ),
    *_ray_and_mlflow(
        "500-on-every-try",
        {f: (BOOM, BOOM, BOOM) for f in FORMATS},
        {
            f: lambda c: (
                1296,
                f"predictor '{c.name}': {c.url} answered HTTP 500: boom",
            )
            for f in FORMATS
        },
        tries=3,
    ),
    *_ray_and_mlflow(
        "not-json",
        {f: (NOT_JSON,) for f in FORMATS},
        {
            f: lambda c: (
                1296,
                f"predictor '{c.name}': {c.url} answered HTTP 200 with a body that "
                "is not a JSON object: <html>proxy login</html>",
            )
            for f in FORMATS
        },
        tries=1,
    ),
    *_ray_and_mlflow(
        "missing-key",
        {f: (MISSING,) for f in FORMATS},
        {
            "ray_server": lambda c: (
                1296,
                f"predictor '{c.name}': {c.url} answered without a 'prediction' "
                'key: {"result": [1]}',
            ),
            "mlflow": lambda c: (
                1296,
                f"predictor '{c.name}': {c.url} answered without a 'predictions' "
                'key: {"result": [1]}',
            ),
        },
        tries=1,
    ),
    *_ray_and_mlflow(
        "wrong-row-count",
        {
            "ray_server": (Reply(body=too_many("prediction")),),
            "mlflow": (Reply(body=too_many("predictions")),),
        },
        {
            "ray_server": lambda c: (
                1296,
                f"predictor '{c.name}': {c.url} answered {c.rows_sent + 1} values in "
                f"'prediction' for {c.rows_sent} rows sent: "
                + excerpt(too_many("prediction")(c.rows_sent)),
            ),
            "mlflow": lambda c: (
                1296,
                f"predictor '{c.name}': {c.url} answered {c.rows_sent + 1} "
                f"predictions for {c.rows_sent} rows sent: "
                + excerpt(too_many("predictions")(c.rows_sent)),
            ),
        },
        tries=1,
    ),
    *_ray_and_mlflow(
        "nan-and-infinity-are-null",
        {
            "ray_server": (Reply(body=nan_body("prediction")),),
            "mlflow": (Reply(body=nan_body("predictions")),),
        },
        {f: "nan" for f in FORMATS},
        tries=1,
    ),
    pytest.param(
        "mlflow",
        "error-body",
        (
            Reply(
                400,
                json.dumps(
                    {
                        "error_code": "INVALID_PARAMETER_VALUE",
                        "message": "Model is missing inputs ['sqft'].",
                        "sqlstate": "KAM01",
                        "error_class": "SCHEMA_ENFORCEMENT_FAILED",
                        "stack_trace": "Traceback: /srv/models/secret.py line 1",
                    }
                ).encode(),
            ),
        ),
        lambda c: (
            1296,
            f"predictor '{c.name}': {c.url} answered HTTP 400 "
            "(INVALID_PARAMETER_VALUE): Model is missing inputs ['sqft']. "
            "(byom sent the columns: initial_price, rental_price)",
        ),
        1,
        id="mlflow-error-body-without-stack-trace",
    ),
    pytest.param(
        "ray_server",
        "http-400",
        (Reply(400, b'{"error": "bad input"}'),),
        lambda c: (
            1296,
            f"predictor '{c.name}': {c.url} answered HTTP 400: "
            '{"error": "bad input"}',
        ),
        1,
        id="ray_server-http-400-is-not-retried",
    ),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("model_format", "label", "replies", "expected", "tries"), FAULTS
)
def test_fault(
    byom: ByomProcess,
    fake: ScriptedEndpoints,
    shape: str,
    model_format: str,
    label: str,
    replies: tuple[Reply, ...],
    expected: Expect | str,
    tries: int,
) -> None:
    case = make_case(byom, fake, label, model_format, shape)
    fake.script(case.name, ROUTE[model_format], *replies)

    if expected == "answers":
        assert byom.query(case.sql) == case.normal_rows()
    elif expected == "nan":
        assert byom.query(case.sql) == case.rows(nan_values(case.rows_sent))
    else:
        assert callable(expected)
        assert error_of(byom, case.sql) == expected(case)

    calls = fake.calls(case.name, ROUTE[model_format])
    assert [c.rows for c in calls] == [case.rows_sent] * tries
    assert_other_clients_get_answers(byom)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("model_format", FORMATS)
def test_refused_connection_is_retried_then_error_1429(
    byom: ByomProcess, fake: ScriptedEndpoints, model_format: str, shape: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/{ROUTE[model_format]}"
    case = make_case(byom, fake, "refused", model_format, shape, url=dead)

    assert error_of(byom, case.sql) == (
        1429,
        f"predictor '{case.name}': cannot connect to model endpoint {dead}: "
        "Connection refused",
    )
    lines = retry_lines(byom, dead)
    assert [line.split(" gave ")[1].split(";")[0] for line in lines] == [
        "Connection refused",
        "Connection refused",
    ]
    assert_other_clients_get_answers(byom)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("model_format", FORMATS)
def test_slow_model_times_out_once_while_other_clients_get_answers(
    byom: ByomProcess, fake: ScriptedEndpoints, model_format: str, shape: str
) -> None:
    case = make_case(byom, fake, "slow", model_format, shape)
    fake.script(case.name, ROUTE[model_format], Reply(delay=3.0))

    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(error_of, byom, case.sql)
        wait_until(lambda: bool(fake.calls(case.name)), 5, "the slow call")
        assert_other_clients_get_answers(byom)
        assert not slow.done()
        assert slow.result(10) == (
            1429,
            f"predictor '{case.name}': model endpoint {case.url} did not answer "
            "within 1 s",
        )
    # Not retried: each try would add a whole timeout to the client's wait.
    assert len(fake.calls(case.name, ROUTE[model_format])) == 1


@pytest.mark.parametrize(
    ("retry_after", "least", "most"),
    [
        pytest.param("0.25", 0.25, 0.29, id="honoured"),
        pytest.param("30", 0.3, 0.9, id="capped-by-retry-max-wait"),
    ],
)
@pytest.mark.parametrize("model_format", FORMATS)
def test_429_waits_as_retry_after_says(
    byom: ByomProcess,
    fake: ScriptedEndpoints,
    model_format: str,
    retry_after: str,
    least: float,
    most: float,
) -> None:
    label = f"retry-after-{retry_after.replace('.', '')}"
    case = make_case(byom, fake, label, model_format, "single")
    busy = Reply(429, b"slow down", "text/plain", {"Retry-After": retry_after})
    fake.script(case.name, ROUTE[model_format], busy)

    assert byom.query(case.sql) == case.normal_rows()
    first, second = fake.calls(case.name, ROUTE[model_format])
    assert least <= second.arrived - first.arrived < most
    assert_other_clients_get_answers(byom)


@pytest.mark.parametrize("model_format", FORMATS)
def test_request_id_is_kept_across_retries_and_new_per_call(
    byom: ByomProcess, fake: ScriptedEndpoints, model_format: str
) -> None:
    case = make_case(byom, fake, "request-id", model_format, "single")
    route = ROUTE[model_format]
    busy = Reply(503, b"busy", "text/plain")
    fake.script(case.name, route, busy, busy)

    assert byom.query(case.sql) == case.normal_rows()
    assert byom.query(case.sql) == case.normal_rows()
    ids = [c.request_id for c in fake.calls(case.name, route)]
    assert len(ids) == 4
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert all(re.fullmatch("[0-9a-f]{32}", str(i)) for i in ids)
    assert {c.content_type for c in fake.calls(case.name)} == {"application/json"}

    logged = retry_lines(byom, case.url)
    assert [
        line.split("byom.backends.http: ")[1].split(" in ")[0] for line in logged
    ] == [
        f"predictor '{case.name}': {case.url} gave HTTP 503; try 2 of 3",
        f"predictor '{case.name}': {case.url} gave HTTP 503; try 3 of 3",
    ]
    assert all(line.endswith(f"(request {ids[0]})") for line in logged)
    train_ids = {c.request_id for c in fake.calls(case.name, "train")}
    assert len(train_ids) == (1 if model_format == "ray_server" else 0)
    assert not train_ids & set(ids)


@pytest.mark.parametrize(
    ("replies", "created", "tries"),
    [
        pytest.param((BOOM,), False, 1, id="500-is-not-retried"),
        pytest.param(
            (Reply(503, b"boom", "text/plain"),), False, 1, id="503-is-not-retried"
        ),
        pytest.param(
            (Reply(429, b"later", "text/plain", {"Retry-After": "0"}),),
            True,
            2,
            id="429-is-retried",
        ),
    ],
)
def test_train_call_is_repeated_only_when_it_cannot_have_run(
    byom: ByomProcess,
    fake: ScriptedEndpoints,
    replies: tuple[Reply, ...],
    created: bool,
    tries: int,
) -> None:
    name = f"train_{replies[0].status}"
    train_url = fake.url(f"/{name}/train")
    fake.script(name, "train", *replies)
    sql = create_sql(name, "ray_server", endpoint(fake, name, "ray_server"))

    if created:
        byom.query(sql)
        assert byom.query(SINGLE_SQL.format(name=name)) == [(3,)]
    else:
        status = replies[0].status
        message = (
            f"training predictor '{name}' failed: {train_url} answered HTTP "
            f"{status}: boom"
        )
        assert error_of(byom, sql) == (1296, message)
        assert error_of(byom, SINGLE_SQL.format(name=name)) == (
            1105,
            f"predictor '{name}' failed to train: {message}",
        )
    assert len(fake.calls(name, "train")) == tries
    assert_other_clients_get_answers(byom)


def test_refused_train_call_is_retried(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/train"
    sql = create_sql(
        "train_refused",
        "ray_server",
        endpoint(fake, "train_refused", "ray_server"),
        dead,
    )

    assert error_of(byom, sql) == (
        1429,
        f"predictor 'train_refused': cannot connect to model endpoint {dead}: "
        "Connection refused",
    )
    assert len(retry_lines(byom, dead)) == 2
    assert_other_clients_get_answers(byom)


def test_call_stats_count_calls_rows_retries_and_errors(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    case = make_case(byom, fake, "stats", "ray_server", "join")
    fake.script(case.name, "predict", Reply(503, b"busy", "text/plain"))
    assert byom.query(case.sql) == case.normal_rows()
    fake.script(case.name, "predict", Reply(400, b"bad input", "text/plain"))
    assert error_of(byom, case.sql)[0] == 1296

    found = byom.query(
        "SELECT name, kind, calls, rows_sent, retries, errors, p50_ms, p99_ms "
        f"FROM mindsdb.call_stats WHERE name = '{case.name}' ORDER BY kind"
    )

    assert [row[:6] for row in found] == [
        (case.name, "predict", 2, 2 * len(JOIN_PRICES), 1, 1),
        (case.name, "train", 1, len(generate_rows()), 0, 0),
    ]
    for *_, p50, p99 in found:
        assert isinstance(p50, float) and 0 < p50 <= p99
    byom.query(f"DROP PREDICTOR {case.name}")
    assert (
        byom.query(f"SELECT * FROM mindsdb.call_stats WHERE name = '{case.name}'") == []
    )


@pytest.mark.parametrize(
    ("label", "reply", "answer"),
    [
        pytest.param(
            "not_json",
            Reply(200, b"<html>proxy login</html>", "text/html"),
            "HTTP 200: <html>proxy login</html>",
            id="not-json",
        ),
        pytest.param(
            "not_ok",
            Reply(200, b'{"status": "failed", "detail": "no rows"}'),
            'HTTP 200: {"status": "failed", "detail": "no rows"}',
            id="status-not-ok",
        ),
        pytest.param(
            "no_status", Reply(200, b"{}"), "HTTP 200: {}", id="missing-status"
        ),
        pytest.param(
            "teapot",
            Reply(418, b'{"status": "ok"}'),
            'HTTP 418: {"status": "ok"}',
            id="ok-body-with-error-status",
        ),
    ],
)
def test_train_answer_that_breaks_the_contract_fails_the_predictor(
    byom: ByomProcess, fake: ScriptedEndpoints, label: str, reply: Reply, answer: str
) -> None:
    name = f"train_{label}"
    train_url = fake.url(f"/{name}/train")
    fake.script(name, "train", reply)
    message = f"training predictor '{name}' failed: {train_url} answered {answer}"

    sql = create_sql(name, "ray_server", endpoint(fake, name, "ray_server"))

    assert error_of(byom, sql) == (1296, message)
    assert byom.query(
        f"SELECT status, error FROM mindsdb.predictors WHERE name = '{name}'"
    ) == [("error", message)]
    assert len(fake.calls(name, "train")) == 1
    assert_other_clients_get_answers(byom)


def test_slow_train_answer_within_its_timeout_completes(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    name = "train_slow"
    fake.script(name, "train", Reply(200, b'{"status": "ok"}', delay=1.5))

    byom.query(create_sql(name, "ray_server", endpoint(fake, name, "ray_server")))

    assert byom.query(SINGLE_SQL.format(name=name)) == [(3,)]
    assert byom.query(
        f"SELECT name, kind, calls, errors FROM mindsdb.call_stats "
        f"WHERE name = '{name}' AND kind = 'train'"
    ) == [(name, "train", 1, 0)]


def test_train_call_past_train_timeout_fails_the_predictor(
    fake: ScriptedEndpoints,
) -> None:
    server = ByomProcess(extra={**SETTINGS, "train_timeout": 1.0})
    server.start()
    try:
        name = "train_too_slow"
        fake.script(name, "train", Reply(200, b'{"status": "ok"}', delay=5))
        sql = create_sql(name, "ray_server", endpoint(fake, name, "ray_server"))
        message = f"training predictor '{name}' took longer than train_timeout (1 s)"

        assert error_of(server, sql) == (1105, message)
        assert server.query(
            f"SELECT status, error FROM mindsdb.predictors WHERE name = '{name}'"
        ) == [("error", message)]
        assert len(fake.calls(name, "train")) == 1
    finally:
        server.cleanup()


def test_single_row_error_names_the_inputs_sent_as_null(
    byom: ByomProcess, fake: ScriptedEndpoints
) -> None:
    case = make_case(byom, fake, "null-inputs", "ray_server", "single")
    fake.script(case.name, "predict", BOOM, BOOM, BOOM)

    assert error_of(
        byom, f"SELECT number_of_rooms FROM {case.name} WHERE initial_price = 7"
    ) == (
        1296,
        f"predictor '{case.name}': {case.url} answered HTTP 500: boom "
        "(inputs sent as NULL: rental_price)",
    )
    assert [c.body["df"] for c in fake.calls(case.name, "predict")][0] == (
        '[{"initial_price":7,"rental_price":null}]'
    )
