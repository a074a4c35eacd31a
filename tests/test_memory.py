"""byom's memory stays flat however many rows a JOIN streams.

A JOIN reads its table in batches, scores each batch with the model and sends
the joined rows on, so the server process must need no more memory for a
1M-row table than for a 100k-row one; and a client that reads slowly must hold
the server back, not make it keep the rows the client has not read yet.

The tables live in a SQLite file; the model is ``InstantModel``, which answers
at once and predicts ``3 * a``, so each row's prediction is checked against its
own id. Every case starts fresh ``byom serve`` processes over one catalog made
beforehand, because the peak resident set the kernel reports (VmHWM) counts
from the start of a process: fresh processes running one query have comparable
peaks.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql.cursors
import pytest

from tests.support.byom_process import ByomProcess
from tests.support.instant_model import InstantModel, prediction_for
from tests.support.memory import RssSampler, current_rss, peak_rss

BIG_ROWS = 1_000_000
SMALL_ROWS = 100_000
PEAK_LIMIT = 250_000_000
GROWTH_LIMIT = 1.3
# Column c is wide so that a server that kept what a slow client has not read
# would pass PEAK_LIMIT within SLOW_SECONDS (a copy of byom without the drain
# after each batch does, at about 5 s); with narrow rows the whole result is
# only some 20 MB on the wire and could hide in any server.
C_WIDTH = 240
SLOW_SECONDS = 6.0
SLOW_EVERY = 500
SLOW_PAUSE = 0.05
# The server as users run it; DEBUG would log every batch.
SERVER_SETTINGS = {"log_level": "INFO"}
TABLE_COLUMNS = "id INTEGER PRIMARY KEY, a INTEGER, b REAL, c TEXT"
DTYPES = '{"a": "integer", "b": "float", "target": "integer"}'
NARROW_SQL = "SELECT t.id, p.target FROM files.{table} AS t JOIN mindsdb.p AS p"
WIDE_SQL = "SELECT t.id, t.c, p.target FROM files.{table} AS t JOIN mindsdb.p AS p"


def a_of(row_id: int) -> int:
    """Column a of row id, as fill_tables wrote it."""
    return row_id * 7 % 1009


def c_of(row_id: int) -> str:
    """Column c of row id: the id zero-padded to C_WIDTH digits."""
    return f"{row_id:0{C_WIDTH}d}"


@dataclass(frozen=True)
class Rig:
    """A catalog holding the SQLite integration ``files`` and predictor ``p``."""

    data_dir: Path
    model: InstantModel


@dataclass
class Tally:
    """What a client read: how many rows, the sum of their ids, how many wrong."""

    rows: int = 0
    id_sum: int = 0
    wrong: int = 0


def expected(rows: int) -> Tally:
    """The tally of a JOIN that returned ids 1 to rows, each with its own values."""
    return Tally(rows=rows, id_sum=rows * (rows + 1) // 2, wrong=0)


def fill_tables(path: Path) -> None:
    """Table big with ids 1 to BIG_ROWS, and small with its first SMALL_ROWS."""
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE big ({TABLE_COLUMNS})")
        db.execute(
            "INSERT INTO big WITH RECURSIVE ids(id) AS (SELECT 1 UNION ALL "
            "SELECT id + 1 FROM ids WHERE id < ?) SELECT id, id * 7 % 1009, "
            "id * 0.25, printf('%0' || ? || 'd', id) FROM ids",
            (BIG_ROWS, C_WIDTH),
        )
        db.execute(f"CREATE TABLE small ({TABLE_COLUMNS})")
        db.execute("INSERT INTO small SELECT * FROM big WHERE id <= ?", (SMALL_ROWS,))
    db.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """The tables, the model, and a catalog made by a server stopped since."""
    root = tmp_path_factory.mktemp("memory")
    rows = root / "rows.sqlite"
    fill_tables(rows)
    data_dir = root / "byom-data"
    data_dir.mkdir()
    model = InstantModel()
    model.start()
    try:
        make_catalog(data_dir, rows, model)
        yield Rig(data_dir, model)
    finally:
        model.stop()
        # A quarter of a gigabyte; the servers' logs stay for a failure's story.
        rows.unlink()


def make_catalog(data_dir: Path, rows: Path, model: InstantModel) -> None:
    """Create integration files and predictor p with a server that then stops."""
    setup = ByomProcess(data_dir, demo=False, extra=SERVER_SETTINGS)
    try:
        setup.start()
        setup.query(
            "CREATE DATABASE files WITH ENGINE = 'sqlite', "
            f'PARAMETERS = {{"db_file": "{rows}"}}'
        )
        setup.query(
            "CREATE PREDICTOR p FROM files (SELECT a, b, a * 3 AS target FROM small "
            f"LIMIT 100) PREDICT target USING url.train = '{model.url('/train')}', "
            f"url.predict = '{model.url('/predict')}', format = 'ray_server', "
            f"dtype_dict = {DTYPES}, join_learn_process = true"
        )
        setup.wait_for_status("p", "complete")
    finally:
        setup.stop()


def fresh_server(
    rig: Rig, factory: Callable[..., ByomProcess]
) -> tuple[ByomProcess, int]:
    """A new byom process on the rig's catalog, and its pid."""
    server = factory(data_dir=rig.data_dir, demo=False, extra=SERVER_SETTINGS)
    assert server.process is not None
    return server, server.process.pid


def read_join(server: ByomProcess, sql: str, slow_for: float = 0.0) -> Tally:
    """Read every row of sql through an unbuffered cursor and tally them.

    For the first slow_for seconds the client pauses SLOW_PAUSE every SLOW_EVERY
    rows (under 10,000 rows a second, far slower than byom sends them), then
    reads the rest at full speed.
    """
    slow_until = time.monotonic() + slow_for
    tally = Tally()
    connection = server.connect(cursorclass=pymysql.cursors.SSCursor)
    with connection, connection.cursor() as cursor:
        cursor.execute(sql)
        for row in cursor:
            count_row(tally, row)
            if tally.rows % SLOW_EVERY == 0 and time.monotonic() < slow_until:
                time.sleep(SLOW_PAUSE)
    return tally


def count_row(tally: Tally, row: tuple[Any, ...]) -> None:
    """Add row (id, [c,] target) to tally; wrong unless c and target match id."""
    row_id, *wide, target = row
    tally.rows += 1
    tally.id_sum += row_id
    if target != prediction_for(a_of(row_id)) or wide not in ([], [c_of(row_id)]):
        tally.wrong += 1


def mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def timed_peak(
    rig: Rig, factory: Callable[..., ByomProcess], table: str
) -> tuple[Tally, int, float]:
    """The narrow JOIN on table, on a fresh server: tally, peak RSS, seconds."""
    server, pid = fresh_server(rig, factory)
    started = time.monotonic()
    tally = read_join(server, NARROW_SQL.format(table=table))
    seconds = time.monotonic() - started
    peak = peak_rss(pid)
    server.stop()
    return tally, peak, seconds


def test_a_1m_row_join_needs_no_more_memory_than_a_100k_row_one(
    rig: Rig, byom_factory: Callable[..., ByomProcess]
) -> None:
    small, small_peak, small_seconds = timed_peak(rig, byom_factory, "small")
    big, big_peak, big_seconds = timed_peak(rig, byom_factory, "big")
    print(
        f"\npeak RSS: 100k rows {mb(small_peak)} ({small_seconds:.1f} s), "
        f"1M rows {mb(big_peak)} ({big_seconds:.1f} s), "
        f"ratio {big_peak / small_peak:.2f}"
    )

    assert small == expected(SMALL_ROWS)
    assert big == expected(BIG_ROWS)
    assert big_peak < PEAK_LIMIT, f"the 1M-row JOIN peaked at {mb(big_peak)}"
    assert big_peak <= GROWTH_LIMIT * small_peak, (
        f"the 1M-row JOIN peaked at {mb(big_peak)}, "
        f"the 100k-row one at {mb(small_peak)}"
    )


def test_a_slow_client_holds_the_server_back_instead_of_filling_its_memory(
    rig: Rig, byom_factory: Callable[..., ByomProcess]
) -> None:
    server, pid = fresh_server(rig, byom_factory)
    idle = current_rss(pid)
    fast = read_join(server, WIDE_SQL.format(table="small"))
    fast_peak = peak_rss(pid)
    scored_before = rig.model.rows_scored
    with RssSampler(pid) as sampler:
        slow = read_join(server, WIDE_SQL.format(table="big"), slow_for=SLOW_SECONDS)
    scored = rig.model.rows_scored - scored_before
    print(
        f"\nwide rows, RSS: idle {mb(idle)}, 100k read fast {mb(fast_peak)}, "
        f"1M read slowly {mb(sampler.peak)} ({sampler.samples} samples, "
        f"VmHWM {mb(peak_rss(pid))}); rows scored {scored}"
    )

    assert fast == expected(SMALL_ROWS)
    assert slow == expected(BIG_ROWS)
    assert sampler.peak < PEAK_LIMIT, f"the slow read peaked at {mb(sampler.peak)}"
    assert sampler.peak <= GROWTH_LIMIT * fast_peak, (
        f"the slow 1M-row read peaked at {mb(sampler.peak)}, "
        f"the fast 100k-row one at {mb(fast_peak)}"
    )
