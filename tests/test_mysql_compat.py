"""Regression tests for byom's fixes over mysql-mimic (``byom.mysql.compat``).

Each test fails on stock mysql-mimic 3.0.5 and passes with the fix, so a library
upgrade that fixes or re-breaks a defect shows up here.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from pymysql.constants import COMMAND, FIELD_TYPE

from byom import __version__
from tests.support.byom_process import USER, ByomProcess
from tests.support.http_apps import GatedModel
from tests.support.procs import wait_until
from tests.support.raw_mysql import CLIENT_DEPRECATE_EOF, RawClient


def test_refused_login_closes_the_connection(byom_factory: Any) -> None:
    byom: ByomProcess = byom_factory(password="right-password")
    client = RawClient(byom.port)
    try:
        client.handshake()
        reply = client.login(USER, b"\x01" * 20)
        assert reply is not None and reply[0] == 0xFF
        assert int.from_bytes(reply[1:3], "little") == 1045

        # Stock mimic would run this query for a client that never logged in.
        assert client.query("SELECT 42") is None
    finally:
        client.close()


def test_unknown_user_is_refused_and_closed(byom: ByomProcess) -> None:
    client = RawClient(byom.port)
    try:
        client.handshake()
        reply = client.login("intruder", b"")
        assert reply is not None and reply[0] == 0xFF
        assert client.query("SELECT 42") is None
    finally:
        client.close()


def test_wrong_password_through_pymysql(byom_factory: Any) -> None:
    byom: ByomProcess = byom_factory(password="right-password")
    with pytest.raises(pymysql.err.OperationalError) as caught:
        byom.connect(password="wrong-password")
    assert caught.value.args[0] == 1045

    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 + 1")
        assert cursor.fetchall() == ((2,),)


@pytest.mark.parametrize(
    ("user", "password"),
    [
        pytest.param(USER, "wrong-password", id="wrong-password"),
        pytest.param("intruder", "wrong-password", id="unknown-user"),
        pytest.param("intruder", "", id="unknown-user-no-password"),
        pytest.param("intruder", "right-password", id="unknown-user-right-password"),
    ],
)
def test_refused_logins_do_not_tell_whether_the_user_exists(
    byom_factory: Any, user: str, password: str
) -> None:
    byom: ByomProcess = byom_factory(password="right-password")

    with pytest.raises(pymysql.err.OperationalError) as caught:
        byom.connect(user=user, password=password)

    assert caught.value.args == (1045, f"Access denied for user {user}")


def test_deprecate_eof_is_not_offered(byom: ByomProcess) -> None:
    client = RawClient(byom.port)
    try:
        greeting = client.handshake()
    finally:
        client.close()
    assert greeting.capabilities & CLIENT_DEPRECATE_EOF == 0
    assert greeting.auth_plugin == "mysql_native_password"


@pytest.mark.parametrize(
    ("sql", "near"),
    [
        pytest.param("SELEC 1", "SELEC", id="misspelt-keyword"),
        pytest.param("SELECT * FROM (", "(", id="unclosed-paren"),
        pytest.param("SELECT 'abc", "'abc", id="unclosed-string"),
        pytest.param(
            "CREATE PREDICTOR p FROM mydb (SELECT 1) USING a = 1",
            "USING a = 1",
            id="predictor-without-predict",
        ),
    ],
)
def test_malformed_statement_is_error_1064(
    byom: ByomProcess, sql: str, near: str
) -> None:
    with byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.ProgrammingError) as caught:
            cursor.execute(sql)
        code, message = caught.value.args
        assert code == 1064
        assert message.startswith("You have an error in your SQL syntax")
        assert near in message
        assert "\x1b" not in message

        cursor.execute("SELECT 1")
        assert cursor.fetchall() == ((1,),)


def test_result_columns_carry_explicit_types(byom: ByomProcess) -> None:
    gated = GatedModel()
    gated.start()
    gated.open()
    try:
        with byom.connect() as connection, connection.cursor() as cursor:
            cursor.execute(_create_sql("typed", gated))
            cursor.execute(
                "SELECT * FROM typed WHERE initial_price = 3001 AND rental_price = 2.5"
            )
            types = [(d[0], d[1]) for d in cursor.description]
            assert types == [
                ("number_of_rooms", FIELD_TYPE.LONGLONG),
                ("initial_price", FIELD_TYPE.LONGLONG),
                ("rental_price", FIELD_TYPE.DOUBLE),
            ]
            assert cursor.fetchall() == ((1, 3001, 2.5),)
    finally:
        gated.stop()


def test_rows_stream_before_the_result_is_complete(byom_factory: Any) -> None:
    """The first batch reaches the client while the second is still being scored.

    Stock mimic builds the whole result in memory before sending a byte, so the
    first fetch would wait for every batch.
    """
    byom: ByomProcess = byom_factory(extra={"batch_rows": 10, "calls_in_flight": 1})
    gated = GatedModel()
    gated.start()
    opener = threading.Timer(60, gated.open)
    try:
        byom.query(_create_sql("gated", gated))
        connection = byom.connect(cursorclass=pymysql.cursors.SSCursor)
        with connection, connection.cursor() as cursor:
            opener.start()
            cursor.execute(
                "SELECT t.initial_price, p.number_of_rooms "
                "FROM mydb.test_data.home_rentals AS t JOIN mindsdb.gated AS p"
            )
            first = cursor.fetchone()
            assert opener.is_alive(), "the first row waited for the gate"
            gated.open()
            rest = cursor.fetchall()
    finally:
        opener.cancel()
        gated.stop()
    rows = [first, *rest]
    assert len(rows) == 5000
    assert all(rooms == price % 4 for price, rooms in rows)


def _create_sql(name: str, model: GatedModel) -> str:
    return (
        f"CREATE PREDICTOR {name} FROM mydb (SELECT number_of_rooms, initial_price, "
        "rental_price FROM test_data.home_rentals) PREDICT number_of_rooms "
        f"USING url.train = '{model.url('/train')}', "
        f"url.predict = '{model.url('/predict')}', "
        'dtype_dict = {"number_of_rooms": "categorical", '
        '"initial_price": "integer", "rental_price": "integer"}, '
        "format = 'ray_server'"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param("SYSTEM", "SYSTEM", id="system"),
        pytest.param("system", "SYSTEM", id="system-lower-case"),
        pytest.param("Europe/Paris", "Europe/Paris", id="named"),
        pytest.param("+05:30", "+05:30", id="offset"),
        pytest.param("UTC", "UTC", id="utc"),
    ],
)
def test_time_zones_clients_send_keep_the_session_working(
    byom: ByomProcess, value: str, shown: str
) -> None:
    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"SET time_zone = '{value}'")
        cursor.execute("SELECT @@time_zone")
        assert cursor.fetchall() == ((shown,),)
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == ((1,),)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Mars/Olympus_Mons", id="unknown-name"),
        pytest.param("+15:00", id="offset-too-large"),
        pytest.param("+01:75", id="bad-minutes"),
        pytest.param("../../etc/passwd", id="path"),
    ],
)
def test_unknown_time_zone_fails_the_set_only(byom: ByomProcess, value: str) -> None:
    with byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(f"SET time_zone = '{value}'")
        assert caught.value.args == (
            1298,
            f"Unknown or incorrect time zone: '{value}'",
        )
        cursor.execute("SELECT @@time_zone, 1")
        assert cursor.fetchall() == (("SYSTEM", 1),)


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(0xFFFFFF - 20, id="just-below-one-packet"),
        pytest.param(0xFFFFFF, id="exactly-one-full-packet"),
        pytest.param(20_000_000, id="two-packets"),
        pytest.param(40_000_000, id="three-packets"),
    ],
)
def test_rows_of_16_mib_or_more_are_split_over_packets(
    byom: ByomProcess, size: int
) -> None:
    with byom.connect(max_allowed_packet=128 << 20) as connection:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT '{'a' * size}' AS big, 7 AS small")
            ((big, small),) = cursor.fetchall()
            cursor.execute("SELECT 1")
            assert cursor.fetchall() == ((1,),)

    assert (len(big), set(big), small) == (size, {"a"}, 7)


@pytest.mark.parametrize(
    ("sql", "columns", "rows"),
    [
        pytest.param(
            "SELECT 1 FROM DUAL", [("1", FIELD_TYPE.LONGLONG)], ((1,),), id="dual"
        ),
        pytest.param(
            "SELECT ' ' AS TABLE_CAT, 2 AS n FROM DUAL WHERE 1=0",
            [("TABLE_CAT", FIELD_TYPE.VAR_STRING), ("n", FIELD_TYPE.LONGLONG)],
            (),
            id="dual-where-false",
        ),
        pytest.param(
            "SELECT 'a' AS x UNION SELECT 'b'",
            [("x", FIELD_TYPE.VAR_STRING)],
            (("a",), ("b",)),
            id="union",
        ),
        pytest.param(
            "SELECT 'TABLE' AS TABLE_TYPE UNION SELECT 'VIEW' UNION SELECT 'TABLE'",
            [("TABLE_TYPE", FIELD_TYPE.VAR_STRING)],
            (("TABLE",), ("VIEW",)),
            id="union-distinct-keeps-order",
        ),
        pytest.param(
            "SELECT 1 AS n UNION ALL SELECT 1",
            [("n", FIELD_TYPE.LONGLONG)],
            ((1,), (1,)),
            id="union-all",
        ),
        pytest.param(
            "SELECT 2.5 * 2 AS d, 1 = 1 FROM DUAL",
            [("d", FIELD_TYPE.DOUBLE), ("1 = 1", FIELD_TYPE.LONGLONG)],
            ((5.0, 1),),
            id="expressions",
        ),
    ],
)
def test_constant_queries_are_evaluated_locally(
    byom: ByomProcess, sql: str, columns: list[tuple[str, int]], rows: Any
) -> None:
    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        assert [(d[0], d[1]) for d in cursor.description] == columns
        assert cursor.fetchall() == rows


def test_com_statistics_answers_mysql_text(byom: ByomProcess) -> None:
    with byom.connect() as connection:
        connection._execute_command(COMMAND.COM_STATISTICS, b"")
        text = connection._read_packet().read_all().decode()
    assert re.fullmatch(
        r"Uptime: \d+  Threads: 1  Questions: \d+  Slow queries: 0  Opens: 0  "
        r"Flush tables: 1  Open tables: 0  Queries per second avg: \d+\.\d{3}",
        text,
    ), text


def test_mariadb_cli_status_shows_uptime(byom: ByomProcess) -> None:
    result = byom.cli("status\n")
    assert re.search(r"^Uptime:\s+\d+ sec", result.stdout, re.MULTILINE), result.stdout
    assert re.search(
        r"^Threads: 1  Questions: \d+  Slow queries: 0", result.stdout, re.M
    )
    assert "Server version:\t\t8.0.29-byom byom" in result.stdout


# PyMySQL has no constant (nor call) for it.
_COM_RESET_CONNECTION = 0x1F


def test_reset_connection_restores_the_session(byom: ByomProcess) -> None:
    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SET @x = 1")
        cursor.execute("SET autocommit = 0, time_zone = '+05:30'")
        cursor.execute("USE mydb")

        connection._execute_command(_COM_RESET_CONNECTION, b"")
        connection._read_ok_packet()

        cursor.execute("SELECT @x, @@autocommit, @@time_zone, DATABASE()")
        assert cursor.fetchall() == ((None, 1, "SYSTEM", "mindsdb"),)
        cursor.execute("SELECT 'é'")
        assert cursor.fetchall() == (("é",),)


def test_version_agrees_with_handshake(byom: ByomProcess) -> None:
    with byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@version, VERSION(), @@version_comment")
        ((variable, function, comment),) = cursor.fetchall()
        handshake = connection.get_server_info()
    assert handshake == variable == function == "8.0.29-byom"
    assert comment == f"byom {__version__}"


@pytest.fixture(scope="module")
def shared_byom() -> Iterator[ByomProcess]:
    """One server for the tests below that change nothing on it."""
    server = ByomProcess()
    server.start()
    yield server
    server.cleanup()


@pytest.mark.parametrize(
    ("sql", "names", "row"),
    [
        pytest.param("SELECT DATABASE()", ["DATABASE()"], ("mindsdb",), id="database"),
        pytest.param("select database( )", ["database( )"], ("mindsdb",), id="spaced"),
        pytest.param("SELECT SCHEMA()", ["SCHEMA()"], ("mindsdb",), id="schema"),
        pytest.param("SELECT USER()", ["USER()"], (f"{USER}@127.0.0.1",), id="user"),
        pytest.param(
            "SELECT CURRENT_USER()", ["CURRENT_USER()"], (f"{USER}@%",), id="account"
        ),
        pytest.param(
            "SELECT current_user", ["current_user"], (f"{USER}@%",), id="bare-word"
        ),
        pytest.param("SELECT VERSION()", ["VERSION()"], ("8.0.29-byom",), id="version"),
        pytest.param(
            "SELECT @@version", ["@@version"], ("8.0.29-byom",), id="version-variable"
        ),
        pytest.param(
            "SELECT @@VERSION, 1+1, 'a', @@max_allowed_packet",
            ["@@VERSION", "1+1", "a", "@@max_allowed_packet"],
            ("8.0.29-byom", 2, "a", 67108864),
            id="mixed",
        ),
        pytest.param(
            "SELECT UPPER(DATABASE()) FROM DUAL",
            ["UPPER(DATABASE())"],
            ("MINDSDB",),
            id="nested-from-dual",
        ),
        pytest.param(
            "SELECT DATABASE() AS db, VERSION() v",
            ["db", "v"],
            ("mindsdb", "8.0.29-byom"),
            id="aliased",
        ),
    ],
)
def test_information_functions_are_named_as_typed(
    shared_byom: ByomProcess, sql: str, names: list[str], row: tuple[Any, ...]
) -> None:
    # Stock mimic names DATABASE() "CURRENT_SCHEMA()" and VERSION()
    # "CURRENT_VERSION()", as sqlglot renders them; MySQL uses the text typed.
    with shared_byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        assert [d[0] for d in cursor.description] == names
        assert cursor.fetchall() == (row,)


def test_mariadb_cli_prints_the_headers_mysql_prints(shared_byom: ByomProcess) -> None:
    done = shared_byom.cli("SELECT DATABASE(), VERSION(), CURRENT_USER();")

    assert done.stdout == (
        "DATABASE()\tVERSION()\tCURRENT_USER()\nmindsdb\t8.0.29-byom\tmindsdb@%\n"
    )


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("", id="nothing"),
        pytest.param("  \n\t ", id="white-space"),
        pytest.param(";", id="semicolon"),
        pytest.param(" ;; \n;", id="semicolons-and-space"),
    ],
)
def test_empty_query_is_error_1065(shared_byom: ByomProcess, sql: str) -> None:
    # Stock mimic answered OK. MySQL trims white space and trailing semicolons
    # (alloc_query) and answers 1065 when nothing is left.
    with shared_byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(sql)
        cursor.execute("SELECT 1")
        after = cursor.fetchall()

    assert caught.value.args == (1065, "Query was empty")
    assert caught.value.sqlstate == "42000"
    assert after == ((1,),)


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("-- nothing to run", id="dash-comment"),
        pytest.param("# nothing to run", id="hash-comment"),
        pytest.param("/* nothing to run */", id="c-comment"),
        pytest.param("/* nothing */ ;", id="comment-and-semicolon"),
    ],
)
def test_comment_alone_answers_ok(shared_byom: ByomProcess, sql: str) -> None:
    # MySQL counts a comment alone as an empty query (Com_empty_query), no error.
    with shared_byom.connect() as connection, connection.cursor() as cursor:
        affected = cursor.execute(sql)
        description = cursor.description

    assert affected == 0
    assert description is None


def test_client_going_away_mid_result_is_one_info_line(byom: ByomProcess) -> None:
    client = RawClient(byom.port)
    client.handshake()
    client.login(USER, b"")
    # 25 million rows: far more than the socket buffers hold.
    client.send_packet(
        b"\x03SELECT a.*, b.sqft FROM mydb.test_data.home_rentals AS a "
        b"JOIN mydb.test_data.home_rentals AS b",
        seq=0,
    )
    for _ in range(100):
        assert client.read_packet() is not None
    # Closing with a zero linger time resets the connection.
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()

    wait_until(lambda: "client went away" in byom.log(), 20, "the server's log line")
    assert byom.query("SELECT 2") == [(2,)]
    log = byom.log()
    found = re.search(r"connection (\d+) query \d+: SELECT a\.\*, b\.sqft", log)
    assert found is not None
    connection = found.group(1)
    lines = [
        line.split(" ", 2)[2]
        for line in log.splitlines()
        if f"connection {connection}" in line and " DEBUG " not in line
    ]
    assert lines == [
        f"INFO byom.mysql.session: connection {connection}: opened by {USER}",
        f"INFO byom.mysql.commands: connection {connection}: client went away "
        "mid-result",
        f"INFO byom.mysql.session: connection {connection}: closed",
    ]
    assert "internal error" not in log
    assert "ConnectionResetError" not in log
