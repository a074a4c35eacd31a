"""The hand-written pipeline byom's JOIN is measured against.

It does what byom does for ``SELECT t.*, p.target FROM t JOIN p``, with nothing
in between: stream the rows from MariaDB with a server-side cursor, in batches
of ``batch_rows``, through the driver byom itself uses (mysqlclient when it is
installed, else PyMySQL; PyMySQL on request, to compare with runs made before
byom could use mysqlclient); POST each batch's model inputs as a ray_server body
(``{"df": "<records JSON>"}``, built with orjson as byom builds it) through
aiohttp, with at most ``calls_in_flight`` calls at once; and append each row's
prediction to it, batch by batch, in order. Joined rows are counted and
dropped: there is no MySQL client to send them to.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson
import pymysql
import pymysql.cursors

Row = tuple[Any, ...]


class PipelineError(RuntimeError):
    """The model answered something other than one prediction per row."""


async def run_pipeline(
    connect: dict[str, Any],
    sql: str,
    inputs: Sequence[int],
    names: Sequence[str],
    predict_url: str,
    batch_rows: int,
    calls_in_flight: int,
    driver: str = "pymysql",
) -> tuple[int, float]:
    """Join sql's rows with their predictions; return (rows joined, seconds).

    driver is "mysqldb" (mysqlclient) or "pymysql", as SQLAlchemy names them.
    """
    started = time.perf_counter()
    conn = _connect(connect, driver)
    joined = 0
    try:
        cursor = conn.cursor()
        await asyncio.to_thread(cursor.execute, sql)
        async with aiohttp.ClientSession() as http:
            pending: deque[asyncio.Task[list[Row]]] = deque()
            while True:
                rows = await asyncio.to_thread(cursor.fetchmany, batch_rows)
                if rows:
                    call = _score(http, predict_url, rows, inputs, names)
                    pending.append(asyncio.ensure_future(call))
                while pending and (len(pending) >= calls_in_flight or not rows):
                    joined += len(await pending.popleft())
                if not rows:
                    break
    finally:
        conn.close()
    return joined, time.perf_counter() - started


def _connect(connect: dict[str, Any], driver: str) -> Any:
    """A connection whose cursors are unbuffered (server-side), as byom's are."""
    if driver == "pymysql":
        return pymysql.connect(cursorclass=pymysql.cursors.SSCursor, **connect)
    # Imported here: without mysqlclient, byom and this pipeline use PyMySQL.
    import MySQLdb
    import MySQLdb.cursors

    # mysqlclient takes its timeouts in whole seconds.
    options = {
        key: int(value) if key.endswith("_timeout") else value
        for key, value in connect.items()
    }
    return MySQLdb.connect(cursorclass=MySQLdb.cursors.SSCursor, **options)


async def _score(
    http: aiohttp.ClientSession,
    url: str,
    rows: Sequence[Row],
    inputs: Sequence[int],
    names: Sequence[str],
) -> list[Row]:
    frame = [dict(zip(names, (row[i] for i in inputs), strict=True)) for row in rows]
    body = orjson.dumps({"df": orjson.dumps(frame).decode()})
    headers = {"Content-Type": "application/json"}
    async with http.post(url, data=body, headers=headers) as answer:
        answer.raise_for_status()
        predictions = orjson.loads(await answer.read())["prediction"]
    if len(predictions) != len(rows):
        raise PipelineError(f"{len(rows)} rows sent, {len(predictions)} predictions")
    return [(*row, value) for row, value in zip(rows, predictions, strict=True)]
