"""TLS through real clients: the upgrade fix, the reported version, the modes.

Stock mysql-mimic 3.0.5 loses the ClientHello bytes its reader has already
buffered and 10-30% of TLS connects hang for a minute; byom's replacement of
``MysqlStream.start_tls`` must make every connect succeed.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mysql.connector
import pymysql
import pytest

from byom.mysql import tls
from byom.settings import Settings
from tests.support.byom_process import USER, ByomProcess

CERT = Path("tls") / tls.CERT_NAME


@pytest.fixture(scope="module")
def tls_byom() -> Iterator[ByomProcess]:
    """A server with TLS on and the self-signed certificate it generates."""
    server = ByomProcess(demo=False, extra={"tls": "on"})
    server.start()
    yield server
    server.cleanup()


def _pymysql_tls(server: ByomProcess, **kwargs: Any) -> Any:
    # Short timeouts: a stalled TLS handshake must fail the test at once.
    options: dict[str, Any] = {
        "ssl_ca": str(server.data_dir / CERT),
        "ssl_verify_identity": True,
        "connect_timeout": 3,
        "read_timeout": 5,
        "write_timeout": 5,
    }
    return server.connect(**{**options, **kwargs})


def _ssl_version_by_pymysql(server: ByomProcess) -> list[tuple[Any, ...]]:
    with _pymysql_tls(server) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        rows = list(cursor.fetchall())
        cursor.execute("SHOW STATUS LIKE 'Ssl_version'")
        return rows + list(cursor.fetchall())


def _ssl_version_by_connector(
    server: ByomProcess, **kwargs: Any
) -> list[tuple[Any, ...]]:
    connection = mysql.connector.connect(
        host="127.0.0.1",
        port=server.port,
        user=USER,
        password="",
        use_pure=True,
        ssl_ca=str(server.data_dir / CERT),
        ssl_verify_cert=True,
        connection_timeout=5,
        **kwargs,
    )
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        rows = list(cursor.fetchall())
        cursor.execute("SHOW STATUS LIKE 'Ssl_version'")
        return rows + list(cursor.fetchall())
    finally:
        connection.close()


def _ssl_version_by_cli(server: ByomProcess) -> list[tuple[Any, ...]]:
    done = server.cli(
        "SELECT 1; SHOW STATUS LIKE 'Ssl_version';",
        "--skip-column-names",
        "--ssl",
        f"--ssl-ca={server.data_dir / CERT}",
        "--ssl-verify-server-cert",
        "--connect-timeout=5",
    )
    lines = done.stdout.splitlines()
    return [(int(lines[0]),), tuple(lines[1].split("\t"))]


@pytest.mark.timeout(120)
def test_a_hundred_tls_connects_all_succeed(tls_byom: ByomProcess) -> None:
    failures = []
    for attempt in range(100):
        try:
            with _pymysql_tls(tls_byom) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                assert cursor.fetchall() == ((1,),)
        except pymysql.err.MySQLError as exc:
            failures.append((attempt, repr(exc)))

    assert failures == []


@pytest.mark.parametrize(
    "client",
    [
        pytest.param(_ssl_version_by_pymysql, id="pymysql"),
        pytest.param(_ssl_version_by_connector, id="mysql-connector-pure"),
        pytest.param(_ssl_version_by_cli, id="mariadb-cli"),
    ],
)
def test_clients_see_the_negotiated_tls_version(
    tls_byom: ByomProcess, client: Any
) -> None:
    assert client(tls_byom) == [(1,), ("Ssl_version", "TLSv1.3")]


def test_a_tls_1_2_client_is_served_with_tls_1_2(tls_byom: ByomProcess) -> None:
    rows = _ssl_version_by_connector(tls_byom, tls_versions=["TLSv1.2"])

    assert rows == [(1,), ("Ssl_version", "TLSv1.2")]


def test_plain_tcp_still_works_when_tls_is_on(tls_byom: ByomProcess) -> None:
    with tls_byom.connect(ssl_disabled=True) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SHOW STATUS LIKE 'Ssl_version'")
            assert cursor.fetchall() == (("Ssl_version", ""),)


def test_the_server_refuses_tls_below_1_2(tmp_path: Path) -> None:
    context = tls.server_context(Settings(tls="on", data_dir=tmp_path))
    assert context is not None
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_tls_is_off_without_a_certificate(byom_factory: Any) -> None:
    server: ByomProcess = byom_factory(demo=False)

    with pytest.raises(pymysql.err.OperationalError) as caught:
        server.connect(ssl_verify_cert=True)

    assert caught.value.args == (
        2026,
        "SSL is required but the server doesn't support it",
    )


def test_a_given_certificate_turns_tls_on(byom_factory: Any, tmp_path: Path) -> None:
    cert, key = tls.self_signed_certificate(tmp_path / "own")
    server: ByomProcess = byom_factory(
        demo=False, extra={"tls_cert": cert, "tls_key": key}
    )

    rows = _ssl_version_by_pymysql_ca(server, cert)

    assert rows == [("Ssl_version", "TLSv1.3")]
    assert not (server.data_dir / CERT).exists()


def _ssl_version_by_pymysql_ca(server: ByomProcess, ca: Path) -> list[Any]:
    with _pymysql_tls(server, ssl_ca=str(ca)) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SHOW STATUS LIKE 'Ssl_version'")
            return list(cursor.fetchall())


def test_required_tls_refuses_plain_logins(byom_factory: Any) -> None:
    server: ByomProcess = byom_factory(demo=False, extra={"tls": "required"})

    with pytest.raises(pymysql.err.OperationalError) as caught:
        server.connect(ssl_disabled=True)

    assert caught.value.args == (
        1045,
        "Access denied for user mindsdb; this server accepts only TLS connections",
    )
    assert _ssl_version_by_pymysql(server) == [(1,), ("Ssl_version", "TLSv1.3")]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(
            ["--tls", "maybe"],
            "byom: tls must be auto, off, on or required, not 'maybe'",
            id="unknown-mode",
        ),
        pytest.param(
            ["--tls-cert", "/nonexistent/cert.pem"],
            "byom: tls_cert and tls_key must be given together",
            id="cert-without-key",
        ),
        pytest.param(
            ["--tls", "on", "--tls-self-signed", "off"],
            "byom: tls is 'on' but there is no tls_cert and tls_self_signed is off",
            id="on-without-certificate",
        ),
        pytest.param(
            ["--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"],
            "byom: cannot start: tls_cert '/nonexistent/c.pem' / tls_key "
            "'/nonexistent/k.pem' cannot be used: [Errno 2] No such file or directory",
            id="missing-files",
        ),
    ],
)
def test_bad_tls_settings_stop_the_start(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "byom", "serve", "--port", "0"]
        + ["--data-dir", str(tmp_path), "--demo", "off", *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Logging may come first; the reason is the last line.
    assert (done.returncode, done.stderr.splitlines()[-1]) == (2, message)
