"""Several statements in one COM_QUERY, for clients that set CLIENT_MULTI_STATEMENTS.

MySQL answers each statement in turn; every result but the last carries
SERVER_MORE_RESULTS_EXISTS (0x0008), and an error ends the sequence. A client
that did not set the flag is refused with 1235, as before.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from pymysql.constants import CLIENT

from tests.support.byom_process import USER, ByomProcess
from tests.support.raw_mysql import RawClient

AUTOCOMMIT = 0x0002
MORE_RESULTS = 0x0008


@pytest.fixture(scope="module")
def server() -> Iterator[ByomProcess]:
    byom = ByomProcess()
    byom.start()
    yield byom
    byom.cleanup()


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
