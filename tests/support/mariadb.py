"""A private MariaDB server for tests, with the home_rentals table loaded.

Each MariaDBServer gets its own data directory, socket and port, so two test runs
on one machine never meet, and the machine's own MariaDB service is never touched.
The general log goes to the `mysql.general_log` table, so a test can read back the
exact SQL that byom pushed down to the database.

The home_rentals loader lives here too, and the PostgreSQL harness reuses it, so that
both databases hold the same values. The CSV does not quite fit the column types
the tests were meant to have, which the loader settles like this:

- `rental_price` is DOUBLE, not INT: 1,509 of its 5,037 values are fractional and
  an INT column would round them away.
- `sqft` stays INT, but two cells are written with a decimal comma ("640,56",
  "944,98"); they are read as decimals and rounded half up (641 and 945), which is
  also what either database does when it casts such a decimal to an integer.
"""

from __future__ import annotations

import csv
import logging
import os
import subprocess
import tempfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import quote

import pymysql

from tests.support.procs import ServerStartError, find_executable, spawn_logged
from tests.support.server_process import DatabaseServer

logger = logging.getLogger(__name__)

HOME_RENTALS_CSV = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "home_rentals.csv"
)

# Column name and kind ("int", "text" or "float"); each harness maps the kind to
# its own SQL type.
HOME_RENTALS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("number_of_rooms", "int"),
    ("number_of_bathrooms", "int"),
    ("sqft", "int"),
    ("location", "text"),
    ("days_on_market", "int"),
    ("initial_price", "int"),
    ("neighborhood", "text"),
    ("rental_price", "float"),
)

HomeRentalsRow = tuple[int | str | float, ...]

_SQL_TYPES = {"int": "INT", "text": "VARCHAR(64)", "float": "DOUBLE"}
_SBIN_DIRS = [Path("/usr/sbin"), Path("/usr/local/sbin"), Path("/usr/libexec")]


def read_home_rentals(path: Path = HOME_RENTALS_CSV) -> list[HomeRentalsRow]:
    """Read home_rentals.csv into typed rows, in file order (see the module notes)."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)

    expected = [name for name, _ in HOME_RENTALS_COLUMNS]
    if header != expected:
        raise ValueError(f"{path}: header {header} is not {expected}")

    kinds = [kind for _, kind in HOME_RENTALS_COLUMNS]
    return [
        tuple(_convert(cell, kind) for cell, kind in zip(row, kinds, strict=True))
        for row in rows
    ]


def _convert(cell: str, kind: str) -> int | str | float:
    if kind == "text":
        return cell
    if kind == "float":
        return float(cell)
    # "640,56" uses a decimal comma; see the module docstring.
    number = Decimal(cell.replace(",", "."))
    return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class MariaDBServer(DatabaseServer):
    """A throwaway mariadbd on 127.0.0.1 with user `byom` and test_data.home_rentals.

    start() installs a fresh data directory, starts the server in a session of its
    own, creates the user and loads the table; stop() ends that session and deletes
    the directory. Statements sent by `root` (only reachable through the private
    socket, so only this harness) are left out of general_log().
    """

    program = "mariadbd"
    title = "MariaDB"

    def __init__(
        self,
        user: str = "byom",
        password: str = "byom-secret-pw",
        database: str = "test_data",
        start_timeout: float = 30.0,
    ) -> None:
        super().__init__(start_timeout)
        self.user = user
        self.password = password
        self.database = database

    @property
    def url(self) -> str:
        """SQLAlchemy URL for the `byom` user, with the database preselected."""
        secret = quote(self.password, safe="")
        return (
            f"mysql+pymysql://{self.user}:{secret}@{self.host}:{self.port}"
            f"/{self.database}"
        )

    @property
    def socket_path(self) -> Path:
        """The server's unix socket; root can log in only through it."""
        return self._dir / "mysqld.sock"

    def start(self) -> None:
        """Install, start and provision the server; clean up fully if any step fails."""
        self.directory = Path(tempfile.mkdtemp(prefix="byom-mariadb-"))
        try:
            self._install()
            self._launch()
            self._provision()
            self.mark()
        except BaseException:
            self.stop()
            raise
        logger.info("MariaDB started on port %d in %s", self.port, self.directory)

    def stop(self) -> None:
        """Shut the server down (SIGTERM, then SIGKILL) and delete its directory."""
        if self._stop_server():
            logger.info("MariaDB on port %d stopped", self.port)

    def connect(self, **options: object) -> pymysql.connections.Connection:
        """A PyMySQL connection as the `byom` user over TCP, in autocommit."""
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            autocommit=True,
            **options,
        )

    def integration_sql(self, name: str, engine: str = "mysql") -> str:
        """byom's CREATE DATABASE for an integration on this server's test_data."""
        return (
            f"CREATE DATABASE {name} WITH ENGINE = '{engine}', PARAMETERS = "
            f'{{"host": "127.0.0.1", "port": {self.port}, "user": "{self.user}", '
            f'"password": "{self.password}", "database": "{self.database}"}}'
        )

    def mark(self) -> None:
        """Forget the general log so far; general_log() then starts from here."""
        with self._root_connection() as conn, conn.cursor() as cur:
            cur.execute("TRUNCATE TABLE mysql.general_log")

    def general_log(self) -> list[str]:
        """Statements received since start() or mark(), oldest first, but root's."""
        # The log table uses the CSV engine, whose scan order is insertion order;
        # event_time alone can tie, so ORDER BY would be less faithful.
        with self._root_connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT argument FROM mysql.general_log"
                " WHERE command_type IN ('Query', 'Execute')"
                " AND user_host NOT LIKE 'root[%'"
            )
            rows = cur.fetchall()
        # PyMySQL hands back the MEDIUMTEXT column as str, or as bytes when a
        # statement was not valid in the connection's character set.
        return [
            arg if isinstance(arg, str) else bytes(arg).decode("utf-8", "replace")
            for (arg,) in rows
        ]

    def threads_of(self, text: str) -> list[int]:
        """The connection ids that sent the logged statements containing text."""
        with self._root_connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT thread_id FROM mysql.general_log"
                " WHERE command_type = 'Query' AND argument LIKE %s"
                " AND user_host NOT LIKE 'root[%%'",
                (f"%{text}%",),
            )
            return [int(thread) for (thread,) in cur.fetchall()]

    def _install(self) -> None:
        install_db = find_executable(
            ["mariadb-install-db", "mysql_install_db"], _SBIN_DIRS
        )
        if install_db is None:
            raise ServerStartError(
                "mariadb-install-db not found; install the mariadb-server package"
            )

        command = [
            str(install_db),
            "--no-defaults",
            f"--datadir={self._dir / 'data'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *self._server_options(),
        ]
        log = self._dir / "install.log"
        self._run_setup("mariadb-install-db", command, log, cwd=self._dir)

    def _server_options(self) -> list[str]:
        # Small buffers keep a test server light; root must name itself as the user.
        options = ["--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M"]
        # Rows of 16 MiB and more, which the protocol splits over packets.
        options.append("--max-allowed-packet=64M")
        if os.geteuid() == 0:
            options.append("--user=root")
        return options

    def _launch(self) -> None:
        mariadbd = find_executable(["mariadbd", "mysqld"], _SBIN_DIRS)
        if mariadbd is None:
            raise ServerStartError("mariadbd not found; install mariadb-server")

        self._start_on_free_port(lambda: self._spawn(mariadbd), logger)

    @property
    def _server_log(self) -> Path:
        return self._dir / "error.log"

    def _spawn(self, mariadbd: Path) -> subprocess.Popen[bytes]:
        directory = self._dir
        command = [
            str(mariadbd),
            "--no-defaults",
            f"--datadir={directory / 'data'}",
            f"--socket={self.socket_path}",
            f"--port={self.port}",
            f"--bind-address={self.host}",
            f"--pid-file={directory / 'mysqld.pid'}",
            f"--log-error={self._server_log}",
            f"--tmpdir={directory}",
            "--skip-name-resolve",
            "--general-log=1",
            "--log-output=TABLE",
            "--character-set-server=utf8mb4",
            *self._server_options(),
        ]
        return spawn_logged(
            command, directory / "server.out", append=True, cwd=directory
        )

    def _accepts_logins(self) -> bool:
        try:
            self._root_connection().close()
        except pymysql.err.OperationalError:
            return False
        return True

    def _root_connection(self) -> pymysql.connections.Connection:
        return pymysql.connect(
            unix_socket=str(self.socket_path),
            user="root",
            password="",
            connect_timeout=5,
            autocommit=True,
        )

    def _provision(self) -> None:
        columns = ", ".join(
            f"{name} {_SQL_TYPES[kind]}" for name, kind in HOME_RENTALS_COLUMNS
        )
        names = ", ".join(name for name, _ in HOME_RENTALS_COLUMNS)
        placeholders = ", ".join(["%s"] * len(HOME_RENTALS_COLUMNS))
        table = f"{self.database}.home_rentals"

        with self._root_connection() as conn, conn.cursor() as cur:
            # install-db leaves password-less root accounts for TCP; only the one
            # behind the private socket may stay.
            cur.execute("SELECT host FROM mysql.user WHERE user = 'root'")
            for (host,) in cur.fetchall():
                if host != "localhost":
                    cur.execute("DROP USER 'root'@%s", (host,))

            cur.execute(
                "CREATE USER %s@'%%' IDENTIFIED BY %s", (self.user, self.password)
            )
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'%%'", (self.user,))
            cur.execute(f"CREATE DATABASE {self.database}")
            cur.execute(f"CREATE TABLE {table} ({columns})")

            cur.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({placeholders})",
                read_home_rentals(),
            )
