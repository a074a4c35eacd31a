"""The server's life: clean stops on SIGTERM, and a catalog that survives restarts."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pymysql
import pytest

from tests.support.byom_process import ByomProcess
from tests.support.http_apps import HangingModel
from tests.support.ray_backend import RayServeProcess
from tests.test_seed_flow import CREATE, JOIN, SINGLE, mysql_double, seed_statements

pytestmark = pytest.mark.usefixtures("ray_serve")

STATUS = "SELECT status, error FROM mindsdb.predictors WHERE name = 'byom'"


def test_sigterm_stops_cleanly(byom: ByomProcess) -> None:
    assert byom.query("SELECT 1") == [(1,)]
    assert byom.stop(signal.SIGTERM) == 0
    assert "byom stopped" in byom.log()


def test_sigint_stops_cleanly(byom: ByomProcess) -> None:
    assert byom.stop(signal.SIGINT) == 0
    assert "byom stopped" in byom.log()


def test_predictor_and_integration_survive_a_restart(
    byom_factory: Callable[..., ByomProcess], ray_serve: RayServeProcess
) -> None:
    byom = byom_factory()
    create, _, _ = seed_statements(ray_serve)
    byom.query(create)
    before_single = byom.query(SINGLE)
    before_join = byom.query(JOIN)

    assert byom.stop() == 0
    byom.start()

    assert byom.query(SINGLE) == before_single
    assert byom.query(JOIN) == before_join
    assert len(before_join) > 100
    printed = byom.cli(SINGLE).stdout.splitlines()
    assert printed[1] == "\t".join(
        mysql_double(v) if isinstance(v, float) else str(v) for v in before_single[0]
    )


def test_training_cut_short_by_a_crash_is_marked_as_error(
    byom_factory: Callable[..., ByomProcess],
) -> None:
    model = HangingModel()
    model.start()
    byom = byom_factory()
    try:
        create = CREATE.replace("http://127.0.0.1:8000/my_model", model.url(""))
        byom.query(create)
        assert model.train_started.wait(30)
        assert byom.query(STATUS) == [("training", None)]
        byom.stop(signal.SIGKILL)
        byom.start()
        with byom.connect() as again, again.cursor() as cursor:
            with pytest.raises(pymysql.err.MySQLError) as caught:
                cursor.execute(SINGLE)
        after_restart = byom.query(STATUS)
    finally:
        model.stop()
    assert caught.value.args == (
        1105,
        "predictor 'byom' failed to train: "
        "training was interrupted by a server restart",
    )
    assert after_restart == [("error", "training was interrupted by a server restart")]
