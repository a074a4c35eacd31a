"""The catalog: integrations and predictors kept in a SQLite file.

Every change writes whole records inside one transaction, so a crash leaves
either the old record or the new one, never half of an edit. SQLite's WAL mode
keeps readers and the writer out of each other's way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import orjson

from byom.catalog.records import DEFAULT_PROJECT, Integration, Predictor
from byom.errors import AlreadyExistsError, UnknownDatabaseError, UnknownTableError

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS integrations (
    name        TEXT PRIMARY KEY COLLATE NOCASE,
    engine      TEXT NOT NULL,
    parameters  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS predictors (
    project     TEXT NOT NULL COLLATE NOCASE,
    name        TEXT NOT NULL COLLATE NOCASE,
    record      TEXT NOT NULL,
    PRIMARY KEY (project, name)
);
"""


class Catalog:
    """Durable store of integrations and predictors (one SQLite file)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        logger.info("catalog opened at %s", path)

    def close(self) -> None:
        """Close the file; the object must not be used afterwards."""
        with self._lock:
            self._db.close()

    # Integrations

    def add_integration(self, integration: Integration, replace: bool = False) -> None:
        """Store a new integration; refuse a duplicate name unless replace."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        row = (
            integration.name,
            integration.engine,
            orjson.dumps(integration.parameters).decode(),
            integration.created_at,
        )
        with self._lock:
            try:
                self._db.execute(
                    f"{verb} INTO integrations VALUES (?, ?, ?, ?)",  # noqa: S608
                    row,
                )
            except sqlite3.IntegrityError:
                raise AlreadyExistsError(
                    f"Database '{integration.name}' already exists"
                ) from None

    def integration(self, name: str) -> Integration:
        """The integration called name (case-insensitive), or UnknownDatabaseError."""
        with self._lock:
            row = self._db.execute(
                "SELECT name, engine, parameters, created_at FROM integrations "
                "WHERE name = ?",
                (name,),
            ).fetchone()
        if row is None:
            raise UnknownDatabaseError(f"Unknown database '{name}'")
        return Integration(row[0], row[1], orjson.loads(row[2]), row[3])

    def integrations(self) -> list[Integration]:
        """Every integration, by name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT name, engine, parameters, created_at FROM integrations "
                "ORDER BY name"
            ).fetchall()
        return [Integration(r[0], r[1], orjson.loads(r[2]), r[3]) for r in rows]

    def has_integration(self, name: str) -> bool:
        """Tell whether an integration with that name exists."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM integrations WHERE name = ?", (name,)
            ).fetchone()
        return row is not None

    # Predictors

    def add_predictor(self, predictor: Predictor, replace: bool = False) -> None:
        """Store a new predictor; refuse a duplicate name unless replace."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self._lock:
            try:
                self._db.execute(
                    f"{verb} INTO predictors VALUES (?, ?, ?)",  # noqa: S608
                    (predictor.project, predictor.name, _encode(predictor)),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExistsError(
                    f"Predictor '{predictor.name}' already exists"
                ) from None

    def save_predictor(self, predictor: Predictor) -> None:
        """Write a predictor's whole record over the stored one."""
        with self._lock:
            self._db.execute(
                "UPDATE predictors SET record = ? WHERE project = ? AND name = ?",
                (_encode(predictor), predictor.project, predictor.name),
            )

    def find_predictor(
        self, name: str, project: str = DEFAULT_PROJECT
    ) -> Predictor | None:
        """The predictor project.name (case-insensitive), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT record FROM predictors WHERE project = ? AND name = ?",
                (project, name),
            ).fetchone()
        return None if row is None else _decode(row[0])

    def predictor(self, name: str, project: str = DEFAULT_PROJECT) -> Predictor:
        """The predictor project.name, or UnknownTableError naming it."""
        found = self.find_predictor(name, project)
        if found is None:
            raise UnknownTableError(f"Table '{project}.{name}' doesn't exist")
        return found

    def predictors(self, project: str = DEFAULT_PROJECT) -> list[Predictor]:
        """Every predictor of a project, by name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM predictors WHERE project = ? ORDER BY name",
                (project,),
            ).fetchall()
        return [_decode(r[0]) for r in rows]

    def delete_predictor(self, name: str, project: str = DEFAULT_PROJECT) -> bool:
        """Remove a predictor; tell whether there was one."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM predictors WHERE project = ? AND name = ?",
                (project, name),
            )
        return cursor.rowcount > 0

    def delete_integration(self, name: str) -> bool:
        """Remove an integration; tell whether there was one."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM integrations WHERE name = ?", (name,)
            )
        return cursor.rowcount > 0

    def mark_interrupted_training(self) -> int:
        """Mark predictors left mid-training by a stopped server as failed.

        Called at start-up, before any client connects. Returns how many changed.
        """
        changed = 0
        for project_row in self._projects():
            for predictor in self.predictors(project_row):
                if predictor.status in {"generating", "training"}:
                    self.save_predictor(
                        predictor.replace(
                            status="error",
                            error="training was interrupted by a server restart",
                        )
                    )
                    changed += 1
                elif predictor.update_status == "updating":
                    self.save_predictor(
                        predictor.replace(
                            update_status="update_failed",
                            error="retraining was interrupted by a server restart",
                        )
                    )
                    changed += 1
        return changed

    def _projects(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT project FROM predictors ORDER BY project"
            ).fetchall()
        return [r[0] for r in rows]


def _encode(predictor: Predictor) -> str:
    fields: dict[str, Any] = {
        name: getattr(predictor, name) for name in predictor.__dataclass_fields__
    }
    return orjson.dumps(fields).decode()


def _decode(text: str) -> Predictor:
    fields = orjson.loads(text)
    return Predictor(**fields)
