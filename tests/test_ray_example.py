"""The example Ray Serve model against its contract, on a real Ray Serve server.

One server serves the whole module. The tests run in file order on purpose: the
first one needs a model that has never been trained, and the last one stops the
server.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.support.procs import descendants, is_running, session_members
from tests.support.ray_backend import RayServeProcess, post_json

REPO_ROOT = Path(__file__).resolve().parents[1]
HOME_RENTALS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "home_rentals.csv"
)
COLUMNS = ["number_of_rooms", "initial_price", "rental_price"]
TARGET = "number_of_rooms"
PREDICT_ROWS = 20

sys.path.insert(0, str(REPO_ROOT / "examples" / "ray_serve"))
import training  # noqa: E402  (lives beside the model, not in a package)


@pytest.fixture(scope="module")
def server() -> Iterator[RayServeProcess]:
    with RayServeProcess() as running:
        yield running


@pytest.fixture(scope="module")
def rentals() -> pd.DataFrame:
    return pd.read_csv(HOME_RENTALS, usecols=COLUMNS)[COLUMNS]


def _records(frame: pd.DataFrame) -> str:
    text: str = frame.to_json(orient="records")
    return text


def _train(server: RayServeProcess, frame: pd.DataFrame) -> tuple[int, Any]:
    return post_json(server.train_url, {"df": _records(frame), "target": TARGET})


def test_predictions_match_offline_model(
    server: RayServeProcess, rentals: pd.DataFrame
) -> None:
    features = rentals.drop(columns=[TARGET]).head(PREDICT_ROWS)
    model, feature_names = training.fit(rentals, TARGET)
    expected = training.predict(model, feature_names, features)

    before = post_json(server.predict_url, {"df": _records(features)})
    assert before == (400, {"error": "model is not trained"})

    assert _train(server, rentals) == (200, {"status": "ok"})

    status, answer = post_json(server.predict_url, {"df": _records(features)})
    assert status == 200
    assert answer == {"prediction": expected}
    assert len(expected) == PREDICT_ROWS
    assert set(expected) <= {0.0, 1.0, 2.0, 3.0}


def test_predict_ignores_null_target_and_accepts_array(
    server: RayServeProcess, rentals: pd.DataFrame
) -> None:
    assert _train(server, rentals) == (200, {"status": "ok"})
    features = rentals.drop(columns=[TARGET]).head(PREDICT_ROWS)
    _, plain = post_json(server.predict_url, {"df": _records(features)})

    rows = json.loads(_records(features))
    with_null_target = [{**row, TARGET: None} for row in rows]
    null_target = {"df": json.dumps(with_null_target), "target": None}
    assert post_json(server.predict_url, null_target) == (200, plain)
    assert post_json(server.predict_url, {"df": rows}) == (200, plain)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(
            {"df": '[{"a": 1, "b": 2}]'},
            '"target" must name a column of df',
            id="no-target",
        ),
        pytest.param(
            {"df": '[{"a": 1, "b": 2}]', "target": "c"},
            "target column 'c' is not in df",
            id="target-not-in-df",
        ),
        pytest.param(
            {"df": '[{"a": 1}]', "target": "a"},
            "df has no feature columns besides the target",
            id="only-target",
        ),
        pytest.param(
            {"df": "not json", "target": "a"},
            "df is not valid JSON: Expecting value",
            id="df-not-json",
        ),
        pytest.param(
            {"target": "a"},
            'request body must be an object with "df"',
            id="no-df",
        ),
    ],
)
def test_train_rejects_bad_requests(
    server: RayServeProcess, body: dict[str, Any], error: str
) -> None:
    assert post_json(server.train_url, body) == (400, {"error": error})


def test_stop_leaves_no_process(server: RayServeProcess) -> None:
    pid = server.pid
    assert pid is not None
    log_path = server.log_path
    assert log_path is not None
    tree = descendants(pid)
    assert len(tree) > 5, "Ray should run its own processes under the server"

    server.stop()

    assert [p for p in [pid, *tree] if is_running(p)] == []
    assert session_members(pid) == []
    assert server.pid is None
    assert not log_path.parent.exists()
