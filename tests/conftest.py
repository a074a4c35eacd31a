"""Session-wide real servers: Ray Serve with the example model, MariaDB, PostgreSQL.

Each starts once per test run, on a free port (Ray on 8000 when it is free, so the
seed statements run verbatim), and is stopped with every process it started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.byom_process import ByomProcess
from tests.support.fault_apps import ScriptedEndpoints
from tests.support.mariadb import MariaDBServer
from tests.support.postgres import PostgresServer
from tests.support.procs import port_is_free
from tests.support.ray_backend import RayServeProcess

REPO = Path(__file__).resolve().parents[1]
HOME_RENTALS_CSV = REPO.parent / "shared" / "data" / "home_rentals.csv"
SEED_RAY_PORT = 8000


@pytest.fixture(scope="session")
def ray_serve() -> Iterator[RayServeProcess]:
    """The example Ray Serve app, untrained until a test trains it."""
    # test_ray_example.py starts a second, private instance beside this one: it
    # needs a model nobody has trained yet.
    port = SEED_RAY_PORT if port_is_free(SEED_RAY_PORT) else 0
    server = RayServeProcess(port=port)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer]:
    """A private MariaDB server holding test_data.home_rentals (the public data)."""
    server = MariaDBServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server holding test_data.home_rentals."""
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def byom_factory() -> Iterator[Callable[..., ByomProcess]]:
    """Start byom servers for one test; all are stopped and removed afterwards."""
    started: list[ByomProcess] = []

    def start(**kwargs: object) -> ByomProcess:
        server = ByomProcess(**kwargs)  # type: ignore[arg-type]
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


@pytest.fixture
def byom(byom_factory: Callable[..., ByomProcess]) -> ByomProcess:
    """A byom server on the embedded demo source."""
    return byom_factory()


@pytest.fixture(scope="module")
def server() -> Iterator[ByomProcess]:
    """One plain byom server for a test module (modules may define their own)."""
    byom = ByomProcess()
    byom.start()
    yield byom
    byom.cleanup()


@pytest.fixture(scope="module")
def fake() -> Iterator[ScriptedEndpoints]:
    """Scripted fake model endpoints (fault injection), one set per test module."""
    endpoints = ScriptedEndpoints()
    endpoints.start()
    yield endpoints
    endpoints.stop()
