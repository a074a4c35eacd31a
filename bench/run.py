"""Run every benchmark once, print the results table, write docs/benchmarks.md.

    .venv/bin/python -m bench.run [--runs 3] [--skip-ray] [--doc docs/benchmarks.md]

Everything runs side by side in one go against one private MariaDB: each figure
is a ratio against a baseline measured in the same run, on the same machine
load. The method is described in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.byom_process import USER, ByomProcess
from tests.support.ray_backend import DEFAULT_RAY_PYTHON, RayServeProcess

from bench.baseline import run_pipeline
from bench.data import (
    BIG_TABLE,
    MODEL_INPUTS,
    ROWS,
    SCHEMA,
    SMALL_ROWS,
    SMALL_TABLE,
    BenchMariaDB,
    load_tables,
)
from bench.fake_model import FakeModelProcess
from bench.measure import (
    Endpoint,
    StreamTiming,
    current_rss_mb,
    median,
    peak_rss_mb,
    stream_query,
    time_cli,
)
from bench.report import (
    RESULTS_HEADING,
    Figure,
    machine_description,
    ray_version,
    results_table,
    write_results,
)
from byom.settings import Settings
from byom.sources.engines import mysql_driver

logger = logging.getLogger("bench")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DOC = REPO / "docs" / "benchmarks.md"
INTEGRATION = "maria"
COLUMNS = "id, x, label, day, n"
DTYPES = '{"x": "float", "n": "integer", "target": "float"}'


def join_sql(table: str, predictor: str = "p") -> str:
    """The benchmarked JOIN: every table column and the prediction."""
    return (
        f"SELECT t.*, p.target FROM {INTEGRATION}.{SCHEMA}.{table} AS t "
        f"JOIN mindsdb.{predictor} AS p"
    )


@dataclass
class Rig:
    """The servers every benchmark shares, and where byom keeps its catalog."""

    maria: BenchMariaDB
    model: FakeModelProcess
    data_dir: Path
    settings: Settings = field(default_factory=Settings)

    @property
    def direct(self) -> Endpoint:
        return Endpoint(self.maria.port, self.maria.user, self.maria.password)

    def start_byom(self, stack: ExitStack) -> ByomProcess:
        """A fresh byom process on the shared catalog, at default settings."""
        byom = ByomProcess(self.data_dir, demo=False, extra={"log_level": "INFO"})
        byom.start()
        stack.callback(byom.stop)
        return byom

    def baseline(self, table: str, predict_url: str, driver: str = "") -> float:
        """Seconds the hand-written pipeline takes to join table's rows.

        It reads with the driver byom uses unless another one is named.
        """
        rows, seconds = asyncio.run(
            run_pipeline(
                self.direct.pymysql_options(),
                f"SELECT {COLUMNS} FROM {SCHEMA}.{table}",
                [COLUMNS.split(", ").index(name) for name in MODEL_INPUTS],
                MODEL_INPUTS,
                predict_url,
                self.settings.batch_rows,
                self.settings.calls_in_flight,
                driver or mysql_driver(),
            )
        )
        expected = ROWS if table == BIG_TABLE else SMALL_ROWS
        if rows != expected:
            raise RuntimeError(f"baseline joined {rows} rows, not {expected}")
        return seconds


def create_catalog(byom: ByomProcess, rig: Rig) -> None:
    """The MariaDB integration and the predictor on the instant model."""
    maria = rig.maria
    byom.query(
        f"CREATE DATABASE {INTEGRATION} WITH ENGINE = 'mysql', PARAMETERS = "
        f'{{"host": "127.0.0.1", "port": {maria.port}, "user": "{maria.user}", '
        f'"password": "{maria.password}", "database": "{SCHEMA}"}}'
    )
    create_predictor(byom, "p", rig.model.base_url)


def create_predictor(byom: ByomProcess, name: str, base_url: str) -> None:
    """A ray_server predictor on x and n, trained on 1,000 rows."""
    inputs = ", ".join(MODEL_INPUTS)
    byom.query(
        f"CREATE PREDICTOR {name} FROM {INTEGRATION} (SELECT {inputs}, n % 3 AS "
        f"target FROM {SCHEMA}.{SMALL_TABLE} LIMIT 1000) PREDICT target USING "
        f"url.train = '{base_url}/train', url.predict = '{base_url}/predict', "
        f"format = 'ray_server', dtype_dict = {DTYPES}, join_learn_process = true"
    )
    byom.wait_for_status(name, "complete")


def interleave(runs: int, *jobs: Callable[[], float]) -> list[list[float]]:
    """Run the jobs in turn, runs times, so both sides see the same load."""
    timings: list[list[float]] = [[] for _ in jobs]
    for _ in range(runs):
        for job, found in zip(jobs, timings, strict=True):
            found.append(job())
    return timings


@dataclass
class Results:
    """Raw timings of one run, in seconds and MiB."""

    p1_byom: list[float] = field(default_factory=list)
    p1_base: list[float] = field(default_factory=list)
    p1_base_pymysql: list[float] = field(default_factory=list)
    p1_ray_byom: list[float] = field(default_factory=list)
    p1_ray_base: list[float] = field(default_factory=list)
    p5_byom: list[float] = field(default_factory=list)
    p5_direct: list[float] = field(default_factory=list)
    p4_warm: list[StreamTiming] = field(default_factory=list)
    p4_cold: list[StreamTiming] = field(default_factory=list)
    p3_small: list[float] = field(default_factory=list)
    p3_big: list[float] = field(default_factory=list)
    p3_idle: list[float] = field(default_factory=list)
    ray_note: str = ""


def measure_warm(rig: Rig, byom: ByomProcess, runs: int, out: Results) -> None:
    """P1, P5 and P4 on one byom process that has already served a JOIN."""
    endpoint = Endpoint(byom.port, USER)
    predict_url = f"{rig.model.base_url}/predict"
    time_cli(endpoint, join_sql(SMALL_TABLE))  # warm-up: connection pool, imports
    rig.baseline(SMALL_TABLE, predict_url)

    logger.info("P1: 100k-row JOIN, byom vs the hand-written pipeline")
    jobs = [
        lambda: time_cli(endpoint, join_sql(SMALL_TABLE)),
        lambda: rig.baseline(SMALL_TABLE, predict_url),
    ]
    if mysql_driver() != "pymysql":
        # The pipeline of earlier runs, which read with PyMySQL, for reference.
        jobs.append(lambda: rig.baseline(SMALL_TABLE, predict_url, "pymysql"))
    out.p1_byom, out.p1_base, *pymysql_base = interleave(runs, *jobs)
    out.p1_base_pymysql = pymysql_base[0] if pymysql_base else []

    logger.info("P5: 1M-row passthrough SELECT, byom vs MariaDB")
    passthrough = f"SELECT {COLUMNS} FROM {SCHEMA}.{BIG_TABLE}"
    out.p5_byom, out.p5_direct = interleave(
        runs,
        lambda: time_cli(
            endpoint, f"SELECT {COLUMNS} FROM {INTEGRATION}.{SCHEMA}.{BIG_TABLE}"
        ),
        lambda: time_cli(rig.direct, passthrough),
    )

    logger.info("P4: first row of a 1M-row JOIN (warm process)")
    out.p4_warm = [stream_query(endpoint, join_sql(BIG_TABLE)) for _ in range(runs)]


def measure_memory(rig: Rig, runs: int, out: Results) -> None:
    """P3 (and P4 on a cold process): each query on a fresh byom process."""
    for _ in range(runs):
        for table in (SMALL_TABLE, BIG_TABLE):
            with ExitStack() as stack:
                byom = rig.start_byom(stack)
                assert byom.process is not None
                pid = byom.process.pid
                idle = current_rss_mb(pid)
                timing = stream_query(Endpoint(byom.port, USER), join_sql(table))
                peak = peak_rss_mb(pid)
            logger.info("P3: %s peak %.1f MiB (idle %.1f)", table, peak, idle)
            if table == BIG_TABLE:
                out.p3_big.append(peak)
                out.p4_cold.append(timing)
            else:
                out.p3_small.append(peak)
            out.p3_idle.append(idle)


def measure_ray(rig: Rig, out: Results) -> None:
    """P1 once against the real Ray Serve example model, when Ray is installed."""
    if not DEFAULT_RAY_PYTHON.exists():
        out.ray_note = "skipped: no .venv-ray (run `make ray-venv`)"
        return
    with ExitStack() as stack:
        ray = RayServeProcess()
        ray.start()
        stack.callback(ray.stop)
        byom = rig.start_byom(stack)
        create_predictor(byom, "p_ray", ray.base_url)
        endpoint = Endpoint(byom.port, USER)
        logger.info("P1 on Ray Serve (Ray started in %.1f s)", ray.start_seconds)
        out.p1_ray_byom, out.p1_ray_base = interleave(
            1,
            lambda: time_cli(endpoint, join_sql(SMALL_TABLE, "p_ray")),
            lambda: rig.baseline(SMALL_TABLE, ray.predict_url),
        )


def figures(out: Results) -> list[Figure]:
    """The results table's lines, each target judged as measured."""
    small, big = SMALL_ROWS, ROWS
    p1_b, p1_h = small / median(out.p1_byom), small / median(out.p1_base)
    p5_b, p5_d = big / median(out.p5_byom), big / median(out.p5_direct)
    p3_s, p3_b = median(out.p3_small), median(out.p3_big)
    warm = median([t.first_row for t in out.p4_warm])
    cold = median([t.first_row for t in out.p4_cold])
    join_1m = big / median([t.total for t in out.p4_warm])
    found = [
        Figure(
            "P1 100k-row JOIN, instant model (mariadb CLI)",
            f"{p1_b:,.0f} rows/s",
            f"{p1_h:,.0f} rows/s (pipeline)",
            f"{p1_b / p1_h:.2f}",
            "≥ 0.9",
            p1_b / p1_h >= 0.9,
        ),
    ]
    if out.p1_base_pymysql:
        p1_p = small / median(out.p1_base_pymysql)
        found.append(
            Figure(
                "P1 100k-row JOIN, instant model, against the pipeline reading "
                "with PyMySQL (for reference)",
                f"{p1_b:,.0f} rows/s",
                f"{p1_p:,.0f} rows/s (pipeline)",
                f"{p1_b / p1_p:.2f}",
                "–",
                None,
            )
        )
    if out.p1_ray_byom:
        r_b = small / out.p1_ray_byom[0]
        r_h = small / out.p1_ray_base[0]
        found.append(
            Figure(
                "P1 100k-row JOIN, Ray Serve example model (1 run)",
                f"{r_b:,.0f} rows/s",
                f"{r_h:,.0f} rows/s (pipeline)",
                f"{r_b / r_h:.2f}",
                "–",
                None,
            )
        )
    found += [
        Figure(
            "P3 peak RSS, 1M-row vs 100k-row JOIN (fresh process each)",
            f"{p3_b:.0f} MiB vs {p3_s:.0f} MiB",
            "100k-row JOIN",
            f"{p3_b / p3_s:.2f}",
            "≤ 1.2",
            p3_b / p3_s <= 1.2,
        ),
        Figure(
            "P3 peak RSS of the 1M-row JOIN",
            f"{p3_b:.0f} MiB",
            "–",
            "–",
            "≤ 250 MB",
            p3_b * 1.048576 <= 250,
        ),
        Figure(
            "P4 first row of a 1M-row JOIN, warm process (SSCursor)",
            f"{warm:.3f} s",
            "–",
            "–",
            "≤ 0.5 s",
            warm <= 0.5,
        ),
        Figure(
            "P4 first row of a 1M-row JOIN, fresh process (SSCursor)",
            f"{cold:.3f} s",
            "–",
            "–",
            "≤ 0.5 s",
            cold <= 0.5,
        ),
        Figure(
            "P5 1M-row × 5-column passthrough SELECT (mariadb CLI)",
            f"{p5_b:,.0f} rows/s",
            f"{p5_d:,.0f} rows/s (MariaDB)",
            f"{p5_b / p5_d:.2f}",
            "≥ 0.5",
            p5_b / p5_d >= 0.5,
        ),
        Figure(
            "1M-row JOIN read fully with PyMySQL SSCursor (for reference)",
            f"{join_1m:,.0f} rows/s",
            "–",
            "–",
            "–",
            None,
        ),
    ]
    return found


def raw_timings(out: Results) -> list[str]:
    """Every measured value, for the record under the table."""

    def seconds(values: list[float]) -> str:
        return ", ".join(f"{v:.3f}" for v in values)

    def mib(values: list[float]) -> str:
        return ", ".join(f"{v:.1f}" for v in values)

    lines = [
        f"- P1 byom (s): {seconds(out.p1_byom)}; pipeline: {seconds(out.p1_base)}",
        f"- P5 byom (s): {seconds(out.p5_byom)}; MariaDB: {seconds(out.p5_direct)}",
        "- P4 warm, first row / last row (s): "
        + "; ".join(f"{t.first_row:.3f} / {t.total:.2f}" for t in out.p4_warm),
        "- P4 fresh process, first row / last row (s): "
        + "; ".join(f"{t.first_row:.3f} / {t.total:.2f}" for t in out.p4_cold),
        f"- P3 peak RSS (MiB), 100k rows: {mib(out.p3_small)}; 1M rows: "
        f"{mib(out.p3_big)}; idle before the query: {mib(out.p3_idle)}",
    ]
    if out.p1_base_pymysql:
        lines.insert(
            1,
            "- P1 pipeline reading with PyMySQL (s): " + seconds(out.p1_base_pymysql),
        )
    if out.p1_ray_byom:
        lines.append(
            f"- P1 on Ray Serve (s): byom {seconds(out.p1_ray_byom)}; pipeline "
            f"{seconds(out.p1_ray_base)}"
        )
    if out.ray_note:
        lines.append(f"- P1 on Ray Serve: {out.ray_note}")
    return lines


def section(out: Results, mariadb_version: str, ray: str | None, took: float) -> str:
    """The Results section of docs/benchmarks.md."""
    settings = Settings()
    parts = [
        RESULTS_HEADING,
        "",
        "Written by `make bench`; every number below comes from one run.",
        "",
        *machine_description(mariadb_version, ray),
        f"- byom at its default settings: batch_rows {settings.batch_rows}, "
        f"calls_in_flight {settings.calls_in_flight}; the whole run took "
        f"{took / 60:.1f} min.",
        f"- MariaDB driver of byom and of the P1 pipeline: {_DRIVERS[mysql_driver()]}",
        "",
        results_table(figures(out)),
        "",
        "Raw timings (each run):",
        "",
        *raw_timings(out),
        "",
    ]
    return "\n".join(parts)


_DRIVERS = {"mysqldb": "mysqlclient (C)", "pymysql": "PyMySQL (pure Python)"}


def run(runs: int, skip_ray: bool, doc: Path) -> str:
    """Start everything, measure, stop everything; return the Results section."""
    started = time.monotonic()
    out = Results()
    temp = Path(tempfile.mkdtemp(prefix="byom-bench-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, temp, ignore_errors=True)
        maria = BenchMariaDB()
        maria.start()
        stack.callback(maria.stop)
        logger.info("loading %d rows: %.1f s", ROWS, load_tables(maria))
        with maria.connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            (mariadb_version,) = cur.fetchone()

        model = FakeModelProcess(temp)
        model.start()
        stack.callback(model.stop)
        data_dir = temp / "byom-data"
        data_dir.mkdir()
        rig = Rig(maria, model, data_dir)

        with ExitStack() as warm:
            byom = rig.start_byom(warm)
            create_catalog(byom, rig)
            measure_warm(rig, byom, runs, out)
        measure_memory(rig, runs, out)
        if skip_ray:
            out.ray_note = "skipped (--skip-ray)"
        else:
            measure_ray(rig, out)

    ray = None if skip_ray else ray_version(DEFAULT_RAY_PYTHON)
    text = section(out, mariadb_version, ray, time.monotonic() - started)
    write_results(doc, text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description="Run byom's benchmarks.")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    parser.add_argument("--skip-ray", action="store_true", help="no Ray Serve run")
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    print(run(args.runs, args.skip_ray, args.doc))


if __name__ == "__main__":
    main()
