"""The benchmark tables: 1M seeded rows in a private MariaDB, loaded in one go.

``bench.t_1m`` holds rows 1 to 1,000,000 and ``bench.t_100k`` the first 100,000
of them, both with the same five columns (BIGINT, DOUBLE, VARCHAR(32), DATE, INT).
The predictor reads the two numeric ones, ``x`` and ``n``.
"""

from __future__ import annotations

import datetime
import tempfile
import time
from pathlib import Path

import numpy as np
from tests.support.mariadb import MariaDBServer

SEED = 20_260_101
ROWS = 1_000_000
SMALL_ROWS = 100_000
SCHEMA = "bench"
BIG_TABLE = "t_1m"
SMALL_TABLE = "t_100k"
COLUMNS = "id BIGINT PRIMARY KEY, x DOUBLE, label VARCHAR(32), day DATE, n INT"
MODEL_INPUTS = ("x", "n")
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
_FIRST_DAY = datetime.date(2000, 1, 1)


class BenchMariaDB(MariaDBServer):
    """The test harness's private MariaDB, with room to cache the whole table."""

    def _server_options(self) -> list[str]:
        # Later options win: the harness's 32 MB pool would not hold 1M rows,
        # and a benchmark of MariaDB reading its disk would measure the disk.
        return [
            *super()._server_options(),
            "--innodb-buffer-pool-size=512M",
            "--local-infile=1",
        ]


def write_rows(path: Path, rows: int = ROWS, seed: int = SEED) -> None:
    """Write the rows as tab-separated text, the same bytes for the same seed."""
    rng = np.random.default_rng(seed)
    xs: list[float] = np.round(rng.uniform(0.0, 1000.0, rows), 6).tolist()
    words: list[int] = rng.integers(0, len(_WORDS), rows).tolist()
    codes: list[int] = rng.integers(0, 1 << 40, rows).tolist()
    days: list[int] = rng.integers(0, 9000, rows).tolist()
    ns: list[int] = rng.integers(0, 100_000, rows).tolist()
    dates = [(_FIRST_DAY + datetime.timedelta(days=d)).isoformat() for d in range(9000)]
    with path.open("w") as out:
        for i in range(rows):
            out.write(
                f"{i + 1}\t{xs[i]!r}\t{_WORDS[words[i]]}-{codes[i]:010x}\t"
                f"{dates[days[i]]}\t{ns[i]}\n"
            )


def load_tables(server: BenchMariaDB) -> float:
    """Create and fill both tables, warm the cache; return the seconds it took."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="byom-bench-data-") as directory:
        path = Path(directory) / "rows.tsv"
        write_rows(path)
        with server.connect(local_infile=True) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {SCHEMA}")
            cur.execute(f"CREATE TABLE {SCHEMA}.{BIG_TABLE} ({COLUMNS})")
            cur.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {SCHEMA}.{BIG_TABLE}",
                (str(path),),
            )
            cur.execute(f"CREATE TABLE {SCHEMA}.{SMALL_TABLE} ({COLUMNS})")
            cur.execute(
                f"INSERT INTO {SCHEMA}.{SMALL_TABLE} SELECT * FROM "
                f"{SCHEMA}.{BIG_TABLE} WHERE id <= {SMALL_ROWS}"
            )
            for table in (BIG_TABLE, SMALL_TABLE):
                cur.execute(f"SELECT COUNT(*), SUM(n) FROM {SCHEMA}.{table}")
                cur.fetchall()
    return time.monotonic() - started
