"""Run ``byom serve`` as users do: a separate process on a free port.

Tests talk to it only through real MySQL clients (PyMySQL, the mariadb CLI), so
they exercise the same path a user's client does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pymysql

from tests.support.procs import (
    free_port,
    log_tail,
    port_accepts,
    stop_process_tree,
    wait_until,
)

USER = "mindsdb"


class ByomProcess:
    """One byom server with its own data directory and log file."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        demo: bool = True,
        password: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._owned_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="byom-data-"))
        self.demo = demo
        self.password = password
        self.extra = extra or {}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "byom.log"

    def start(self) -> None:
        """Start the server on a free port; wait until it accepts connections."""
        self.start_on(free_port())

    def start_on(self, port: int) -> None:
        """Start the server on port and wait until it accepts MySQL connections."""
        self.port = port
        flags = {
            "port": self.port,
            "data-dir": self.data_dir,
            "demo": str(self.demo).lower(),
            "log-level": "DEBUG",
            **{k.replace("_", "-"): v for k, v in self.extra.items()},
        }
        command = [sys.executable, "-m", "byom", "serve"]
        for name, value in flags.items():
            command += [f"--{name}", str(value)]
        env = dict(os.environ, BYOM_PASSWORD=self.password)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=log, env=env, start_new_session=True
            )
        try:
            wait_until(self._ready, 30, f"byom on port {self.port}")
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{log_tail(self.log_path)}") from None

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"byom exited with {self.process.returncode}\n{log_tail(self.log_path)}"
            )
        return port_accepts(self.port)

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the server with sig (SIGTERM: a clean stop); return its exit code."""
        if self.process is None:
            return None
        stop_process_tree(self.process, timeout=20, sig=sig)
        code = self.process.returncode
        self.process = None
        return code

    def cleanup(self) -> None:
        """Stop, and remove the data directory if this object made it."""
        self.stop()
        if self._owned_dir:
            self.remove_data()

    def remove_data(self) -> None:
        """Delete the data directory (catalog, demo data, log)."""
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def connect(self, **kwargs: Any) -> pymysql.connections.Connection[Any]:
        """A PyMySQL connection as the configured user."""
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": USER,
            "password": self.password,
            "connect_timeout": 10,
            "read_timeout": 120,
        }
        options.update(kwargs)
        return pymysql.connect(**options)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement on a fresh connection and return its rows."""
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    def error(self, sql: str) -> tuple[int, str]:
        """Run one statement that must fail; return its MySQL code and message."""
        with self.connect() as connection, connection.cursor() as cursor:
            try:
                cursor.execute(sql)
            except pymysql.err.MySQLError as exc:
                return exc.args[0], exc.args[1]
        raise AssertionError(f"expected an error from: {sql[:200]}")

    def wait_for_status(self, name: str, status: str, timeout: float = 60) -> None:
        """Poll mindsdb.predictors until predictor name has status."""
        sql = f"SELECT status FROM mindsdb.predictors WHERE name = '{name}'"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.query(sql) == [(status,)]:
                return
            time.sleep(0.05)
        raise AssertionError(f"{name} never reached {status}: {self.query(sql)}")

    def cli(
        self, sql: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run sql through the mariadb command-line client in batch mode."""
        command = [
            "mariadb",
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            str(self.port),
            "-u",
            USER,
            "--batch",
            *args,
        ]
        if self.password:
            command.append(f"--password={self.password}")
        return subprocess.run(
            command, input=sql, capture_output=True, text=True, timeout=300, check=check
        )

    def log(self) -> str:
        """Everything the server has logged so far."""
        return self.log_path.read_text(errors="replace")
