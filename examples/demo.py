"""The seed flow on a fresh machine: ``make demo`` runs this.

It starts the example Ray Serve model on 127.0.0.1:8000 and byom on the embedded
SQLite demo source (port 47335, a throw-away data directory), sends the three
seed statements through PyMySQL, prints what comes back, and stops everything it
started.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.byom_process import ByomProcess  # noqa: E402
from tests.support.procs import port_is_free  # noqa: E402
from tests.support.ray_backend import RayServeProcess  # noqa: E402

STATEMENTS = [
    """CREATE PREDICTOR byom FROM mydb (
    SELECT number_of_rooms, initial_price, rental_price FROM test_data.home_rentals
) PREDICT number_of_rooms
USING url.train = 'http://127.0.0.1:8000/my_model/train',
      url.predict = 'http://127.0.0.1:8000/my_model/predict',
      dtype_dict = {"number_of_rooms": "categorical", "initial_price": "integer",
                    "rental_price": "integer"},
      format = 'ray_server'""",
    "SELECT * FROM byom WHERE initial_price = 3000 AND rental_price = 3000",
    """SELECT tb.number_of_rooms, t.rental_price
FROM mydb.test_data.home_rentals AS t JOIN mindsdb.byom AS tb
WHERE t.rental_price > 5300""",
]
SHOWN_ROWS = 10


def print_table(names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Print rows the way the mysql client does, the first few of them."""
    shown = [tuple("NULL" if v is None else str(v) for v in r) for r in rows]
    shown = shown[:SHOWN_ROWS]
    widths = [max([len(n)] + [len(r[i]) for r in shown]) for i, n in enumerate(names)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(line)
    print(
        "| " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)) + " |"
    )
    print(line)
    for row in shown:
        print(
            "| "
            + " | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True))
            + " |"
        )
    print(line)
    more = f" (first {SHOWN_ROWS} shown)" if len(rows) > SHOWN_ROWS else ""
    print(f"{len(rows)} row(s){more}\n")


def _cells(texts: list[str]) -> str:
    return "| " + " | ".join(texts) + " |"


def run_statements(byom: ByomProcess) -> None:
    """Send each seed statement through PyMySQL and print its answer."""
    with byom.connect() as connection, connection.cursor() as cursor:
        for sql in STATEMENTS:
            print(f"mysql> {sql};")
            started = time.monotonic()
            cursor.execute(sql)
            elapsed = time.monotonic() - started
            if cursor.description is None:
                print(f"Query OK ({elapsed:.2f} sec)\n")
                continue
            names = [d[0] for d in cursor.description]
            print_table(names, list(cursor.fetchall()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ray-python",
        default=str(REPO / ".venv-ray" / "bin" / "python"),
        help="python of the environment that has Ray Serve",
    )
    args = parser.parse_args()
    for port, what in ((8000, "the example model"), (47335, "byom")):
        if not port_is_free(port):
            print(f"port {port} is taken; {what} needs it for the demo")
            return 1

    ray = RayServeProcess(Path(args.ray_python).absolute(), port=8000)
    data_dir = Path(tempfile.mkdtemp(prefix="byom-demo-"))
    byom = ByomProcess(data_dir, extra={"log_level": "INFO"})
    try:
        print("starting the example Ray Serve model on 127.0.0.1:8000 ...")
        ray.start()
        byom.start_on(47335)
        print(f"byom is serving MySQL on 127.0.0.1:{byom.port} (user mindsdb)\n")
        run_statements(byom)
    finally:
        byom.stop()
        ray.stop()
        byom.remove_data()
    print("stopped the model and byom")
    return 0


if __name__ == "__main__":
    sys.exit(main())
