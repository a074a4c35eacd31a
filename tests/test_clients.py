"""The client matrix: real client software over plain TCP and over TLS.

Every client runs the same statements on one connection: SELECT 1,
@@version_comment, SHOW DATABASES, the seed's single-row prediction and JOIN,
a parameterised prediction and a bound string holding ``'`` and ``\\``, and
``SHOW STATUS LIKE 'Ssl_version'``, which proves the transport really was (or
was not) TLS. Each answer must equal PyMySQL's for the same statement; clients
that print text (the mariadb CLI, Connector/J's getString) must print PyMySQL's
values as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import clients
from tests.support.client_matrix import (
    DATABASES,
    ECHO,
    JOIN,
    PARAMETERISED,
    SINGLE,
    TRANSPORTS,
    TRICKY,
    VERSION_COMMENT,
    MatrixServer,
    as_text,
    matrix_server,
)
from tests.support.clients import Results, Runner, Step

SSL_VERSION = "SHOW STATUS LIKE 'Ssl_version'"
# What the server reports over each transport (TLS 1.3 is every client's choice).
NEGOTIATED = {"tcp": [("Ssl_version", "")], "tls": [("Ssl_version", "TLSv1.3")]}
PLAIN = [
    Step("one", "SELECT 1"),
    Step("version_comment", "SELECT @@version_comment"),
    Step("databases", "SHOW DATABASES"),
    Step("single", SINGLE),
    Step("join", JOIN),
    Step("ssl_version", SSL_VERSION),
]
CLIENT_BOUND = [
    Step("parameterised", PARAMETERISED, (3000, 3000)),
    Step("echo", ECHO, (TRICKY,)),
]
SERVER_BOUND = [
    Step("parameterised_prepared", PARAMETERISED, (3000, 3000), server_side=True),
    Step("echo_prepared", ECHO, (TRICKY,), server_side=True),
]
ALL = PLAIN + CLIENT_BOUND


@pytest.fixture(scope="module")
def matrix() -> Iterator[MatrixServer]:
    with matrix_server() as server:
        yield server


@pytest.fixture(scope="module")
def reference(matrix: MatrixServer) -> Results:
    """PyMySQL's answer to every statement (over TLS, which it prefers)."""
    steps = PLAIN + CLIENT_BOUND
    return {step.label: matrix.reference(step.sql, step.params) for step in steps}


def expected(reference: Results, transport: str, steps: list[Step]) -> Results:
    answers = {**reference, "ssl_version": NEGOTIATED[transport]}
    return {s.label: answers[s.label.removesuffix("_prepared")] for s in steps}


def test_pymysql_reference_has_the_seed_answers(reference: Results) -> None:
    # ControlledModel predicts initial_price % 4 rooms.
    assert reference == {
        "one": [(1,)],
        "version_comment": [(VERSION_COMMENT,)],
        "databases": [(name,) for name in DATABASES],
        "single": [(0, 3000, 3000)],
        "join": [(0, 510), (2, 562), (2, 606), (3, 628), (2, 655)],
        "ssl_version": NEGOTIATED["tls"],
        "parameterised": [(0, 3000)],
        "echo": [(TRICKY,)],
    }


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("runner", "steps"),
    [
        pytest.param(clients.run_pymysql, ALL, id="pymysql"),
        pytest.param(
            clients.run_connector, ALL + SERVER_BOUND, id="mysql-connector-pure"
        ),
        pytest.param(clients.run_mysqlclient, ALL, id="mysqlclient"),
        pytest.param(clients.run_aiomysql, ALL, id="aiomysql"),
        pytest.param(clients.run_sqlalchemy, ALL, id="sqlalchemy"),
        pytest.param(clients.run_pandas, ALL, id="pandas-read-sql"),
        pytest.param(clients.run_mysql2, ALL + SERVER_BOUND, id="node-mysql2"),
    ],
)
def test_client_answers_as_pymysql_does(
    matrix: MatrixServer,
    reference: Results,
    runner: Runner,
    steps: list[Step],
    transport: str,
) -> None:
    assert runner(matrix, transport, steps) == expected(reference, transport, steps)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_mariadb_cli_prints_pymysql_values(
    matrix: MatrixServer, reference: Results, transport: str
) -> None:
    # The CLI has no bound parameters: it runs the statements without them.
    printed = clients.run_mariadb_cli(matrix, transport, PLAIN)

    want = expected(reference, transport, PLAIN)
    assert printed == {label: as_text(rows) for label, rows in want.items()}


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clients.java_classes(tmp_path_factory.getbasetemp())


def _java_lines(steps: list[Step]) -> list[list[str]]:
    return [
        ["P", s.label, s.sql, *map(clients.java_param, s.params)]
        if s.params
        else ["Q", s.label, s.sql]
        for s in steps
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "server_prepares",
    [
        pytest.param(False, id="client-prepares"),
        pytest.param(True, id="useServerPrepStmts"),
    ],
)
def test_connector_j_reads_pymysql_values(
    matrix: MatrixServer,
    reference: Results,
    java_classes: Path,
    transport: str,
    server_prepares: bool,
) -> None:
    answers = clients.run_connector_j(
        matrix, transport, _java_lines(ALL), java_classes, server_prepares
    )

    # The first row of each answer is its column labels.
    rows: dict[str, Any] = {
        label: rows[1:] if isinstance(rows, list) else rows
        for label, rows in answers.items()
    }
    want = expected(reference, transport, ALL)
    assert rows == {label: as_text(r) for label, r in want.items()}


def test_connector_j_autocommit_follows_the_status_flags(
    matrix: MatrixServer, java_classes: Path
) -> None:
    # Connector/J answers getAutoCommit() from the status flags, and
    # setAutoCommit(false) sends nothing when they already say it is off: with
    # stock mimic's flags (always 0) the server's autocommit stayed on.
    lines = [
        ["A", "at_connect", "keep"],
        ["A", "off", "off"],
        ["Q", "server_off", "SELECT @@autocommit"],
        ["A", "on", "on"],
        ["Q", "server_on", "SELECT @@autocommit"],
    ]

    answers = clients.run_connector_j(matrix, "tcp", lines, java_classes)

    assert answers == {
        "at_connect": [("getAutoCommit",), ("true",)],
        "off": [("getAutoCommit",), ("false",)],
        "server_off": [("@@autocommit",), ("0",)],
        "on": [("getAutoCommit",), ("true",)],
        "server_on": [("@@autocommit",), ("1",)],
    }
