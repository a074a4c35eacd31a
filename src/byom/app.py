"""The parts one byom process shares, and the statements that change the catalog.

Sessions (one per client connection) hold only their own state and call in here:
the catalog, the open data sources, the model backends, the planner and the
executor live once per process.
"""

from __future__ import annotations

import logging

from sqlglot import exp

from byom.backends.formats import Backends
from byom.catalog.definition import define_predictor
from byom.catalog.records import DEFAULT_PROJECT, Integration, Predictor
from byom.catalog.store import Catalog
from byom.errors import AlreadyExistsError, UnknownDatabaseError
from byom.execution.executor import Executor, QueryResult
from byom.execution.training import train_predictor
from byom.planning.planner import Planner
from byom.settings import Settings
from byom.sources.demo import demo_integration
from byom.sources.engines import check_parameters, engine_spec
from byom.sources.registry import Sources
from byom.sql.statements import CreateDatabase, CreatePredictor

logger = logging.getLogger(__name__)


class Byom:
    """One server's catalog, sources, model backends, planner and executor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = Catalog(settings.data_dir / "catalog.sqlite")
        self.sources = Sources(self.catalog)
        self.backends = Backends(settings)
        self.planner = Planner(self.catalog, self.sources, settings)
        self.executor = Executor(self.sources, self.backends)

    def start(self) -> None:
        """Prepare the catalog before the first client connects."""
        interrupted = self.catalog.mark_interrupted_training()
        if interrupted:
            logger.warning(
                "%d predictor(s) were training when the server stopped; "
                "marked as error",
                interrupted,
            )
        if self.settings.demo and not self.catalog.integrations():
            self.catalog.add_integration(demo_integration(self.settings.data_dir))
            logger.info("demo integration 'mydb' registered")

    async def close(self) -> None:
        """Release connections and files (at shutdown)."""
        await self.backends.close()
        self.sources.close()
        self.catalog.close()

    async def create_database(self, statement: CreateDatabase) -> None:
        """Register a data source after checking that it answers."""
        if statement.name.lower() in {DEFAULT_PROJECT, "information_schema", "mysql"}:
            raise AlreadyExistsError(f"Database '{statement.name}' already exists")
        if self.catalog.has_integration(statement.name):
            if statement.if_not_exists:
                return
            if not statement.or_replace:
                raise AlreadyExistsError(f"Database '{statement.name}' already exists")

        spec = engine_spec(statement.engine)
        check_parameters(spec, statement.parameters)
        integration = Integration(statement.name, spec.name, statement.parameters)
        source = self.sources.build(integration)
        try:
            await source.check()
        finally:
            source.dispose()

        self.catalog.add_integration(integration, replace=statement.or_replace)
        self.sources.forget(statement.name)
        logger.info("integration %s created (engine %s)", statement.name, spec.name)

    async def create_predictor(self, statement: CreatePredictor) -> Predictor:
        """Define, store and train a predictor; return its final record.

        Training runs before the statement returns, so the next statement of a
        script can query the predictor; its outcome is stored either way.
        """
        predictor = define_predictor(statement)
        existing = self.catalog.find_predictor(predictor.name, predictor.project)
        if existing is not None:
            if statement.if_not_exists:
                return existing
            if not statement.or_replace:
                raise AlreadyExistsError(f"Predictor '{predictor.name}' already exists")
        if predictor.integration and not self.catalog.has_integration(
            predictor.integration
        ):
            raise UnknownDatabaseError(f"Unknown database '{predictor.integration}'")

        self.catalog.add_predictor(predictor, replace=statement.or_replace)
        logger.info(
            "predictor %s created (format %s)", predictor.name, predictor.format
        )
        return await train_predictor(
            predictor,
            self.catalog,
            self.sources,
            self.backends,
            self.settings.max_training_rows,
        )

    async def select(
        self, select: exp.Select, database: str | None
    ) -> QueryResult | None:
        """Run a SELECT that reads a predictor; None when it reads none."""
        plan = await self.planner.plan(select, database)
        if plan is None:
            return None
        for line in plan.describe():
            logger.debug("plan: %s", line)
        return await self.executor.run(plan)
