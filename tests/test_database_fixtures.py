"""The private MariaDB and PostgreSQL servers that end-to-end tests join against.

Each server kind runs once for the module; the stop test starts a second one of
the same kind next to it, which is also how two test runs share a machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from tests.support.mariadb import MariaDBServer
from tests.support.postgres import PostgresServer
from tests.support.procs import descendants, is_running, port_is_free

Server = MariaDBServer | PostgresServer

SERVER_KINDS = [
    pytest.param("mariadb", id="mariadb"),
    pytest.param("postgres", id="postgres"),
]


@pytest.fixture(scope="module")
def mariadb_server() -> Iterator[MariaDBServer]:
    with MariaDBServer() as server:
        yield server


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=SERVER_KINDS)
def server(request: pytest.FixtureRequest) -> Server:
    started: Server = request.getfixturevalue(f"{request.param}_server")
    return started


def connect(server: Server, password: str | None = None) -> Any:
    """Open a client connection as the `byom` user over TCP, as byom itself would."""
    if isinstance(server, MariaDBServer):
        return pymysql.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password if password is None else password,
            database=server.database,
            autocommit=True,
        )
    return psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password if password is None else password,
        dbname=server.database,
        autocommit=True,
    )


def run_query(conn: Any, statement: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(statement)
        return [tuple(row) for row in cur.fetchall()]


def test_home_rentals_has_every_csv_row(server: Server) -> None:
    with connect(server) as conn:
        rows = run_query(conn, "SELECT COUNT(*) FROM test_data.home_rentals")

    assert rows == [(5037,)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        pytest.param(
            "initial_price = 2271 AND sqft = 484",
            (0, 1, 484, "great", 10, 2271, "south_side", 2271.0),
            id="first-csv-row",
        ),
        pytest.param(
            "rental_price = 4123.812",
            (3, 2, 1190, "poor", 58, 4463, "westbrae", 4123.812),
            id="fractional-rental-price",
        ),
        pytest.param(
            "sqft = 641 AND initial_price = 2184",
            (1, 1, 641, "good", 0, 2184, "north_berkeley", 2184.0),
            id="decimal-comma-sqft-640,56",
        ),
    ],
)
def test_home_rentals_row_is_exact(
    server: Server, where: str, expected: tuple[Any, ...]
) -> None:
    with connect(server) as conn:
        rows = run_query(conn, f"SELECT * FROM test_data.home_rentals WHERE {where}")

    assert rows == [expected]


def test_general_log_holds_what_the_client_sent(server: Server) -> None:
    statement = (
        "SELECT location, COUNT(*) FROM test_data.home_rentals GROUP BY location"
    )
    with connect(server) as conn:
        server.mark()
        run_query(conn, statement)

    # Reading the log twice shows the harness's own queries stay out of it.
    assert server.general_log() == [statement]
    assert server.general_log() == [statement]


def test_wrong_password_is_refused_over_tcp(server: Server) -> None:
    errors = (pymysql.err.OperationalError, psycopg.OperationalError)
    with pytest.raises(errors, match="(?i)password|access denied"):
        connect(server, password="not-the-password")


def test_postgres_does_not_run_as_root(postgres_server: PostgresServer) -> None:
    assert postgres_server.process is not None
    status = Path(f"/proc/{postgres_server.process.pid}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))

    assert uid_line.split()[1] != "0"


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_stop_leaves_nothing_behind(kind: str, request: pytest.FixtureRequest) -> None:
    neighbour: Server = request.getfixturevalue(f"{kind}_server")
    server: Server = MariaDBServer() if kind == "mariadb" else PostgresServer()
    server.start()
    try:
        assert server.process is not None
        pids = [server.process.pid, *descendants(server.process.pid)]
        port, directory = server.port, server.directory
        assert directory is not None
        with connect(server) as conn:
            assert run_query(conn, "SELECT COUNT(*) FROM test_data.home_rentals") == [
                (5037,)
            ]
    finally:
        server.stop()

    assert (port, directory) != (neighbour.port, neighbour.directory)
    assert [pid for pid in pids if is_running(pid)] == []
    assert port_is_free(port)
    assert not directory.exists()
    assert server.process is None and server.directory is None
