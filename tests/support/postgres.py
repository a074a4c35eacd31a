"""A private PostgreSQL server for tests, with the home_rentals table loaded.

Each PostgresServer gets its own cluster, socket directory and port. PostgreSQL
refuses to run as root, so under root the cluster belongs to an unprivileged OS
user: `postgres` when the machine has one, else `byom-postgres`, created on first
use. TCP logins (127.0.0.1 only) need a SCRAM password; logins through the private
socket are trusted, which is how the harness itself gets in.

Every statement is logged (log_statement=all) to the server's stderr file, so a
test can read back the SQL that byom pushed down. Statements sent with the extended
protocol are logged with their $n placeholders, not with the values bound to them.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from tests.support.mariadb import HOME_RENTALS_COLUMNS, read_home_rentals
from tests.support.procs import ServerStartError, spawn_logged
from tests.support.server_process import DatabaseServer

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"
OS_USER_FALLBACK = "byom-postgres"

_SQL_TYPES = {"int": "integer", "text": "varchar(64)", "float": "double precision"}

# Each log record starts with this prefix; the lines that continue a multi-line
# message start with a tab instead, so records split without ambiguity.
_LOG_LINE_PREFIX = "[%p] %u/%d "
_RECORD = re.compile(r"^\[(\d+)\] (\S*)/(\S*) ([A-Z0-9]+):  (.*)$")
_STATEMENT = re.compile(r"^(?:statement|execute (?:fetch from )?\S+): (.*)$", re.S)


@dataclass(frozen=True)
class _OsUser:
    name: str
    uid: int
    gid: int


def find_postgres_bin() -> Path:
    """Find a directory that holds both initdb and postgres, newest version first."""
    candidates: list[Path] = []
    on_path = shutil.which("postgres")
    if on_path is not None:
        candidates.append(Path(on_path).parent)
    candidates.append(Path("/usr/local/bin"))
    versioned = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versioned, key=_major_version, reverse=True)

    for directory in candidates:
        if all(os.access(directory / name, os.X_OK) for name in ("initdb", "postgres")):
            return directory
    raise ServerStartError(
        "initdb and postgres not found on PATH, in /usr/local/bin or under "
        "/usr/lib/postgresql/*/bin; install the postgresql package"
    )


def _major_version(bin_dir: Path) -> int:
    name = bin_dir.parent.name
    return int(name) if name.isdigit() else 0


def _server_os_user() -> _OsUser | None:
    """The user to run the cluster as, or None to stay the current (non-root) user."""
    if os.geteuid() != 0:
        return None

    for name in (SUPERUSER, OS_USER_FALLBACK):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid)

    # Exit status 9 means a parallel test run created the user a moment ago.
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        + [OS_USER_FALLBACK],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 9):
        raise ServerStartError(f"useradd {OS_USER_FALLBACK} failed: {result.stderr}")
    entry = pwd.getpwnam(OS_USER_FALLBACK)
    return _OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


class PostgresServer(DatabaseServer):
    """A throwaway PostgreSQL on 127.0.0.1 with role `byom` and demo.test_data tables.

    The role owns database `demo` and its schema `test_data`, which holds
    home_rentals. start() runs initdb into a fresh directory, starts `postgres` in
    a session of its own, creates role and database and loads the table; stop()
    asks for a fast shutdown and deletes the directory. Statements of the
    superuser (the harness) are left out of general_log().
    """

    program = "postgres"
    title = "PostgreSQL"

    def __init__(
        self,
        user: str = "byom",
        password: str = "byom-secret-pw",
        database: str = "demo",
        schema: str = "test_data",
        start_timeout: float = 30.0,
    ) -> None:
        super().__init__(start_timeout)
        self.user = user
        self.password = password
        self.database = database
        self.schema = schema
        self._os_user: _OsUser | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        """SQLAlchemy URL for the `byom` role and the `demo` database."""
        secret = quote(self.password, safe="")
        return (
            f"postgresql+psycopg://{self.user}:{secret}@{self.host}:{self.port}"
            f"/{self.database}"
        )

    @property
    def socket_dir(self) -> Path:
        """The directory of the server's unix socket (a libpq `host`)."""
        return self._dir

    def start(self) -> None:
        """Create, start and provision the cluster; clean up fully if a step fails."""
        self._os_user = _server_os_user()
        self.directory = Path(tempfile.mkdtemp(prefix="byom-postgres-"))
        try:
            if self._os_user is not None:
                os.chown(self.directory, self._os_user.uid, self._os_user.gid)
            bin_dir = find_postgres_bin()
            self._initdb(bin_dir)
            self._start_on_free_port(lambda: self._spawn(bin_dir), logger)
            self._provision()
            self.mark()
        except BaseException:
            self.stop()
            raise
        logger.info(
            "PostgreSQL started on port %d in %s as %s",
            self.port,
            self.directory,
            self._os_user.name if self._os_user is not None else "the current user",
        )

    def stop(self) -> None:
        """Shut the server down and delete its directory.

        SIGINT asks for a fast shutdown; SIGTERM's smart shutdown would wait for
        every client, and a test that forgot a connection would hang here.
        """
        if self._stop_server(sig=signal.SIGINT):
            logger.info("PostgreSQL on port %d stopped", self.port)

    def mark(self) -> None:
        """Forget the statement log so far; general_log() then starts from here."""
        self._log_offset = self._server_log.stat().st_size

    def general_log(self) -> list[str]:
        """Statements received since start() or mark(), oldest first, but ours."""
        with self._server_log.open("rb") as handle:
            handle.seek(self._log_offset)
            text = handle.read().decode("utf-8", "replace")

        statements: list[str] = []
        for user, level, message in _parse_log(text):
            if level != "LOG" or user == SUPERUSER:
                continue
            match = _STATEMENT.match(message)
            if match is not None:
                statements.append(match.group(1))
        return statements

    @property
    def _server_log(self) -> Path:
        return self._dir / "server.log"

    def _identity(self) -> tuple[int | None, int | None, list[int] | None]:
        """Popen's user, group and extra_groups: drop root for the server's user."""
        if self._os_user is None:
            return None, None, None
        return self._os_user.uid, self._os_user.gid, []

    def _initdb(self, bin_dir: Path) -> None:
        log = self._dir / "initdb.log"
        uid, gid, extra_groups = self._identity()
        command = [
            str(bin_dir / "initdb"),
            f"--pgdata={self._dir / 'data'}",
            f"--username={SUPERUSER}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        self._run_setup(
            "initdb",
            command,
            log,
            cwd=self._dir,
            env=_server_env(),
            user=uid,
            group=gid,
            extra_groups=extra_groups,
        )

    def _spawn(self, bin_dir: Path) -> subprocess.Popen[bytes]:
        settings = {
            "listen_addresses": self.host,
            "unix_socket_directories": str(self._dir),
            "password_encryption": "scram-sha-256",
            "log_destination": "stderr",
            "logging_collector": "off",
            "log_statement": "all",
            "log_line_prefix": _LOG_LINE_PREFIX,
            "lc_messages": "C",
            # A test cluster's data is thrown away, so durability only costs time.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
        }
        command = [str(bin_dir / "postgres"), "-D", str(self._dir / "data")]
        command += ["-p", str(self.port)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]

        uid, gid, extra_groups = self._identity()
        return spawn_logged(
            command,
            self._server_log,
            append=True,
            cwd=self._dir,
            env=_server_env(),
            user=uid,
            group=gid,
            extra_groups=extra_groups,
        )

    def _accepts_logins(self) -> bool:
        try:
            self._local_connection(SUPERUSER, "postgres").close()
        except psycopg.OperationalError:
            return False
        return True

    def _local_connection(
        self, user: str, dbname: str
    ) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(
            host=str(self._dir),
            port=self.port,
            user=user,
            dbname=dbname,
            connect_timeout=5,
            autocommit=True,
        )

    def _provision(self) -> None:
        with self._local_connection(SUPERUSER, "postgres") as conn:
            # Keeps the password out of the statement log.
            conn.execute("SET log_statement = 'none'")
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(self.password)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(self.database), sql.Identifier(self.user)
                )
            )

        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_SQL_TYPES[kind]))
            for name, kind in HOME_RENTALS_COLUMNS
        )
        table = sql.Identifier(self.schema, "home_rentals")

        # Working as the role itself leaves it the owner of schema and table.
        with self._local_connection(self.user, self.database) as conn:
            conn.execute(
                sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema))
            )
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(table, columns))
            copy = sql.SQL("COPY {} FROM STDIN").format(table)
            with conn.cursor() as cur, cur.copy(copy) as load:
                for row in read_home_rentals():
                    load.write_row(row)


def _server_env() -> dict[str, str]:
    """A small environment: the server's messages and sorting must not follow ours."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}


def _parse_log(text: str) -> list[tuple[str, str, str]]:
    """Split server log text into (user, level, message) records."""
    records: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        match = _RECORD.match(line)
        if match is not None:
            _pid, user, _db, level, message = match.groups()
            records.append((user, level, message))
        elif line.startswith("\t") and records:
            user, level, message = records[-1]
            records[-1] = (user, level, f"{message}\n{line[1:]}")
    return records
