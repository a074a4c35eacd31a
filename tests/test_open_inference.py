"""The ``open_inference`` format against the real MLServer, through PyMySQL.

``fixtures/mlserver/make_models.py`` trains one classifier of ``number_of_rooms``
on generated rows and serves it three ways under one ``mlserver start``: with
declared inputs, without them, and behind a custom runtime that also answers a
``confidence`` output. The values byom returns are compared with what the same
model answered in the process that built it, batch by batch as byom sends them
(one row, or ``BATCH_ROWS`` rows of the JOIN), so a wrong tensor order, a lost
row or a bad cast shows up as a wrong value. A small in-process app answers
what MLServer never does (NaN, the wrong row count, a wide output).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
from aiohttp import web

from byom.sources.demo import COLUMNS, generate_rows
from tests.support.byom_process import ByomProcess
from tests.support.http_apps import BackgroundApp
from tests.support.mlserver_backend import MlserverProcess, build_models, post_json

DTYPES = '{"sqft": "integer", "initial_price": "float", "number_of_rooms": "integer"}'
# The seed's JOIN filter: 1004 of the 5000 demo rows.
JOIN_FILTER = "t.rental_price > 5300"
SINGLE_INPUTS = [(900, 3000), (500, 1200), (1100, 5000)]
SCORED = ("rooms", "rooms_confidence")
BATCH_ROWS = 300
# Predictors on the scripted endpoint, one per test case.
_NAMES = itertools.count()

Key = tuple[int, int]
Answer = tuple[int, float | None]


@dataclass(frozen=True)
class OfflineAnswers:
    """What each model answered in-process: (number_of_rooms, confidence).

    ``single`` is by (sqft, initial_price) scored alone; ``join`` is the JOIN's
    rows in source order, scored in byom's batches.
    """

    single: dict[str, dict[Key, Answer]]
    join: dict[str, list[Answer]]
    join_inputs: list[Key]
    models_dir: Path


def demo_join_inputs() -> list[Key]:
    """(sqft, initial_price) of the demo rows the JOIN reads, in order."""
    names = [name for name, _ in COLUMNS]
    sqft, initial = names.index("sqft"), names.index("initial_price")
    rental = names.index("rental_price")
    return [(r[sqft], r[initial]) for r in generate_rows() if r[rental] > 5300]


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> OfflineAnswers:
    """Build the models once and keep their in-process answers."""
    out = tmp_path_factory.mktemp("mlserver") / "models"
    join_inputs = demo_join_inputs()
    join_batches = [
        join_inputs[i : i + BATCH_ROWS] for i in range(0, len(join_inputs), BATCH_ROWS)
    ]
    batches = [[key] for key in SINGLE_INPUTS] + join_batches
    answers = build_models(
        out, [[{"sqft": a, "initial_price": b} for a, b in keys] for keys in batches]
    )

    scored: dict[str, list[list[Answer]]] = {
        "rooms": [[(rooms, None) for rooms in batch] for batch in answers["rooms"]],
        "rooms_confidence": [
            [(rooms, confidence) for rooms, confidence in batch]
            for batch in answers["rooms_confidence"]
        ],
    }
    count = len(SINGLE_INPUTS)
    return OfflineAnswers(
        single={
            model: {
                key: batch[0]
                for key, batch in zip(SINGLE_INPUTS, by_batch[:count], strict=True)
            }
            for model, by_batch in scored.items()
        },
        join={
            model: [answer for batch in by_batch[count:] for answer in batch]
            for model, by_batch in scored.items()
        },
        join_inputs=join_inputs,
        models_dir=out,
    )


@pytest.fixture(scope="module")
def mlserver(offline: OfflineAnswers) -> Iterator[MlserverProcess]:
    """One MLServer serving the three models."""
    with MlserverProcess(offline.models_dir) as server:
        yield server


@pytest.fixture(scope="module")
def byom() -> Iterator[ByomProcess]:
    """One byom for the module; small batches so a JOIN makes several calls."""
    server = ByomProcess(extra={"batch_rows": BATCH_ROWS})
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def predictors(byom: ByomProcess, mlserver: MlserverProcess) -> dict[str, str]:
    """One predictor per scored model, created without FROM; name by model."""
    for model in SCORED:
        byom.query(create_sql(model, mlserver.model_url(model)))
    return {model: model for model in SCORED}


def create_sql(name: str, url: str, source: str = "", **using: str) -> str:
    """CREATE PREDICTOR for an Open Inference model, with USING overrides."""
    target = using.pop("predict", "number_of_rooms")
    items = {
        "url.predict": f"'{url}'",
        "dtype_dict": DTYPES,
        "format": "'open_inference'",
        **using,
    }
    listed = ", ".join(f"{k} = {v}" for k, v in items.items())
    return f"CREATE PREDICTOR {name} {source} PREDICT {target} USING {listed}"


def error_of(byom: ByomProcess, sql: str) -> tuple[int, str]:
    """Run sql, expecting an error; return (code, message)."""
    with byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(sql)
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == ((1,),), "the connection must keep working"
    return caught.value.args[0], caught.value.args[1]


@pytest.mark.parametrize("model", SCORED)
@pytest.mark.parametrize(
    "key", [pytest.param(key, id=f"{key[0]}-{key[1]}") for key in SINGLE_INPUTS]
)
def test_single_row_prediction_matches_the_model(
    byom: ByomProcess,
    predictors: dict[str, str],
    offline: OfflineAnswers,
    model: str,
    key: Key,
) -> None:
    rows = byom.query(
        f"SELECT number_of_rooms, number_of_rooms_confidence FROM {predictors[model]} "
        f"WHERE sqft = {key[0]} AND initial_price = {key[1]}"
    )
    assert rows == [offline.single[model][key]]


def test_select_star_pins_the_values(
    byom: ByomProcess, predictors: dict[str, str], offline: OfflineAnswers
) -> None:
    # Pinned literals, cross-checked with the model's own answers, so that a
    # drift of the trained model is told apart from a bug in byom.
    assert offline.single["rooms_confidence"][(900, 3000)] == (1, 0.976914670594933)
    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM rooms_confidence WHERE sqft = 900 AND initial_price = 3000"
        )
        assert [d[0] for d in cursor.description] == [
            "sqft",
            "initial_price",
            "number_of_rooms",
            "number_of_rooms_confidence",
        ]
        assert cursor.fetchall() == ((900, 3000, 1, 0.976914670594933),)


@pytest.mark.parametrize("model", SCORED)
def test_join_with_the_demo_source_matches_the_model(
    byom: ByomProcess, predictors: dict[str, str], offline: OfflineAnswers, model: str
) -> None:
    rows = byom.query(
        "SELECT t.sqft, t.initial_price, m.number_of_rooms, "
        "m.number_of_rooms_confidence "
        f"FROM mydb.test_data.home_rentals AS t JOIN mindsdb.{predictors[model]} AS m "
        f"WHERE {JOIN_FILTER}"
    )
    expected = [
        key + answer
        for key, answer in zip(offline.join_inputs, offline.join[model], strict=True)
    ]
    assert len(rows) == 1004
    assert rows == expected


@pytest.mark.parametrize(
    "suffix",
    [
        pytest.param("", id="base-url"),
        pytest.param("/", id="base-url-with-slash"),
        pytest.param("/infer", id="infer-url"),
    ],
)
def test_url_predict_is_the_model_or_its_infer_url(
    byom: ByomProcess, mlserver: MlserverProcess, offline: OfflineAnswers, suffix: str
) -> None:
    name = "url_form" + suffix.replace("/", "_")
    byom.query(create_sql(name, mlserver.model_url("rooms") + suffix))
    rows = byom.query(
        f"SELECT number_of_rooms FROM {name} WHERE sqft = 500 AND initial_price = 1200"
    )
    assert rows == [offline.single["rooms"][(500, 1200)][:1]]


@pytest.mark.parametrize(
    ("name", "model", "using", "stored", "expected"),
    [
        pytest.param(
            "wrong_column",
            "rooms",
            {
                "dtype_dict": '{"sqft": "integer", "days_on_market": "integer", '
                '"number_of_rooms": "integer"}'
            },
            True,
            (
                1210,
                "predictor 'wrong_column': USING dtype_dict column 'days_on_market' "
                "is not an input of model 'rooms' at {url} (its inputs: sqft, "
                "initial_price)",
            ),
            id="column-the-model-does-not-take",
        ),
        pytest.param(
            "missing_input",
            "rooms",
            {"dtype_dict": '{"sqft": "integer", "number_of_rooms": "integer"}'},
            True,
            (
                1210,
                "predictor 'missing_input': model 'rooms' at {url} needs the input "
                "'initial_price', which USING dtype_dict lacks",
            ),
            id="input-the-model-needs",
        ),
        pytest.param(
            "input_as_target",
            "rooms",
            {
                "dtype_dict": '{"sqft": "integer", "initial_price": "float"}',
                "predict": "initial_price",
            },
            True,
            (
                1210,
                "predictor 'input_as_target': model 'rooms' at {url} takes "
                "'initial_price' as an input, but it is the PREDICT column",
            ),
            id="target-is-a-model-input",
        ),
        pytest.param(
            "unknown_model",
            "nope",
            {},
            True,
            (
                1296,
                "predictor 'unknown_model': {url} answered HTTP 404: Model nope "
                "not found",
            ),
            id="unknown-model",
        ),
        pytest.param(
            "not_a_model_url",
            "",
            {},
            False,
            (
                1210,
                "USING url.predict of format 'open_inference' must name a model, as "
                "http://host:port/v2/models/NAME (optionally with /versions/V, and "
                "/infer): {url} does not",
            ),
            id="url-naming-no-model",
        ),
        pytest.param(
            "with_train_url",
            "rooms",
            {"url.train": "'http://127.0.0.1:1/train'"},
            False,
            (
                1210,
                "USING url.train does not apply to format 'open_inference': its "
                "models are trained outside byom, which only calls url.predict",
            ),
            id="url-train",
        ),
    ],
)
def test_create_refuses_what_the_model_cannot_serve(
    byom: ByomProcess,
    mlserver: MlserverProcess,
    name: str,
    model: str,
    using: dict[str, str],
    stored: bool,
    expected: tuple[int, str],
) -> None:
    url = mlserver.model_url(model) if model else f"{mlserver.base_url}/v2/health"
    code, message = expected[0], expected[1].format(url=url)
    sql = create_sql(name, url, join_learn_process="true", **using)

    assert error_of(byom, sql) == (code, message)
    refused = error_of(byom, f"SELECT * FROM {name} WHERE sqft = 1")
    if stored:
        assert refused == (1105, f"predictor '{name}' failed to train: {message}")
    else:
        assert refused == (1146, f"Table 'mindsdb.{name}' doesn't exist")


def test_create_with_from_checks_the_columns_and_one_row(
    byom: ByomProcess, mlserver: MlserverProcess, offline: OfflineAnswers
) -> None:
    source = "FROM mydb (SELECT sqft, initial_price FROM test_data.home_rentals)"
    byom.query(
        create_sql(
            "probed",
            mlserver.model_url("rooms_confidence"),
            source,
            join_learn_process="true",
        )
    )
    rows = byom.query(
        "SELECT number_of_rooms, number_of_rooms_confidence FROM probed "
        "WHERE sqft = 1100 AND initial_price = 5000"
    )
    assert rows == [offline.single["rooms_confidence"][(1100, 5000)]]


def test_endpoint_error_reaches_the_client_without_the_traceback(
    byom: ByomProcess, mlserver: MlserverProcess
) -> None:
    # A model that declares no inputs cannot be checked at CREATE; its error
    # at query time is a 500 whose plain-text body is a Python traceback.
    url = mlserver.model_url("rooms_undeclared")
    body = {
        "inputs": [
            {"name": "sqft", "shape": [1], "datatype": "INT64", "data": [900]},
            {"name": "days_on_market", "shape": [1], "datatype": "INT64", "data": [9]},
        ]
    }
    status, answer = post_json(url + "/infer", body)
    assert status == 500
    assert answer.startswith(b"Traceback (most recent call last):")

    dtypes = (
        '{"sqft": "integer", "days_on_market": "integer", "number_of_rooms": "integer"}'
    )
    byom.query(create_sql("undeclared", url, dtype_dict=dtypes))
    code, message = error_of(
        byom,
        "SELECT number_of_rooms FROM undeclared "
        "WHERE sqft = 900 AND days_on_market = 9",
    )
    assert (code, message) == (
        1296,
        f"predictor 'undeclared': {url}/infer answered HTTP 500: ValueError: The "
        "feature names should match those that were passed during fit. Feature "
        "names unseen at fit time: - days_on_market Feature names seen at fit "
        "time, yet now missing: - initial_price",
    )
    assert "site-packages" not in message


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        pytest.param(
            "sqft = 900 AND initial_price = 'abc'",
            (
                1210,
                "predictor 'rooms': column 'initial_price' holds 'abc', which the "
                "model's FP64 input 'initial_price' cannot take",
            ),
            id="text-in-a-number-tensor",
        ),
        pytest.param(
            "sqft = 900.5 AND initial_price = 3000",
            (
                1210,
                "predictor 'rooms': column 'sqft' holds 900.5, which "
                "the model's INT64 input 'sqft' cannot take",
            ),
            id="fraction-in-an-integer-tensor",
        ),
    ],
)
def test_values_a_tensor_cannot_hold_are_refused_before_the_call(
    byom: ByomProcess, predictors: dict[str, str], where: str, expected: tuple[int, str]
) -> None:
    assert (
        error_of(byom, f"SELECT number_of_rooms FROM rooms WHERE {where}") == expected
    )


class ScriptedInference(BackgroundApp):
    """An Open Inference endpoint whose infer answer a test sets; records bodies."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: dict[str, Any] = {}
        self.bodies: list[dict[str, Any]] = []

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2/models/m", self._metadata)
        app.router.add_post("/v2/models/m/infer", self._infer)
        return app

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "m", "inputs": []})

    async def _infer(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        # NaN is written as Python's json module writes it.
        return web.Response(
            text=json.dumps(self.answer), content_type="application/json"
        )


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedInference]:
    app = ScriptedInference()
    app.start()
    yield app
    app.stop()


def _output(name: str, shape: list[int], data: list[Any]) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": "FP64", "data": data}


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        pytest.param(
            [_output("predict", [1], [float("nan")]), _output("lower", [1, 1], [2.5])],
            [(None, 2.5)],
            id="nan-is-null-and-lower-is-min",
        ),
        pytest.param(
            [_output("other", [1], [7.0]), _output("Number_Of_Rooms", [1], [3.0])],
            [(3.0, None)],
            id="output-named-like-the-target-wins",
        ),
    ],
)
def test_outputs_become_columns(
    byom: ByomProcess,
    scripted: ScriptedInference,
    outputs: list[dict[str, Any]],
    expected: list[tuple[Any, ...]],
) -> None:
    name = f"scripted_{next(_NAMES)}"
    byom.query(create_sql(name, scripted.url("/v2/models/m")))
    scripted.answer = {"outputs": outputs}
    rows = byom.query(
        f"SELECT number_of_rooms, number_of_rooms_min FROM {name} "
        "WHERE sqft = 900 AND initial_price = 3000"
    )
    assert rows == expected
    assert scripted.bodies[-1] == {
        "inputs": [
            {"name": "sqft", "shape": [1], "datatype": "INT64", "data": [900]},
            {
                "name": "initial_price",
                "shape": [1],
                "datatype": "FP64",
                "data": [3000.0],
            },
        ]
    }


@pytest.mark.parametrize(
    ("outputs", "problem"),
    [
        pytest.param(
            [_output("predict", [2], [1.0, 2.0])],
            "output 'predict' of shape [2] for 1 rows sent",
            id="wrong-row-count",
        ),
        pytest.param(
            [_output("predict", [1, 3], [0.1, 0.2, 0.7])],
            "output 'predict' of shape [1, 3], with 3 values per row where byom "
            "takes one",
            id="several-values-per-row",
        ),
        pytest.param(
            [_output("predict", [1], [])],
            "0 values in output 'predict' for 1 rows sent",
            id="shape-and-data-disagree",
        ),
        pytest.param([], "without an 'outputs' list", id="no-outputs"),
    ],
)
def test_answers_that_do_not_fit_the_rows_are_refused(
    byom: ByomProcess,
    scripted: ScriptedInference,
    outputs: list[dict[str, Any]],
    problem: str,
) -> None:
    name = f"misfit_{next(_NAMES)}"
    byom.query(create_sql(name, scripted.url("/v2/models/m")))
    scripted.answer = {"outputs": outputs}
    body = json.dumps(scripted.answer)
    code, message = error_of(
        byom, f"SELECT number_of_rooms FROM {name} WHERE sqft = 1 AND initial_price = 2"
    )
    assert (code, message) == (
        1296,
        f"predictor '{name}': {scripted.url('/v2/models/m/infer')} answered "
        f"{problem}: {body}",
    )
