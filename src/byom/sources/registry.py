"""Open data sources by integration name, one SQLAlchemy engine each."""

from __future__ import annotations

import logging

from byom.catalog.records import Integration
from byom.catalog.store import Catalog
from byom.sources.source import DataSource

logger = logging.getLogger(__name__)


class Sources:
    """Keeps one DataSource (and its connection pool) per integration."""

    def __init__(self, catalog: Catalog, connections: int = 8) -> None:
        self._catalog = catalog
        self._connections = connections
        self._open: dict[str, DataSource] = {}

    def get(self, name: str) -> DataSource:
        """The source of integration name; UnknownDatabaseError if there is none."""
        key = name.lower()
        if key not in self._open:
            integration = self._catalog.integration(name)
            self._open[key] = DataSource(integration, self._connections)
        return self._open[key]

    def build(self, integration: Integration) -> DataSource:
        """A source for an integration not stored yet (to check it first)."""
        return DataSource(integration, self._connections)

    def forget(self, name: str) -> None:
        """Close and drop the source of a removed or replaced integration."""
        source = self._open.pop(name.lower(), None)
        if source is not None:
            source.dispose()

    def close(self) -> None:
        """Close every pool (at shutdown)."""
        for source in self._open.values():
            source.dispose()
        self._open.clear()
