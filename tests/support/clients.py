"""Each client of the matrix, running the same steps over plain TCP or TLS.

A runner takes the server, the transport ("tcp" or "tls") and the steps, opens
one connection the way a user of that client would, and returns each step's
rows as tuples. Clients that convert types (the Python drivers, mysql2) give
Python values; the mariadb CLI and Connector/J give text.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomysql
import mysql.connector
import MySQLdb
import pandas
import sqlalchemy

from tests.support.byom_process import USER
from tests.support.client_matrix import MatrixServer

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "tests" / "clients" / "node"
JAVA_SOURCE = REPO / "tests" / "clients" / "java" / "MatrixClient.java"
MARIADB_JAR = Path("/usr/share/java/mariadb-java-client.jar")

Rows = list[tuple[Any, ...]]
Results = dict[str, Rows]


@dataclass(frozen=True)
class Step:
    """One statement; params are bound by the client in its own style (``?``)."""

    label: str
    sql: str
    params: tuple[Any, ...] = ()
    # Bound by the server (COM_STMT_PREPARE / EXECUTE) rather than the client.
    server_side: bool = False


Runner = Callable[[MatrixServer, str, list[Step]], Results]


def _pyformat(sql: str) -> str:
    return sql.replace("?", "%s")


def _dbapi(connection: Any, steps: list[Step]) -> Results:
    results: Results = {}
    for step in steps:
        cursor = connection.cursor()
        cursor.execute(_pyformat(step.sql), step.params or None)
        results[step.label] = [tuple(row) for row in cursor.fetchall()]
        cursor.close()
    return results


def run_pymysql(server: MatrixServer, transport: str, steps: list[Step]) -> Results:
    tls: dict[str, Any] = (
        {"ssl_ca": str(server.ca), "ssl_verify_identity": True}
        if transport == "tls"
        else {"ssl_disabled": True}
    )
    with server.byom.connect(**tls) as connection:
        return _dbapi(connection, steps)


def run_mysqlclient(server: MatrixServer, transport: str, steps: list[Step]) -> Results:
    # libmariadb uses TLS only when asked to.
    tls = {"ssl": {"ca": str(server.ca)}} if transport == "tls" else {}
    connection = MySQLdb.connect(
        host="127.0.0.1", port=server.port, user=USER, password="", **tls
    )
    try:
        return _dbapi(connection, steps)
    finally:
        connection.close()


def run_connector(server: MatrixServer, transport: str, steps: list[Step]) -> Results:
    tls: dict[str, Any] = (
        {"ssl_ca": str(server.ca), "ssl_verify_cert": True}
        if transport == "tls"
        else {"ssl_disabled": True}
    )
    connection = mysql.connector.connect(
        host="127.0.0.1",
        port=server.port,
        user=USER,
        password="",
        use_pure=True,
        connection_timeout=10,
        **tls,
    )
    results: Results = {}
    try:
        for step in steps:
            if step.server_side:
                cursor = connection.cursor(prepared=True)
                cursor.execute(step.sql, step.params)
            else:
                cursor = connection.cursor()
                cursor.execute(_pyformat(step.sql), step.params or None)
            results[step.label] = [tuple(row) for row in cursor.fetchall()]
            cursor.close()
    finally:
        connection.close()
    return results


def run_aiomysql(server: MatrixServer, transport: str, steps: list[Step]) -> Results:
    context = ssl.create_default_context(cafile=str(server.ca))

    async def run() -> Results:
        connection = await aiomysql.connect(
            host="127.0.0.1",
            port=server.port,
            user=USER,
            password="",
            ssl=context if transport == "tls" else None,
        )
        results: Results = {}
        try:
            for step in steps:
                async with connection.cursor() as cursor:
                    await cursor.execute(_pyformat(step.sql), step.params or None)
                    results[step.label] = [tuple(r) for r in await cursor.fetchall()]
        finally:
            connection.close()
        return results

    return asyncio.run(run())


def sqlalchemy_engine(server: MatrixServer, transport: str) -> sqlalchemy.Engine:
    """An engine on the pymysql dialect, over the transport."""
    tls: dict[str, Any] = (
        {"ssl": {"ca": str(server.ca)}}
        if transport == "tls"
        else {"ssl_disabled": True}
    )
    url = f"mysql+pymysql://{USER}:@127.0.0.1:{server.port}/mindsdb"
    return sqlalchemy.create_engine(
        url, connect_args=tls, poolclass=sqlalchemy.NullPool
    )


def _bound(step: Step) -> tuple[str, dict[str, Any]]:
    # SQLAlchemy binds :p0, :p1 ... in place of each ?.
    parts = step.sql.split("?")
    sql = parts[0] + "".join(f":p{i}{part}" for i, part in enumerate(parts[1:]))
    return sql, {f"p{i}": value for i, value in enumerate(step.params)}


def run_sqlalchemy(server: MatrixServer, transport: str, steps: list[Step]) -> Results:
    results: Results = {}
    engine = sqlalchemy_engine(server, transport)
    with engine.connect() as connection:
        for step in steps:
            sql, params = _bound(step)
            rows = connection.execute(sqlalchemy.text(sql), params).all()
            results[step.label] = [tuple(row) for row in rows]
    engine.dispose()
    return results


def run_pandas(server: MatrixServer, transport: str, steps: list[Step]) -> Results:
    results: Results = {}
    engine = sqlalchemy_engine(server, transport)
    with engine.connect() as connection:
        for step in steps:
            sql, params = _bound(step)
            frame = pandas.read_sql(sqlalchemy.text(sql), connection, params=params)
            results[step.label] = [
                tuple(_python(v) for v in row)
                for row in frame.itertuples(index=False, name=None)
            ]
    engine.dispose()
    return results


def _python(value: Any) -> Any:
    # numpy scalars, as the Python values the other clients return.
    return value.item() if hasattr(value, "item") else value


def run_mariadb_cli(server: MatrixServer, transport: str, steps: list[Step]) -> Results:
    tls = (
        ["--ssl", f"--ssl-ca={server.ca}", "--ssl-verify-server-cert"]
        if transport == "tls"
        else ["--skip-ssl"]
    )
    results: Results = {}
    for step in steps:
        assert not step.params, "the mariadb CLI has no bound parameters"
        done = server.byom.cli(step.sql, "--raw", "--skip-column-names", *tls)
        lines = done.stdout.splitlines()
        results[step.label] = [tuple(line.split("\t")) for line in lines]
    return results


def run_mysql2(server: MatrixServer, transport: str, steps: list[Step]) -> Results:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": USER,
        "password": "",
        "database": "mindsdb",
    }
    if transport == "tls":
        options["ssl"] = {"ca": server.ca.read_text()}
    script = [
        {
            "label": s.label,
            "method": "execute" if s.server_side else "query",
            "sql": s.sql,
            "params": list(s.params),
        }
        for s in steps
    ]
    done = subprocess.run(
        ["node", "matrix_client.js", json.dumps(options)],
        cwd=NODE_DIR,
        input=json.dumps(script),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answers = json.loads(done.stdout)
    return {
        label: rows if isinstance(rows, dict) else [tuple(row) for row in rows]
        for label, rows in answers.items()
    }


_JAVA_LOCK = threading.Lock()
_java_classes: dict[str, Path] = {}


def java_classes(into: Path) -> Path:
    """MatrixClient.java compiled (once per test run) into a directory of into."""
    with _JAVA_LOCK:
        if "dir" not in _java_classes:
            target = into / "java-classes"
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["javac", "-cp", str(MARIADB_JAR), "-d", str(target), str(JAVA_SOURCE)],
                check=True,
                capture_output=True,
                timeout=120,
            )
            _java_classes["dir"] = target
        return _java_classes["dir"]


def run_connector_j(
    server: MatrixServer,
    transport: str,
    lines: list[list[str]],
    classes: Path,
    server_prepares: bool = False,
) -> dict[str, Rows | str]:
    """Run MatrixClient's steps; each label maps to its rows or its error text.

    The first row of each result is the column labels.
    """
    options = []
    if server_prepares:
        options.append("useServerPrepStmts=true")
    if transport == "tls":
        options += ["useSsl=true", f"serverSslCert={server.ca}"]
    url = f"jdbc:mariadb://127.0.0.1:{server.port}/mindsdb?{'&'.join(options)}"
    done = subprocess.run(
        ["java", "-cp", f"{MARIADB_JAR}:{classes}", "MatrixClient", url, USER, ""],
        input="".join("\t".join(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return _parse_java(done.stdout)


def _parse_java(output: str) -> dict[str, Rows | str]:
    results: dict[str, Rows | str] = {}
    label = ""
    for line in output.splitlines():
        if line.startswith("!"):
            failed, _, message = line[1:].partition("\t")
            results[failed] = _unescape(message)
        elif line.startswith("#"):
            label = line[1:]
            results[label] = []
        else:
            rows = results[label]
            assert isinstance(rows, list)
            rows.append(
                tuple(None if v == "\\N" else _unescape(v) for v in line.split("\t"))
            )
    return results


def _unescape(text: str) -> str:
    out, chars = [], iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append({"t": "\t", "n": "\n"}.get(following, following))
        else:
            out.append(char)
    return "".join(out)


def java_param(value: Any) -> str:
    """A MatrixClient parameter: i:<int> or s:<escaped text>."""
    if isinstance(value, int):
        return f"i:{value}"
    escaped = str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return f"s:{escaped}"
