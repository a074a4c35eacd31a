"""The users file through real clients: logins, TLS per user, tokens, KILL rights."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mysql.connector
import pymysql
import pytest

from byom.mysql import tls
from byom.mysql.accounts import hash_password
from tests.support.byom_process import ByomProcess

PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "etl": "etl-pw", "ci": "tok-123"}
USERS_FILE = f"""
[users.alice]
password = "{hash_password("alice-pw")}"
admin = true

[users.bob]
password = "{hash_password("bob-pw")}"

[users.etl]
password = "{hash_password("etl-pw")}"
require_tls = true

[users.ci]
password = "{hash_password("tok-123")}"
plugin = "mysql_clear_password"
"""


@pytest.fixture(scope="module")
def users_byom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ByomProcess]:
    """A server with TLS on and the four users above."""
    users = tmp_path_factory.mktemp("users") / "users.toml"
    users.write_text(USERS_FILE)
    server = ByomProcess(demo=False, extra={"tls": "on", "users_file": users})
    server.start()
    yield server
    server.cleanup()


def _connect(server: ByomProcess, user: str, over_tls: bool, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"user": user, "password": PASSWORDS.get(user, "")}
    if over_tls:
        options["ssl_ca"] = str(server.data_dir / "tls" / tls.CERT_NAME)
    else:
        options["ssl_disabled"] = True
    return server.connect(**{**options, **kwargs})


def _current_user(connection: Any) -> Any:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_USER()")
        return cursor.fetchone()[0]


def test_hash_password_prints_mysqls_stored_form() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "byom", "hash-password"],
        input="password\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    # MySQL's own PASSWORD('password').
    assert done.stdout == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19\n"


@pytest.mark.parametrize(
    ("user", "password", "over_tls"),
    [
        pytest.param("alice", "alice-pw", False, id="native-plain"),
        pytest.param("alice", "alice-pw", True, id="native-tls"),
        pytest.param("etl", "etl-pw", True, id="require-tls-over-tls"),
        pytest.param("ci", "tok-123", True, id="token-over-tls"),
    ],
)
def test_accepted_logins(
    users_byom: ByomProcess, user: str, password: str, over_tls: bool
) -> None:
    with _connect(users_byom, user, over_tls, password=password) as connection:
        assert _current_user(connection) == f"{user}@%"


@pytest.mark.parametrize(
    ("user", "password", "over_tls", "message"),
    [
        pytest.param(
            "alice", "wrong", True, "Access denied for user alice", id="wrong-password"
        ),
        pytest.param(
            "mindsdb",
            "",
            False,
            "Access denied for user mindsdb",
            id="file-replaces-single-user",
        ),
        pytest.param(
            "etl",
            "etl-pw",
            False,
            "Access denied for user etl; this account must connect with TLS",
            id="require-tls-over-plain",
        ),
        pytest.param(
            "etl",
            "wrong",
            False,
            "Access denied for user etl",
            id="require-tls-wrong-password-says-nothing-more",
        ),
        pytest.param(
            "ci", "tok-123", False, "Access denied for user ci", id="token-over-plain"
        ),
        pytest.param("ci", "wrong", True, "Access denied for user ci", id="bad-token"),
        pytest.param(
            "ci", "alice-pw", True, "Access denied for user ci", id="other-users-pw"
        ),
    ],
)
def test_refused_logins(
    users_byom: ByomProcess, user: str, password: str, over_tls: bool, message: str
) -> None:
    with pytest.raises(pymysql.err.OperationalError) as caught:
        _connect(users_byom, user, over_tls, password=password)

    assert caught.value.args == (1045, message)


def test_a_refused_tls_user_is_disconnected(users_byom: ByomProcess) -> None:
    with pytest.raises(pymysql.err.OperationalError):
        _connect(users_byom, "etl", over_tls=False)

    with _connect(users_byom, "alice", over_tls=True) as admin:
        with admin.cursor() as cursor:
            cursor.execute("SHOW PROCESSLIST")
            users = [row[1] for row in cursor.fetchall()]
    assert users == ["alice"]


def test_a_failed_change_user_logs_the_connection_out(users_byom: ByomProcess) -> None:
    connection = mysql.connector.connect(
        host="127.0.0.1",
        port=users_byom.port,
        user="bob",
        password="bob-pw",
        use_pure=True,
        ssl_disabled=True,
        connection_timeout=5,
    )
    try:
        connection.cmd_change_user(username="alice", password="alice-pw")
        cursor = connection.cursor()
        cursor.execute("SELECT CURRENT_USER()")
        assert cursor.fetchall() == [("alice@%",)]

        with pytest.raises(mysql.connector.Error) as caught:
            connection.cmd_change_user(username="bob", password="wrong")
        assert (caught.value.errno, caught.value.msg) == (
            1045,
            "Access denied for user bob",
        )
        # Neither bob nor alice: the server has closed the connection.
        with pytest.raises(mysql.connector.Error) as after:
            connection.cmd_query("SELECT CURRENT_USER()")
        assert after.value.errno in (2013, 2055)
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("killer", "victim", "statement", "outcome"),
    [
        pytest.param("bob", "alice", "KILL", "refused", id="other-users-connection"),
        pytest.param("bob", "alice", "KILL QUERY", "refused", id="other-users-query"),
        pytest.param("bob", "bob", "KILL", "killed", id="own-connection"),
        pytest.param("alice", "bob", "KILL", "killed", id="admin-kills-any"),
        # The target is idle: KILL QUERY has nothing to stop and it stays open.
        pytest.param("alice", "bob", "KILL QUERY", "accepted", id="admin-kills-query"),
    ],
)
def test_kill_is_limited_to_own_connections_unless_admin(
    users_byom: ByomProcess, killer: str, victim: str, statement: str, outcome: str
) -> None:
    target = _connect(users_byom, victim, over_tls=False)
    try:
        target_id = target.thread_id()
        with _connect(users_byom, killer, over_tls=False) as connection:
            with connection.cursor() as cursor:
                if outcome == "refused":
                    with pytest.raises(pymysql.err.OperationalError) as caught:
                        cursor.execute(f"{statement} {target_id}")
                    assert caught.value.args == (
                        1095,
                        f"You are not owner of thread {target_id}",
                    )
                else:
                    cursor.execute(f"{statement} {target_id}")

        if outcome == "killed":
            with pytest.raises(pymysql.err.OperationalError) as lost:
                _current_user(target)
            assert lost.value.args[0] in (1927, 2013)
        else:
            assert _current_user(target) == f"{victim}@%"
    finally:
        _close_quietly(target)


def test_the_single_configured_user_can_kill_its_connections(
    byom_factory: Any,
) -> None:
    server: ByomProcess = byom_factory(demo=False)
    with server.connect() as target, server.connect() as killer:
        with killer.cursor() as cursor:
            cursor.execute(f"KILL {target.thread_id()}")
        with pytest.raises(pymysql.err.OperationalError) as caught:
            _current_user(target)
    assert caught.value.args[0] in (1927, 2013)


def test_processlist_shows_other_users_connections_to_admins_only(
    users_byom: ByomProcess,
) -> None:
    # As in MySQL without the PROCESS privilege: bob sees bob's connections.
    with (
        _connect(users_byom, "bob", over_tls=False) as bob,
        _connect(users_byom, "bob", over_tls=False) as bob_again,
        _connect(users_byom, "alice", over_tls=False) as alice,
    ):
        bobs = {bob.thread_id(): "bob", bob_again.thread_id(): "bob"}
        everyone = {**bobs, alice.thread_id(): "alice"}

        assert _processlist_users(bob, bobs) == bobs
        assert _processlist_users(bob_again, bobs) == bobs
        assert _processlist_users(alice, everyone) == everyone


def _processlist_users(connection: Any, expected: dict[int, str]) -> dict[int, str]:
    # Connections of earlier tests may take a moment to leave the list.
    deadline = time.monotonic() + 5
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SHOW PROCESSLIST")
            seen = {row[0]: row[1] for row in cursor.fetchall()}
        if seen == expected or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except pymysql.err.Error:
        pass


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[users", "is not TOML", id="not-toml"),
        pytest.param("title = 'x'", "defines no [users.<name>] table", id="no-users"),
        pytest.param(
            "[users.a]\npassword = 'secret'",
            "user 'a': password must be '*' and 40 hex digits, as printed by "
            "`byom hash-password`",
            id="clear-password",
        ),
        pytest.param(
            f"[users.a]\npassword = '{hash_password('x')}'\nrequire_ssl = true",
            "user 'a': unknown key 'require_ssl'",
            id="unknown-key",
        ),
        pytest.param(
            f"[users.a]\npassword = '{hash_password('x')}'\nplugin = 'sha256'",
            "user 'a': plugin must be 'mysql_native_password' or "
            "'mysql_clear_password'",
            id="unknown-plugin",
        ),
        pytest.param(
            f"[users.a]\npassword = '{hash_password('x')}'\nadmin = 'yes'",
            "user 'a': admin must be true or false",
            id="admin-not-bool",
        ),
    ],
)
def test_bad_users_files_stop_the_start(
    tmp_path: Path, text: str, message: str
) -> None:
    users = tmp_path / "users.toml"
    users.write_text(text)

    done = _serve(tmp_path, "--users-file", str(users))

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith(
        f"byom: cannot start: users_file '{users}'"
    )
    assert message in done.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("0.0.0.0", id="any-ipv4"),
        pytest.param("::", id="any-ipv6"),
        pytest.param("192.0.2.10", id="one-address"),
        pytest.param("byom.example", id="host-name"),
    ],
)
def test_an_open_server_without_password_refuses_to_start(
    tmp_path: Path, host: str
) -> None:
    done = _serve(tmp_path, "--host", host)

    assert (done.returncode, done.stderr.splitlines()[-1]) == (
        2,
        f"byom: cannot start: host {host!r} is reachable from other machines, "
        "and user 'mindsdb' has no password: set password (BYOM_PASSWORD) or "
        "users_file, or listen on 127.0.0.1",
    )


def _serve(data_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    # Only for settings that stop the start: the server never listens.
    environ = {k: v for k, v in os.environ.items() if k != "BYOM_PASSWORD"}
    done = subprocess.run(
        [sys.executable, "-m", "byom", "serve", "--port", "0"]
        + ["--data-dir", str(data_dir), "--demo", "off", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
    )
    return done


def test_the_mariadb_cli_logs_a_token_user_in_over_tls(
    users_byom: ByomProcess,
) -> None:
    done = subprocess.run(
        ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(users_byom.port)]
        + ["-u", "ci", "--password=tok-123", "--batch", "--skip-column-names"]
        + ["--ssl", f"--ssl-ca={users_byom.data_dir / 'tls' / tls.CERT_NAME}"],
        input="SELECT CURRENT_USER(); SHOW STATUS LIKE 'Ssl_version';",
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (done.returncode, done.stdout) == (0, "ci@%\nSsl_version\tTLSv1.3\n")
