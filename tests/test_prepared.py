"""Server-side prepared statements, through real server-side prepares.

mysql-connector-python's ``cursor(prepared=True)`` sends COM_STMT_PREPARE and
binary COM_STMT_EXECUTE; a raw client covers what a driver hides (cursor fetch,
malformed executes). Stock mysql-mimic pasted the values into the SQL text, so
the injection and quoting cases below are the regression tests for that hole.
"""

from __future__ import annotations

import datetime as dt
import decimal
import struct
from collections.abc import Iterator
from typing import Any

import mysql.connector
import pytest
from mysql.connector.connection import MySQLConnection

from byom.mysql.prepared import bind_parameters, prepare_tree, to_literal
from tests.support.byom_process import USER, ByomProcess
from tests.support.http_apps import ControlledModel
from tests.support.raw_mysql import RawClient
from tests.test_statements import create_sql


@pytest.fixture(scope="module")
def model() -> Iterator[ControlledModel]:
    served = ControlledModel()
    served.start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def server(model: ControlledModel) -> Iterator[ByomProcess]:
    """One server with predictors p and q trained on the demo data."""
    byom = ByomProcess()
    byom.start()
    try:
        for name in ("p", "q"):
            byom.query(create_sql(name, model, extra=", join_learn_process = true"))
        yield byom
    finally:
        byom.cleanup()


@pytest.fixture
def connection(server: ByomProcess) -> Iterator[MySQLConnection]:
    link = mysql.connector.connect(
        host="127.0.0.1", port=server.port, user=USER, password="", use_pure=True
    )
    assert isinstance(link, MySQLConnection)
    yield link
    link.close()


def execute(
    connection: MySQLConnection, sql: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    with connection.cursor(prepared=True) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("it's", "it's", id="quote"),
        pytest.param("a\\b", "a\\b", id="backslash"),
        pytest.param("100%", "100%", id="percent"),
        pytest.param("żółw ☃", "żółw ☃", id="unicode"),
        pytest.param("x' OR '1'='1", "x' OR '1'='1", id="injection-as-text"),
        pytest.param(None, None, id="null"),
        pytest.param(-5, -5, id="negative-int"),
        pytest.param(2**64 - 1, 2**64 - 1, id="big-unsigned"),
        pytest.param(-(2**63), -(2**63), id="smallest-bigint"),
        pytest.param(1.5, 1.5, id="double"),
        pytest.param(dt.date(2024, 2, 29), dt.date(2024, 2, 29), id="date"),
        pytest.param(
            dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
            dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
            id="datetime-micro",
        ),
        pytest.param(b"caf\xc3\xa9", "café", id="utf8-bytes"),
    ],
)
def test_a_parameter_comes_back_as_sent(
    connection: MySQLConnection, value: Any, expected: Any
) -> None:
    assert execute(connection, "SELECT ? AS v", (value,)) == [(expected,)]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("x' OR '1'='1", id="injection"),
        pytest.param("nope' OR '1'='1", id="injection-nope"),
        pytest.param("p' --", id="comment"),
        pytest.param("p\\", id="trailing-backslash"),
        pytest.param("%", id="percent"),
        pytest.param(b"\xff\xfe", id="binary"),
    ],
)
def test_hostile_values_match_no_predictor(
    connection: MySQLConnection, name: Any
) -> None:
    sql = "SELECT name FROM mindsdb.predictors WHERE name = ?"
    assert execute(connection, sql, (name,)) == []


def test_predictors_by_name_and_reexecution(connection: MySQLConnection) -> None:
    sql = "SELECT name, status FROM mindsdb.predictors WHERE name = ?"
    with connection.cursor(prepared=True) as cursor:
        found = []
        for name in ("p", "q", "x' OR '1'='1", "p"):
            cursor.execute(sql, (name,))
            found.append(list(cursor.fetchall()))
    assert found == [[("p", "complete")], [("q", "complete")], [], [("p", "complete")]]


def test_limit_parameters_bind_in_text_order(connection: MySQLConnection) -> None:
    # The offset is the first "?" of LIMIT ?, ? but the second in sqlglot's tree.
    sql = "SELECT name FROM mindsdb.predictors ORDER BY name LIMIT ?, ?"
    assert execute(connection, sql, (1, 1)) == [("q",)]
    assert execute(connection, sql, (0, 2)) == [("p",), ("q",)]


def test_single_row_prediction(connection: MySQLConnection) -> None:
    sql = "SELECT number_of_rooms FROM mindsdb.p WHERE initial_price = ?"
    assert execute(connection, sql, (3001,)) == [(1,)]


def test_join_through_a_predictor(connection: MySQLConnection) -> None:
    sql = (
        "SELECT t.initial_price, m.number_of_rooms "
        "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.p AS m "
        "WHERE t.initial_price > ? ORDER BY t.initial_price LIMIT ?"
    )
    # The model predicts initial_price % 4.
    assert execute(connection, sql, (3000, 2)) == [(3001, 1), (3006, 2)]


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        pytest.param(
            "SHOW VARIABLES LIKE ?",
            ("version_comment",),
            [("version_comment", "byom 0.1.0")],
            id="show-variables",
        ),
        pytest.param(
            "SHOW DATABASES",
            (),
            [("information_schema",), ("mindsdb",), ("mydb",), ("mysql",)],
            id="show-databases",
        ),
        pytest.param("SELECT ? + ?", (1, 2), [(3,)], id="arithmetic"),
        pytest.param("SELECT '?' AS q", (), [("?",)], id="question-mark-in-string"),
    ],
)
def test_session_statements_prepared(
    connection: MySQLConnection, sql: str, params: tuple[Any, ...], expected: Any
) -> None:
    assert execute(connection, sql, params) == expected


def test_prepared_set_changes_the_session(connection: MySQLConnection) -> None:
    execute(connection, "SET @@session.max_execution_time = ?", (1234,))
    assert execute(connection, "SELECT @@max_execution_time") == [(1234,)]


def test_byom_statement_prepared_without_parameters(
    connection: MySQLConnection,
) -> None:
    rows = execute(connection, "SHOW PREDICTORS")
    assert sorted(row[0] for row in rows) == ["p", "q"]


def test_byom_statement_with_a_parameter_is_refused(
    connection: MySQLConnection,
) -> None:
    with pytest.raises(mysql.connector.Error) as caught:
        execute(connection, "DROP PREDICTOR ?", ("p",))
    assert caught.value.errno == 1295


def test_syntax_error_is_reported_at_prepare(connection: MySQLConnection) -> None:
    with pytest.raises(mysql.connector.Error) as caught:
        execute(connection, "SELECT FROM WHERE ?", (1,))
    assert caught.value.errno == 1064


def test_parameter_count_mismatch_is_refused(connection: MySQLConnection) -> None:
    with pytest.raises(mysql.connector.Error) as caught:
        execute(connection, "SELECT ? AS a, ? AS b", (1,))
    assert "number of" in str(caught.value) or "arguments" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "sql"),
    [
        pytest.param(
            decimal.Decimal("12345678901234567890.123456789"),
            "SELECT 12345678901234567890.123456789",
            id="decimal-exact",
        ),
        pytest.param(decimal.Decimal("-0.10"), "SELECT -0.10", id="decimal-negative"),
        pytest.param("a\x00b", "SELECT 'a\\0b'", id="nul"),
        pytest.param(
            dt.timedelta(days=-1, seconds=3600, microseconds=5),
            "SELECT CAST('-22:59:59.999995' AS TIME)",
            id="time-negative",
        ),
        pytest.param(
            dt.timedelta(days=1, seconds=3723),
            "SELECT CAST('25:02:03' AS TIME)",
            id="time-days",
        ),
        pytest.param(b"\xff\x00", "SELECT x'ff00'", id="binary"),
        pytest.param(
            dt.datetime(2024, 1, 2, 3, 4, 5),
            "SELECT CAST('2024-01-02 03:04:05.000000' AS DATETIME)",
            id="datetime",
        ),
    ],
)
def test_values_bind_as_typed_literals(value: Any, sql: str) -> None:
    # byom's constant-query engine turns DECIMAL into DOUBLE and cannot run NUL
    # or TIME, for text queries too; the bound tree itself is exact.
    tree, count = prepare_tree("SELECT ?")
    assert count == 1
    assert bind_parameters(tree, [value]).sql("mysql") == sql


def test_non_finite_floats_are_refused() -> None:
    with pytest.raises(Exception, match="not a number MySQL can store"):
        to_literal(float("nan"))


# --- raw protocol ---------------------------------------------------------------


def raw_session(server: ByomProcess) -> RawClient:
    client = RawClient(server.port)
    client.handshake()
    answer = client.login(USER, b"")
    assert answer is not None and answer[0] == 0
    return client


def prepare(client: RawClient, sql: str) -> tuple[int, int]:
    client.send_packet(b"\x16" + sql.encode(), seq=0)
    ok = client.read_packet()
    assert ok is not None and ok[0] == 0, ok
    stmt_id, columns, params = struct.unpack_from("<IHH", ok, 1)
    assert columns == 0
    for _ in range(params + (1 if params else 0)):
        client.read_packet()
    return stmt_id, params


def error_code(packet: bytes) -> int:
    assert packet[0] == 0xFF, packet
    code: int = struct.unpack_from("<H", packet, 1)[0]
    return code


def test_cursor_fetch_returns_every_row(server: ByomProcess) -> None:
    client = raw_session(server)
    try:
        stmt_id, _ = prepare(client, "SHOW DATABASES")
        client.send_packet(b"\x17" + struct.pack("<IBI", stmt_id, 1, 1), seq=0)
        header = [client.read_packet() for _ in range(3)]  # count, column, EOF
        assert header[0] == b"\x01" and header[2] is not None
        assert header[2][0] == 0xFE

        names: list[str] = []
        for _ in range(3):
            client.send_packet(b"\x1c" + struct.pack("<II", stmt_id, 3), seq=0)
            while (packet := client.read_packet()) is not None and packet[0] == 0:
                names.append(packet[3 : 3 + packet[2]].decode())
            assert packet is not None and packet[0] == 0xFE
            if struct.unpack_from("<H", packet, 3)[0] & 0x80:  # LAST_ROW_SENT
                break
        assert names == ["information_schema", "mindsdb", "mydb", "mysql"]

        client.send_packet(b"\x1c" + struct.pack("<II", stmt_id, 3), seq=0)
        assert error_code(client.read_packet() or b"") == 1421
    finally:
        client.close()


def test_malformed_execute_and_unknown_statement(server: ByomProcess) -> None:
    client = raw_session(server)
    try:
        stmt_id, params = prepare(client, "SELECT ? AS a, ? AS b")
        assert params == 2
        # Two parameters announced by PREPARE, none in the packet.
        client.send_packet(b"\x17" + struct.pack("<IBI", stmt_id, 0, 1), seq=0)
        assert error_code(client.read_packet() or b"") == 1210

        client.send_packet(b"\x17" + struct.pack("<IBI", 999, 0, 1), seq=0)
        assert error_code(client.read_packet() or b"") == 1243

        # Reset answers OK; close answers nothing, so the next command is first.
        client.send_packet(b"\x1a" + struct.pack("<I", stmt_id), seq=0)
        answer = client.read_packet()
        assert answer is not None and answer[0] == 0
        client.send_packet(b"\x19" + struct.pack("<I", stmt_id), seq=0)
        client.send_packet(b"\x17" + struct.pack("<IBI", stmt_id, 0, 1), seq=0)
        assert error_code(client.read_packet() or b"") == 1243
    finally:
        client.close()


def test_long_data_parameter(server: ByomProcess) -> None:
    client = raw_session(server)
    try:
        stmt_id, _ = prepare(client, "SELECT ? AS v")
        for part in (b"it's ", b"long"):
            client.send_packet(b"\x18" + struct.pack("<IH", stmt_id, 0) + part, seq=0)
        # Not NULL, new types bound: STRING; the value came as long data.
        execute_packet = struct.pack("<IBIBBBB", stmt_id, 0, 1, 0, 1, 0xFE, 0)
        client.send_packet(b"\x17" + execute_packet, seq=0)
        packets = [client.read_packet() for _ in range(5)]
        row = packets[3]
        assert row is not None and row[2:] == b"\x09it's long"
        assert packets[4] is not None and packets[4][0] == 0xFE
    finally:
        client.close()
