"""Call options: a predictor's USING batch_rows, batch_bytes, calls_in_flight and
predict_timeout, checked, normalised and falling back to the server's settings."""

from __future__ import annotations

from typing import Any

import pytest

from byom.backends.call_options import (
    CallOptions,
    call_options,
    check_call_options,
    predict_timeout_of,
)
from byom.catalog.records import Predictor
from byom.errors import WrongArgumentsError
from byom.settings import Settings


def predictor(**options: Any) -> Predictor:
    return Predictor(
        name="p",
        format="mlflow",
        target="y",
        dtype_dict={"x": "integer", "y": "integer"},
        predict_url="http://127.0.0.1:9/invocations",
        options=options,
    )


def test_settings_give_what_the_predictor_does_not() -> None:
    settings = Settings(batch_rows=500, batch_bytes=0, calls_in_flight=2)

    assert call_options(predictor(), settings) == CallOptions(
        batch_rows=500, batch_bytes=0, calls_in_flight=2
    )
    assert call_options(predictor(batch_rows=7), settings) == CallOptions(
        batch_rows=7, batch_bytes=0, calls_in_flight=2
    )
    assert call_options(
        predictor(batch_rows=7, batch_bytes=1024, calls_in_flight=1), settings
    ) == CallOptions(batch_rows=7, batch_bytes=1024, calls_in_flight=1)


def test_default_settings() -> None:
    assert call_options(predictor(), Settings()) == CallOptions(
        batch_rows=10_000, batch_bytes=16_777_216, calls_in_flight=4
    )


def test_predict_timeout_comes_from_the_options_when_given() -> None:
    assert predict_timeout_of(predictor(), 55.0) == 55.0
    assert predict_timeout_of(predictor(predict_timeout=2), 55.0) == 2.0


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({}, {}, id="none"),
        pytest.param(
            {"batch_rows": 100, "format": "mlflow"},
            {"batch_rows": 100, "format": "mlflow"},
            id="other-keys-kept",
        ),
        pytest.param({"batch_rows": 1e4}, {"batch_rows": 10_000}, id="integral-float"),
        pytest.param({"batch_bytes": 0}, {"batch_bytes": 0}, id="no-byte-limit"),
        pytest.param({"calls_in_flight": 1}, {"calls_in_flight": 1}, id="one-call"),
        pytest.param(
            {"predict_timeout": 2}, {"predict_timeout": 2.0}, id="timeout-float"
        ),
        pytest.param(
            {"predict_timeout": 0.25}, {"predict_timeout": 0.25}, id="fraction"
        ),
    ],
)
def test_check_call_options_normalises(
    given: dict[str, Any], expected: dict[str, Any]
) -> None:
    checked = check_call_options(given)

    assert checked == expected
    assert [type(v) for v in checked.values()] == [type(v) for v in expected.values()]


def test_check_call_options_leaves_its_argument_alone() -> None:
    given = {"batch_rows": 1e3}

    check_call_options(given)

    assert given == {"batch_rows": 1e3}


ROWS = "USING batch_rows must be a positive integer (rows per predict call), not "
BYTES = (
    "USING batch_bytes must be an integer, 0 or more (bytes, 0 for no byte limit), not "
)
CALLS = "USING calls_in_flight must be a positive integer (predict calls at once), not "
TIMEOUT = "USING predict_timeout must be a positive number (seconds), not "


@pytest.mark.parametrize(
    ("given", "message"),
    [
        pytest.param({"batch_rows": 0}, ROWS + "0", id="rows-zero"),
        pytest.param({"batch_rows": -5}, ROWS + "-5", id="rows-negative"),
        pytest.param({"batch_rows": 2.5}, ROWS + "2.5", id="rows-fraction"),
        pytest.param({"batch_rows": "x"}, ROWS + "'x'", id="rows-text"),
        pytest.param({"batch_rows": "100"}, ROWS + "'100'", id="rows-quoted-number"),
        pytest.param({"batch_rows": True}, ROWS + "TRUE", id="rows-bool"),
        pytest.param({"batch_rows": None}, ROWS + "NULL", id="rows-null"),
        pytest.param({"batch_rows": [1]}, ROWS + "a JSON array", id="rows-array"),
        pytest.param({"batch_bytes": -1}, BYTES + "-1", id="bytes-negative"),
        pytest.param({"calls_in_flight": 0}, CALLS + "0", id="calls-zero"),
        pytest.param({"predict_timeout": 0}, TIMEOUT + "0", id="timeout-zero"),
        pytest.param({"predict_timeout": -1.5}, TIMEOUT + "-1.5", id="negative"),
        pytest.param(
            {"predict_timeout": float("inf")}, TIMEOUT + "inf", id="timeout-infinite"
        ),
        pytest.param({"predict_timeout": "fast"}, TIMEOUT + "'fast'", id="text"),
    ],
)
def test_check_call_options_refuses_by_name(
    given: dict[str, Any], message: str
) -> None:
    with pytest.raises(WrongArgumentsError) as caught:
        check_call_options(given)

    assert caught.value.message == message
