"""Several statements in one COM_QUERY, for clients that set CLIENT_MULTI_STATEMENTS.

MySQL answers each statement in turn; every result but the last carries
SERVER_MORE_RESULTS_EXISTS (0x0008), and an error ends the sequence. Trailing
semicolons are dropped, a comment alone answers OK and an empty statement
between two semicolons is a syntax error, as MariaDB 10.11 answers the same
texts. A client that did not set the flag is refused with 1235, as before.
"""

from __future__ import annotations

import struct
from typing import Any

import pymysql
import pytest
from pymysql.constants import CLIENT

from tests.support.byom_process import USER, ByomProcess
from tests.support.raw_mysql import RawClient

AUTOCOMMIT = 0x0002
MORE_RESULTS = 0x0008


def _multi(server: ByomProcess) -> pymysql.connections.Connection[Any]:
    return server.connect(client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True)


def _results(cursor: Any) -> list[Any]:
    # One entry per statement: its column names and rows, or its row count.
    results = []
    while True:
        if cursor.description:
            names = [d[0] for d in cursor.description]
            results.append((names, cursor.fetchall()))
        else:
            results.append(cursor.rowcount)
        if not cursor.nextset():
            return results


def test_each_statement_answers_in_turn(server: ByomProcess) -> None:
    with _multi(server) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 AS a; SET @x = 2; SELECT @x AS x, 'b;c' AS s;")
        results = _results(cursor)

        cursor.execute("SELECT @x")
        after = cursor.fetchall()

    assert results == [(["a"], ((1,),)), 0, (["x", "s"], ((2, "b;c"),))]
    assert after == ((2,),)


def test_an_error_ends_the_sequence(server: ByomProcess) -> None:
    with _multi(server) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1; SELECT * FROM nowhere; SET @ran = 1")
        assert cursor.fetchall() == ((1,),)
        with pytest.raises(pymysql.err.ProgrammingError) as caught:
            cursor.nextset()

        cursor.execute("SELECT @ran")
        after = cursor.fetchall()

    assert caught.value.args == (1146, "Table 'mindsdb.nowhere' doesn't exist")
    assert after == ((None,),)


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        pytest.param(
            "select 1; select nosuch from nowhere; select 3",
            (1146, "Table 'mindsdb.nowhere' doesn't exist"),
            id="unknown-table",
        ),
        pytest.param(
            "select 1; selec 2; select 3",
            (
                1064,
                "You have an error in your SQL syntax; Invalid expression / "
                "Unexpected token near 'selec 2' at line 1",
            ),
            id="syntax-error",
        ),
    ],
)
def test_results_before_an_error_come_first(
    server: ByomProcess, sql: str, error: tuple[int, str]
) -> None:
    # As in MySQL: statement 1's result (flagged MORE_RESULTS), then the error,
    # and statement 3 never runs.
    with _multi(server) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        first = cursor.fetchall()
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.nextset()
        cursor.execute("SELECT 4")
        after = cursor.fetchall()

    assert first == ((1,),)
    assert caught.value.args == error
    assert after == ((4,),)


@pytest.mark.parametrize(
    ("sql", "results"),
    [
        pytest.param("SELECT 1;;", [(["1"], ((1,),))], id="trailing-semicolons"),
        pytest.param("SELECT 1 ; \n ", [(["1"], ((1,),))], id="trailing-space"),
        pytest.param(
            "SELECT 1; -- the end", [(["1"], ((1,),)), 0], id="trailing-comment"
        ),
    ],
)
def test_trailing_semicolons_and_comments_as_in_mysql(
    server: ByomProcess, sql: str, results: list[Any]
) -> None:
    # MySQL drops trailing semicolons and space; a comment alone answers OK.
    with _multi(server) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        assert _results(cursor) == results


@pytest.mark.parametrize(
    ("sql", "first", "near"),
    [
        pytest.param(
            "SELECT 1;; SELECT 2", ((1,),), "'; SELECT 2' at line 1", id="two"
        ),
        pytest.param(
            "SELECT 1; /* c\n */; SELECT 2",
            ((1,),),
            "'; SELECT 2' at line 2",
            id="comment-between",
        ),
        pytest.param(";SELECT 1", None, "';SELECT 1' at line 1", id="leading"),
    ],
)
def test_an_empty_statement_is_a_syntax_error_after_those_before_it(
    server: ByomProcess, sql: str, first: Any, near: str
) -> None:
    # MySQL's parser meets a semicolon where a statement should start.
    rows = None
    with _multi(server) as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.ProgrammingError) as caught:
            cursor.execute(sql)
            rows = cursor.fetchall()
            cursor.nextset()
        cursor.execute("SELECT 3")
        after = cursor.fetchall()

    assert rows == first
    assert caught.value.args == (
        1064,
        f"You have an error in your SQL syntax; a statement is empty near {near}",
    )
    assert caught.value.sqlstate == "42000"
    assert after == ((3,),)


def test_without_the_flag_a_trailing_comment_is_no_statement(
    server: ByomProcess,
) -> None:
    with server.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1; -- the end")
        rows = cursor.fetchall()

    assert rows == ((1,),)


def test_without_the_flag_several_statements_are_refused(server: ByomProcess) -> None:
    with server.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute("SELECT 1; SELECT 2")
        cursor.execute("SELECT 3")
        after = cursor.fetchall()

    assert caught.value.args == (
        1235,
        "several statements in one query are not supported; send them one at a time",
    )
    assert after == ((3,),)


def test_every_result_but_the_last_flags_more_results(server: ByomProcess) -> None:
    client = RawClient(server.port)
    try:
        client.handshake()
        _login_with_multi_statements(client)
        client.send_packet(b"\x03SELECT 1; SET @a = 1; SELECT 2", seq=0)
        statuses = [_result_status(client) for _ in range(3)]
    finally:
        client.close()

    assert statuses == [
        MORE_RESULTS | AUTOCOMMIT,
        MORE_RESULTS | AUTOCOMMIT,
        AUTOCOMMIT,
    ]


def _login_with_multi_statements(client: RawClient) -> None:
    # RawClient.login, with CLIENT_MULTI_STATEMENTS and CLIENT_MULTI_RESULTS.
    capabilities = 0x1 | 0x200 | 0x8000 | 0x80000 | 0x10000 | 0x20000
    payload = (
        struct.pack("<IIB", capabilities, 1 << 24, 45)
        + b"\x00" * 23
        + USER.encode()
        + b"\x00\x00mysql_native_password\x00"
    )
    client.send_packet(payload, seq=1)
    reply = client.read_packet()
    assert reply is not None and reply[0] == 0x00


def _result_status(client: RawClient) -> int:
    # The status of an OK, or of the EOF closing a result set's rows.
    first = client.read_packet()
    assert first is not None and first[0] != 0xFF, first
    if first[0] == 0x00:
        return int.from_bytes(first[3:5], "little")
    eofs = 0
    while eofs < 2:
        packet = client.read_packet()
        assert packet is not None
        if packet[0] == 0xFE and len(packet) < 9:
            eofs += 1
    return int.from_bytes(packet[3:5], "little")


def test_mariadb_cli_runs_each_statement(server: ByomProcess) -> None:
    # The CLI splits -e itself; with DELIMITER it sends both in one COM_QUERY.
    split = server.cli("", "-e", "select 1 as a; select 2 as b")
    together = server.cli("delimiter //\nselect 1 as a; select 2 as b//\n")

    assert split.stdout == "a\n1\nb\n2\n"
    assert together.stdout == "a\n1\nb\n2\n"


def test_com_set_option_turns_several_statements_on_and_off(
    server: ByomProcess,
) -> None:
    # mysqlclient sends COM_SET_OPTION for set_server_option (PHP's mysqli does
    # for multi_query); 0 turns several statements on, 1 off.
    import MySQLdb

    connection = MySQLdb.connect(
        host="127.0.0.1", port=server.port, user=USER, multi_statements=False
    )
    try:
        cursor = connection.cursor()
        with pytest.raises(MySQLdb.MySQLError) as refused:
            cursor.execute("SELECT 1; SELECT 2")
        connection.set_server_option(0)
        cursor.execute("SELECT 1 AS a; SELECT 2 AS b")
        first = cursor.fetchall()
        cursor.nextset()
        second = cursor.fetchall()
        connection.set_server_option(1)
        with pytest.raises(MySQLdb.MySQLError) as refused_again:
            cursor.execute("SELECT 3; SELECT 4")
        cursor.execute("SELECT 5")
        last = cursor.fetchall()
    finally:
        connection.close()

    assert refused.value.args[0] == 1235
    assert (first, second) == (((1,),), ((2,),))
    assert refused_again.value.args[0] == 1235
    assert last == ((5,),)
