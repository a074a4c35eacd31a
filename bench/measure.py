"""How each figure is taken: CLI reads, streaming reads, and peak memory."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pymysql.cursors

CLI_TIMEOUT = 600.0


@dataclass(frozen=True)
class Endpoint:
    """Where a MySQL server listens and who logs in."""

    port: int
    user: str
    password: str = ""

    def pymysql_options(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "connect_timeout": 10,
            "read_timeout": CLI_TIMEOUT,
        }


@dataclass(frozen=True)
class StreamTiming:
    """One streamed query: seconds to the first row and to the last, row count."""

    first_row: float
    total: float
    rows: int


def time_cli(endpoint: Endpoint, sql: str) -> float:
    """Seconds for ``mariadb --batch --quick -e sql > /dev/null`` to finish."""
    cli = shutil.which("mariadb")
    if cli is None:
        raise RuntimeError("the mariadb client is not installed")
    command = [
        cli,
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        str(endpoint.port),
        "-u",
        endpoint.user,
        "--batch",
        "--quick",
        "-e",
        sql,
    ]
    if endpoint.password:
        command.insert(-2, f"--password={endpoint.password}")
    started = time.perf_counter()
    done = subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"mariadb CLI failed: {done.stderr.decode().strip()}")
    return elapsed


def stream_query(endpoint: Endpoint, sql: str) -> StreamTiming:
    """Read every row with an unbuffered SSCursor, timing the first and the last."""
    conn = pymysql.connect(
        cursorclass=pymysql.cursors.SSCursor, **endpoint.pymysql_options()
    )
    try:
        with conn.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(sql)
            first = cursor.fetchone()
            first_row = time.perf_counter() - started
            rows = 0 if first is None else 1
            for _ in cursor:
                rows += 1
            total = time.perf_counter() - started
    finally:
        conn.close()
    return StreamTiming(first_row, total, rows)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def current_rss_mb(pid: int) -> float:
    """The process's resident set now (VmRSS) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def median(values: list[float]) -> float:
    return statistics.median(values)
