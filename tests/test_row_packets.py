"""A MariaDB passthrough sent as the source's own row packets.

The packet cutter is checked on hand-made streams (an EOF or ERR after rows, a
row over several packets whose continuation looks like an EOF), then through
byom against a real MariaDB: rows of 16 MiB and more, an error the source
sends between rows, a query timeout, and the connection byom keeps for the next
query (reused after a whole result, dropped after a client left mid-result).
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator

import mysql.connector
import pymysql
import pymysql.cursors
import pytest

from byom.sources.demo import generate_rows
from byom.sources.row_packets import packet_ends, renumbered
from tests.support.byom_process import USER, ByomProcess
from tests.support.mariadb import MariaDBServer
from tests.support.raw_mysql import RawClient

MAX = 0xFFFFFF


def packet(payload: bytes, sequence: int) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([sequence]) + payload


EOF = b"\xfe\x00\x00\x02\x00"
ERR = b"\xff\x7a\x04#42S22Unknown column"


@pytest.mark.parametrize(
    ("stream", "continued", "expected"),
    [
        pytest.param(
            packet(b"\x011", 5) + packet(b"\x012", 6) + packet(EOF, 7),
            False,
            (12, 2, True, False),
            id="rows-then-eof",
        ),
        pytest.param(
            packet(b"\x011", 5) + packet(ERR, 6),
            False,
            (6, 1, True, False),
            id="row-then-err",
        ),
        pytest.param(
            packet(b"\x011", 5) + packet(b"\x012", 6)[:5],
            False,
            (6, 1, False, False),
            id="a-packet-not-whole-yet",
        ),
        pytest.param(
            packet(EOF, 9) + packet(EOF, 10),
            True,
            (9, 1, True, False),
            id="a-continuation-that-looks-like-an-eof",
        ),
        pytest.param(
            packet(b"\xfe" + b"x" * 20, 5) + packet(EOF, 6),
            False,
            (25, 1, True, False),
            id="a-row-starting-with-0xfe-is-long",
        ),
        pytest.param(b"", False, (0, 0, False, False), id="nothing"),
    ],
)
def test_packet_ends(
    stream: bytes, continued: bool, expected: tuple[int, int, bool, bool]
) -> None:
    assert packet_ends(bytearray(stream), continued) == expected


def test_packet_ends_marks_a_full_packet_as_continued() -> None:
    stream = bytearray(packet(b"\x00" * MAX, 3))

    assert packet_ends(stream) == (MAX + 4, 1, False, True)


def test_renumbered_rewrites_each_sequence_number_only() -> None:
    data = packet(b"\x011", 5) + packet(b"\x02ab", 6) + packet(b"\x01c", 7)

    assert renumbered(data, 255) == (
        packet(b"\x011", 255) + packet(b"\x02ab", 0) + packet(b"\x01c", 1)
    )


@pytest.fixture(scope="module")
def packets_byom(mariadb: MariaDBServer) -> Iterator[ByomProcess]:
    """A byom whose integration ``src`` holds test_data.packet_rows (ids 1-3)."""
    connection = mariadb.connect()
    with connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS test_data.packet_rows")
        cursor.execute("CREATE TABLE test_data.packet_rows (id INT PRIMARY KEY)")
        cursor.execute("INSERT INTO test_data.packet_rows VALUES (1), (2), (3)")

    server = ByomProcess()
    server.start()
    server.query(mariadb.integration_sql("src", "mariadb"))
    yield server
    server.cleanup()


@pytest.mark.parametrize(
    "size",
    [
        # The row's payload is the cell's 4-byte (then 9-byte) length, the
        # cell, and "1" with its length byte.
        pytest.param(MAX - 7, id="just-below-one-packet"),
        pytest.param(MAX - 6, id="exactly-one-full-packet"),
        pytest.param(20_000_000, id="two-packets"),
        pytest.param(40_000_000, id="three-packets"),
    ],
)
def test_rows_of_16_mib_or_more_arrive_whole(
    packets_byom: ByomProcess, size: int
) -> None:
    with packets_byom.connect(max_allowed_packet=128 << 20) as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT REPEAT('a', {size}) AS big, id FROM src.packet_rows "
                "WHERE id < 3 ORDER BY id"
            )
            rows = cursor.fetchall()
            cursor.execute("SELECT id FROM src.packet_rows ORDER BY id")
            after = cursor.fetchall()

    assert [(len(big), set(big), id_) for big, id_ in rows] == [
        (size, {"a"}, 1),
        (size, {"a"}, 2),
    ]
    assert after == ((1,), (2,), (3,))


def test_an_error_between_rows_reaches_the_client(packets_byom: ByomProcess) -> None:
    # The subquery gives two rows for id 3 only: MariaDB has sent rows 1 and 2.
    sql = (
        "SELECT id, (SELECT u.id FROM src.packet_rows AS u WHERE t.id = 3 "
        "AND u.id < 3) AS x FROM src.packet_rows AS t ORDER BY id"
    )
    rows = []
    with packets_byom.connect() as connection:
        with connection.cursor(pymysql.cursors.SSCursor) as cursor:
            with pytest.raises(pymysql.err.MySQLError) as raised:
                cursor.execute(sql)
                rows.extend(iter(cursor.fetchone, None))
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM src.packet_rows WHERE id = 2")
            after = cursor.fetchall()

    # The rows before the error arrive, as from MariaDB itself.
    assert rows == [(1, None), (2, None)]
    # A source's own error that is not the client's mistake is byom's 1429,
    # naming the source and carrying its code and text.
    assert raised.value.args == (
        1429,
        "data source 'src' failed: (1242, 'Subquery returns more than 1 row')",
    )
    assert after == ((2,),)


def test_an_error_before_the_rows_names_the_culprit(packets_byom: ByomProcess) -> None:
    code, message = packets_byom.error("SELECT nope FROM src.packet_rows")

    assert (code, message) == (1054, "Unknown column 'nope' in 'SELECT'")


def test_query_timeout_stops_a_slow_source(packets_byom: ByomProcess) -> None:
    with packets_byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SET max_execution_time = 500")
        started = time.monotonic()
        with pytest.raises(pymysql.err.MySQLError) as raised:
            cursor.execute("SELECT SLEEP(5), id FROM src.packet_rows")
        waited = time.monotonic() - started
        cursor.execute("SET max_execution_time = 0")
        cursor.execute("SELECT id FROM src.packet_rows WHERE id = 1")
        after = cursor.fetchall()

    assert raised.value.args[0] == 3024
    assert waited < 3
    assert after == ((1,),)


def source_connection(byom: ByomProcess, mariadb: MariaDBServer, marker: str) -> int:
    """The id of the source connection a passthrough query marked so ran on."""
    rows = byom.query(f"SELECT id, '{marker}' FROM src.packet_rows WHERE id = 1")
    assert rows == [(1, marker)]
    (thread,) = mariadb.threads_of(marker)
    return thread


def test_a_whole_result_leaves_its_connection_for_the_next(
    packets_byom: ByomProcess, mariadb: MariaDBServer
) -> None:
    first = source_connection(packets_byom, mariadb, "reuse-first")

    assert source_connection(packets_byom, mariadb, "reuse-second") == first


def test_a_client_leaving_mid_result_drops_the_source_connection(
    packets_byom: ByomProcess, mariadb: MariaDBServer
) -> None:
    before = source_connection(packets_byom, mariadb, "leave-before")
    client = RawClient(packets_byom.port)
    client.handshake()
    client.login(USER, b"")
    # 81 rows of 1 MB: far more than the socket buffers hold.
    client.send_packet(
        b"\x03SELECT REPEAT('a', 1000000), t.id FROM src.packet_rows AS t, "
        b"src.packet_rows AS u, src.packet_rows AS v, src.packet_rows AS w",
        seq=0,
    )
    assert client.read_packet() is not None
    # Closing with a zero linger time resets the connection.
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with (
            mariadb.connect() as admin,
            admin.cursor() as cursor,
        ):
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                "WHERE INFO LIKE 'SELECT REPEAT%'"
            )
            ((running,),) = cursor.fetchall()
        if running == 0:
            break
        time.sleep(0.1)
    after = source_connection(packets_byom, mariadb, "leave-after")

    assert running == 0
    assert mariadb.threads_of("REPEAT('a', 1000000)") == [before]
    assert after != before


def test_a_subquery_from_dual_runs_on_the_source(packets_byom: ByomProcess) -> None:
    rows = packets_byom.query(
        "SELECT (SELECT 7 FROM DUAL) AS x, id FROM src.packet_rows WHERE id = 1"
    )

    assert rows == [(7, 1)]


def test_column_definitions_name_the_tables_as_the_source_does(
    packets_byom: ByomProcess, mariadb: MariaDBServer
) -> None:
    # PyMySQL's DictCursor tells two columns of one name apart by their table.
    sql = (
        "SELECT t.id, u.id, t.id + 1 AS next FROM {db}.packet_rows AS t "
        "JOIN {db}.packet_rows AS u ON u.id = t.id WHERE t.id = 1"
    )
    direct = mariadb.connect(cursorclass=pymysql.cursors.DictCursor)
    with direct, direct.cursor() as cursor:
        cursor.execute(sql.format(db="test_data"))
        expected = cursor.fetchall()

    with packets_byom.connect(cursorclass=pymysql.cursors.DictCursor) as connection:
        with connection.cursor() as cursor:
            cursor.execute(sql.format(db="src"))
            rows = cursor.fetchall()

    assert rows == expected == [{"id": 1, "u.id": 1, "next": 2}]


def test_clients_read_the_sources_own_column_definitions(
    packets_byom: ByomProcess, mariadb: MariaDBServer
) -> None:
    # Types, lengths, flags and character sets as MariaDB sends them: a BIT
    # stays BIT, a spatial column binary, a table aligns as in MariaDB.
    setup = mariadb.connect()
    with setup, setup.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS test_data.packet_types")
        cursor.execute(
            "CREATE TABLE test_data.packet_types (id TINYINT UNSIGNED NOT NULL, "
            "flags BIT(10), tags SET('a', 'b'), yr YEAR, f FLOAT, "
            "at TIMESTAMP(3) NULL, g GEOMETRY)"
        )
        cursor.execute(
            "INSERT INTO test_data.packet_types VALUES (7, b'1010101010', 'a,b', "
            "2024, 3.14159, '2024-02-29 10:11:12.345', ST_GeomFromText('POINT(1 2)'))"
        )
    sql = "SELECT * FROM {db}.packet_types"

    direct = mariadb.connect()
    with direct, direct.cursor() as cursor:
        cursor.execute(sql.format(db="test_data"))
        expected = (cursor.description, cursor.fetchall())
    with packets_byom.connect() as connection, connection.cursor() as cursor:
        cursor.execute(sql.format(db="src"))
        got = (cursor.description, cursor.fetchall())
    table = cli_table(packets_byom.port, USER, "", sql.format(db="src"))
    direct_table = cli_table(
        mariadb.port, mariadb.user, mariadb.password, sql.format(db="test_data")
    )

    assert got == expected
    assert [column[1] for column in got[0]] == [1, 16, 254, 13, 4, 7, 255]
    assert got[1][0][6][:4] == b"\x00\x00\x00\x00"
    assert table == direct_table
    assert table.count(b"\n") == 5


def cli_table(port: int, user: str, password: str, sql: str) -> bytes:
    """What the mariadb CLI prints for sql as a table, as bytes."""
    command = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(port)]
    command += ["-u", user, "--table", "--binary-as-hex"]
    if password:
        command.append(f"--password={password}")
    done = subprocess.run(command, input=sql.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def running_on_source(mariadb: MariaDBServer, marker: str) -> int:
    """How many queries holding marker the source is running now."""
    with (
        mariadb.connect() as admin,
        admin.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE INFO LIKE %s AND COMMAND = 'Query' AND ID <> CONNECTION_ID()",
            (f"%{marker}%",),
        )
        ((count,),) = cursor.fetchall()
    return int(count)


def wait_until_stopped(mariadb: MariaDBServer, marker: str) -> int:
    deadline = time.monotonic() + 5
    while (running := running_on_source(mariadb, marker)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    return running


def test_kill_query_stops_the_query_on_the_source(
    packets_byom: ByomProcess, mariadb: MariaDBServer
) -> None:
    # SLEEP sends nothing until it ends: only a KILL on the source stops it.
    with packets_byom.connect() as victim, packets_byom.connect() as killer:
        with victim.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            ((victim_id,),) = cursor.fetchall()
        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                with victim.cursor() as cursor:
                    cursor.execute(
                        "SELECT SLEEP(30) AS kill_me, id FROM src.packet_rows"
                    )
            except pymysql.err.MySQLError as exc:
                outcome["error"] = exc.args[0]

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 10
        while not running_on_source(mariadb, "kill_me") and time.monotonic() < deadline:
            time.sleep(0.05)
        with killer.cursor() as cursor:
            cursor.execute(f"KILL QUERY {victim_id}")
        thread.join(timeout=10)

    assert outcome == {"error": 1317}
    assert wait_until_stopped(mariadb, "kill_me") == 0


@pytest.mark.parametrize(
    "prepared",
    [
        pytest.param(False, id="text-protocol"),
        pytest.param(True, id="prepared-statement"),
    ],
)
def test_query_timeout_stops_the_query_on_the_source(
    packets_byom: ByomProcess, mariadb: MariaDBServer, prepared: bool
) -> None:
    link = mysql.connector.connect(
        host="127.0.0.1", port=packets_byom.port, user=USER, password="", use_pure=True
    )
    marker = f"slow_{int(prepared)}"
    try:
        cursor = link.cursor(prepared=prepared)
        cursor.execute("SET max_execution_time = 500")
        with pytest.raises(mysql.connector.Error) as raised:
            cursor.execute(f"SELECT SLEEP(30) AS {marker}, id FROM src.packet_rows")
            cursor.fetchall()
    finally:
        link.close()

    assert raised.value.errno == 3024
    assert wait_until_stopped(mariadb, marker) == 0


def test_a_query_leaves_no_session_state_to_the_next_client(
    packets_byom: ByomProcess, mariadb: MariaDBServer
) -> None:
    rows = packets_byom.query("SELECT GET_LOCK('byom_lk', 0), id FROM src.packet_rows")
    with (
        mariadb.connect() as direct,
        direct.cursor() as cursor,
    ):
        cursor.execute("SELECT GET_LOCK('byom_lk', 0)")
        taken = cursor.fetchall()

    assert rows == [(1, 1), (1, 2), (1, 3)]
    assert taken == ((1,),)


def test_a_frozen_source_leaves_the_other_integrations_served(
    packets_byom: ByomProcess,
) -> None:
    frozen = MariaDBServer()
    frozen.start()
    try:
        setup = frozen.connect()
        with setup, setup.cursor() as cursor:
            cursor.execute("CREATE TABLE test_data.ice (id INT)")
            cursor.execute("INSERT INTO test_data.ice VALUES (1)")
        packets_byom.query(
            "CREATE DATABASE ice WITH ENGINE = 'mariadb', PARAMETERS = "
            f'{{"host": "127.0.0.1", "port": {frozen.port}, "user": "{frozen.user}", '
            f'"password": "{frozen.password}", "database": "test_data", '
            '"connect_timeout": 30}'
        )
        assert packets_byom.query("SELECT id FROM ice.ice") == [(1,)]
        assert frozen.process is not None
        os.kill(frozen.process.pid, signal.SIGSTOP)

        codes: list[int] = []

        def give_up_on_ice() -> None:
            with packets_byom.connect() as connection, connection.cursor() as cursor:
                cursor.execute("SET max_execution_time = 500")
                try:
                    cursor.execute("SELECT id FROM ice.ice")
                except pymysql.err.MySQLError as exc:
                    codes.append(exc.args[0])

        threads = [threading.Thread(target=give_up_on_ice) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        started = time.monotonic()
        with packets_byom.connect(read_timeout=20) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM mydb.test_data.home_rentals")
                rows = cursor.fetchall()
        waited = time.monotonic() - started
    finally:
        if frozen.process is not None:
            os.kill(frozen.process.pid, signal.SIGCONT)
        frozen.stop()
        packets_byom.query("DROP DATABASE ice")

    assert codes == [3024] * 12
    assert rows == ((len(list(generate_rows())),),)
    # The demo's answer waits for no thread the frozen source holds.
    assert waited < 5


def test_select_into_is_refused_by_name(packets_byom: ByomProcess) -> None:
    refused = packets_byom.error("SELECT id INTO @w FROM src.packet_rows WHERE id = 1")

    assert refused == (1235, "SELECT ... INTO is not supported")
