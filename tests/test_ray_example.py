"""The example Ray Serve model against its contract, on a real Ray Serve server.

One server serves the whole module. The tests run in file order on purpose: the
first one needs a model that has never been trained, and the last one stops the
server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.support.procs import (
    descendants,
    is_running,
    kill_survivors,
    session_members,
    stop_process_tree,
)
from tests.support.ray_backend import SERVE_SCRIPT, RayServeProcess, post_json

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


def test_second_launcher_on_a_taken_port_refuses_to_start(
    server: RayServeProcess, rentals: pd.DataFrame
) -> None:
    # Ray's proxy binds with SO_REUSEPORT: without the check, this copy started
    # too and the kernel split requests between the two models.
    command = [str(server.python), str(SERVE_SCRIPT), f"--port={server.port}"]
    env = {
        k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")
    }
    second = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = second.communicate(timeout=60)
    finally:
        # Only if it started Ray after all: remove all it started.
        stop_process_tree(second)
        kill_survivors(session_members(second.pid), grace=5.0)

    assert second.returncode == 1
    assert stdout == b""
    message = stderr.decode().split(" ", 2)[2]
    assert message == (
        f"byom.ray_serve ERROR port {server.port} on 127.0.0.1 is already taken "
        "(Address already in use); another model server may be running there, "
        "and Ray Serve would share the port with it. Stop it, or choose another "
        "port with --port\n"
    )
    features = rentals.drop(columns=[TARGET]).head(PREDICT_ROWS)
    status, _ = post_json(server.predict_url, {"df": _records(features)})
    assert status == 200


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
