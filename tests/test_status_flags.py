"""Server status flags in OK and EOF packets (``byom.mysql.status_flags``).

Stock mysql-mimic sends 0 in every packet. MySQL reports autocommit (0x0002)
and an open transaction (0x0001), and clients act on them: PyMySQL's
``autocommit(False)`` sends nothing when the flags already say it is off.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.byom_process import USER, ByomProcess
from tests.support.raw_mysql import RawClient

IN_TRANS = 0x0001
AUTOCOMMIT = 0x0002


@pytest.fixture
def raw(server: ByomProcess) -> Iterator[RawClient]:
    client = RawClient(server.port)
    client.handshake()
    reply = client.login(USER, b"")
    assert reply is not None and reply[0] == 0x00
    assert ok_status(reply) == AUTOCOMMIT
    yield client
    client.close()


def ok_status(packet: bytes) -> int:
    """The status flags of an OK packet (after its two length-encoded counts)."""
    assert packet[0] == 0x00, packet
    position = 1
    for _ in range(2):
        first = packet[position]
        position += {0xFC: 3, 0xFD: 4, 0xFE: 9}.get(first, 1)
    return int.from_bytes(packet[position : position + 2], "little")


def result_status(client: RawClient) -> int:
    """Read the rest of a text result set; the status of its closing EOF.

    After the column count: the definitions, an EOF, the rows, an EOF.
    """
    eofs = 0
    while True:
        packet = client.read_packet()
        assert packet is not None
        if packet[0] == 0xFE and len(packet) < 9:
            eofs += 1
            if eofs == 2:
                return int.from_bytes(packet[3:5], "little")


def statement_status(client: RawClient, sql: str) -> int:
    """Send sql; the status its OK, or its result's last EOF, carries."""
    first = client.query(sql)
    assert first is not None and first[0] != 0xFF, first
    return ok_status(first) if first[0] == 0x00 else result_status(client)


@pytest.mark.parametrize(
    ("script", "statuses"),
    [
        pytest.param(
            ["SET autocommit=1", "SET autocommit=0", "SET autocommit=1"],
            [AUTOCOMMIT, 0, AUTOCOMMIT],
            id="autocommit",
        ),
        pytest.param(
            ["BEGIN", "SELECT 1", "COMMIT", "SELECT 1"],
            [IN_TRANS | AUTOCOMMIT, IN_TRANS | AUTOCOMMIT, AUTOCOMMIT, AUTOCOMMIT],
            id="begin-commit",
        ),
        pytest.param(
            ["SET autocommit=0", "START TRANSACTION", "ROLLBACK"],
            [0, IN_TRANS, 0],
            id="start-transaction-rollback",
        ),
        pytest.param(
            ["SET autocommit=0", "BEGIN", "SET autocommit=1"],
            [0, IN_TRANS, AUTOCOMMIT],
            id="autocommit-on-commits",
        ),
        pytest.param(
            ["BEGIN", "COMMIT AND CHAIN", "COMMIT"],
            [IN_TRANS | AUTOCOMMIT, IN_TRANS | AUTOCOMMIT, AUTOCOMMIT],
            id="commit-and-chain",
        ),
    ],
)
def test_ok_and_eof_packets_carry_the_status(
    raw: RawClient, script: list[str], statuses: list[int]
) -> None:
    assert [statement_status(raw, sql) for sql in script] == statuses


@pytest.mark.parametrize(
    ("autocommit", "server_value"),
    [
        pytest.param(False, 0, id="off-pymysqls-default"),
        pytest.param(True, 1, id="on"),
        pytest.param(None, 1, id="server-default"),
    ],
)
def test_pymysql_applies_its_autocommit_setting(
    server: ByomProcess, autocommit: bool | None, server_value: int
) -> None:
    # PyMySQL sends SET autocommit at connect only when the greeting's flags
    # say it differs; with flags always 0, autocommit=False never reached the
    # server and autocommit=None reported it off.
    with server.connect(autocommit=autocommit) as connection:
        assert connection.get_autocommit() is bool(server_value)
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@autocommit")
            assert cursor.fetchall() == ((server_value,),)


def test_pymysql_reads_the_transaction_flag(server: ByomProcess) -> None:
    with server.connect(autocommit=True) as connection:
        connection.begin()
        assert connection.server_status == IN_TRANS | AUTOCOMMIT
        connection.rollback()
        assert connection.server_status == AUTOCOMMIT


def test_reset_connection_ends_the_transaction(server: ByomProcess) -> None:
    with server.connect() as connection:
        connection.begin()
        connection._execute_command(0x1F, b"")  # COM_RESET_CONNECTION
        ok = connection._read_packet()
        assert ok_status(ok.read_all()) == AUTOCOMMIT


def test_a_failed_statement_keeps_the_transaction_state(raw: RawClient) -> None:
    assert statement_status(raw, "BEGIN") == IN_TRANS | AUTOCOMMIT
    error = raw.query("SELECT * FROM nowhere")
    assert error is not None and error[0] == 0xFF
    assert statement_status(raw, "SELECT 1") == IN_TRANS | AUTOCOMMIT
