"""What every client of the matrix runs against byom, and the server it runs on.

One server per test module, with TLS on (plain TCP still accepted) and a
predictor trained by the in-process ``ControlledModel``; each client then runs
the same statements once over plain TCP and once over TLS, and its rows are
compared with what PyMySQL returns for the same statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byom import __version__
from byom.mysql import tls
from tests.support.byom_process import ByomProcess
from tests.support.http_apps import ControlledModel

PREDICTOR = "rooms"
TRAINING_QUERY = (
    "SELECT number_of_rooms, initial_price, rental_price FROM test_data.home_rentals"
)
DTYPES = (
    '{"number_of_rooms": "categorical", "initial_price": "integer", '
    '"rental_price": "integer"}'
)
SINGLE = (
    f"SELECT number_of_rooms, initial_price, rental_price FROM {PREDICTOR} "
    "WHERE initial_price = 3000 AND rental_price = 3000"
)
JOIN = (
    "SELECT tb.number_of_rooms, t.rental_price "
    f"FROM mydb.test_data.home_rentals AS t JOIN mindsdb.{PREDICTOR} AS tb "
    "ORDER BY t.rental_price LIMIT 5"
)
# The parameterised statement each client binds in its own placeholder style.
PARAMETERISED = (
    f"SELECT number_of_rooms, initial_price FROM {PREDICTOR} "
    "WHERE initial_price = ? AND rental_price = ?"
)
ECHO = "SELECT ? AS s"
TRICKY = "it's a back\\slash"
VERSION_COMMENT = f"byom {__version__}"
DATABASES = ["information_schema", "mindsdb", "mydb", "mysql"]
TRANSPORTS = ["tcp", "tls"]


@dataclass
class MatrixServer:
    """The module's byom server and the CA file that verifies it."""

    byom: ByomProcess
    model: ControlledModel

    @property
    def port(self) -> int:
        return self.byom.port

    @property
    def ca(self) -> Path:
        return self.byom.data_dir / "tls" / tls.CERT_NAME

    def reference(
        self, sql: str, params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """What PyMySQL returns for sql (``?`` placeholders, bound by PyMySQL)."""
        with self.byom.connect() as connection, connection.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params or None)
            return list(cursor.fetchall())


@contextmanager
def matrix_server() -> Iterator[MatrixServer]:
    """A byom server with TLS on and the trained predictor ``rooms``."""
    model = ControlledModel()
    model.start()
    server = ByomProcess(extra={"tls": "on"})
    try:
        server.start()
        server.query(
            f"CREATE PREDICTOR {PREDICTOR} FROM mydb ({TRAINING_QUERY}) "
            f"PREDICT number_of_rooms USING url.train = '{model.url('/train')}', "
            f"url.predict = '{model.url('/predict')}', dtype_dict = {DTYPES}, "
            "format = 'ray_server', join_learn_process = true"
        )
        yield MatrixServer(server, model)
    finally:
        server.cleanup()
        model.stop()


def as_text(rows: list[tuple[Any, ...]]) -> list[tuple[str | None, ...]]:
    """Rows as a text-protocol client without type conversion sees them."""
    return [tuple(None if v is None else str(v) for v in row) for row in rows]
