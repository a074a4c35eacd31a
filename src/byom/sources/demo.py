"""The embedded demo source: a generated home-rentals table in SQLite.

The rows are synthetic, drawn from a seeded generator with the same eight columns
as the public home-rentals dataset, so the seed statements run on a fresh machine
with no database server and no downloaded data.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from pathlib import Path

from byom.catalog.records import Integration

logger = logging.getLogger(__name__)

DEMO_INTEGRATION = "mydb"
DEMO_SCHEMA = "test_data"
DEMO_ROWS = 5000
DEMO_SEED = 20220204

COLUMNS = (
    ("number_of_rooms", "INTEGER"),
    ("number_of_bathrooms", "INTEGER"),
    ("sqft", "INTEGER"),
    ("location", "TEXT"),
    ("days_on_market", "INTEGER"),
    ("initial_price", "INTEGER"),
    ("neighborhood", "TEXT"),
    ("rental_price", "INTEGER"),
)

_LOCATIONS = {"great": 1.25, "good": 1.0, "poor": 0.8}
_NEIGHBORHOODS = (
    "alcatraz_ave",
    "berkeley_hills",
    "downtown",
    "devils_heights",
    "south_side",
    "thowsand_oaks",
    "westbrae",
)


def generate_rows(
    count: int = DEMO_ROWS, seed: int = DEMO_SEED
) -> list[tuple[int, int, int, str, int, int, str, int]]:
    """Draw count home-rental rows; the same seed always gives the same rows."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        rooms = rng.choices((0, 1, 2, 3), weights=(2, 4, 3, 1))[0]
        bathrooms = max(1, rooms - rng.randint(0, 1))
        sqft = int(rng.gauss(420 + 260 * rooms, 80))
        location = rng.choice(tuple(_LOCATIONS))
        neighborhood = rng.choice(_NEIGHBORHOODS)
        base = (900 + 1500 * rooms + 1.4 * sqft) * _LOCATIONS[location]
        initial = int(rng.gauss(base, 180))
        days = rng.randint(1, 40)
        # Flats that wait longer on the market tend to drop their price.
        rental = int(initial * (1 - 0.002 * days + rng.uniform(-0.03, 0.03)))
        rows.append(
            (rooms, bathrooms, sqft, location, days, initial, neighborhood, rental)
        )
    return rows


def write_home_rentals(
    path: Path, count: int = DEMO_ROWS, seed: int = DEMO_SEED
) -> None:
    """Write the table ``home_rentals`` into a new SQLite file at path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(partial) as db:
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
        db.execute(f"CREATE TABLE home_rentals ({columns})")
        db.executemany(
            "INSERT INTO home_rentals VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            generate_rows(count, seed),
        )
    db.close()
    # Renamed into place so a crash never leaves a half-written demo table.
    partial.replace(path)


def demo_integration(data_dir: Path) -> Integration:
    """Create the demo data if needed and return the ``mydb`` integration for it."""
    demo_dir = (data_dir / "demo").resolve()
    schema_file = demo_dir / f"{DEMO_SCHEMA}.sqlite"
    if not schema_file.exists():
        write_home_rentals(schema_file)
        logger.info("demo data written to %s", schema_file)
    main_file = demo_dir / "main.sqlite"
    if not main_file.exists():
        # The main database stays empty; its tables live in attached files.
        sqlite3.connect(main_file).close()
    return Integration(
        name=DEMO_INTEGRATION,
        engine="sqlite",
        parameters={
            "db_file": str(main_file),
            "attach": {DEMO_SCHEMA: str(schema_file)},
        },
    )
