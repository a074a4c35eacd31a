"""The parts one byom process shares, and the statements that change the catalog.

Sessions (one per client connection) hold only their own state and call in here:
the catalog, the open data sources, the model backends, the training jobs, the
planner and the executor live once per process.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from sqlglot import exp

from byom.backends.formats import Backends
from byom.catalog import system_tables
from byom.catalog.definition import define_predictor
from byom.catalog.records import DEFAULT_PROJECT, Integration, Predictor
from byom.catalog.store import Catalog
from byom.errors import (
    AlreadyExistsError,
    ByomError,
    NotSupportedError,
    PredictorNotReadyError,
    UnknownDatabaseError,
    UnknownTableError,
    WrongArgumentsError,
)
from byom.execution.deadline import before, bounded
from byom.execution.executor import Executor, QueryResult
from byom.execution.jobs import TrainingJobs
from byom.execution.local_sql import Table, run_local
from byom.execution.write_back import write_back
from byom.planning.plan import CatalogPlan, Plan
from byom.planning.planner import Planner
from byom.planning.predictor_columns import output_type, predictor_columns
from byom.settings import Settings
from byom.sources.demo import demo_integration
from byom.sources.engines import check_parameters, engine_spec, sqlite_files
from byom.sources.registry import Sources
from byom.sql.select_using import QUERY_TIMEOUT, USING_META
from byom.sql.statements import (
    CreateDatabase,
    CreatePredictor,
    DropDatabase,
    DropPredictor,
    Retrain,
)
from byom.sql.write_statements import write_back_of
from byom.types import SqlType, type_name

logger = logging.getLogger(__name__)

# Names a client may not give an integration: byom's own databases.
RESERVED_DATABASES = {DEFAULT_PROJECT, "information_schema", "mysql"}


class Byom:
    """One server's catalog, sources, model backends, jobs, planner and executor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = Catalog(settings.data_dir / "catalog.sqlite")
        self.sources = Sources(self.catalog, settings.source_connections)
        self.backends = Backends(settings)
        self.jobs = TrainingJobs(self.catalog, self.sources, self.backends, settings)
        self.planner = Planner(self.catalog, self.sources, settings)
        self.executor = Executor(self.sources, self.backends)

    def start(self) -> None:
        """Prepare the catalog before the first client connects."""
        interrupted = self.catalog.mark_interrupted_training()
        if interrupted:
            logger.warning(
                "%d predictor(s) were training when the server stopped; "
                "marked as failed",
                interrupted,
            )
        if self.settings.demo and not self.catalog.integrations():
            self.catalog.add_integration(demo_integration(self.settings.data_dir))
            logger.info("demo integration 'mydb' registered")

    async def close(self) -> None:
        """Stop training jobs and release connections and files (at shutdown)."""
        await self.jobs.close()
        await self.backends.close()
        self.sources.close()
        self.catalog.close()

    # Integrations

    async def create_database(self, statement: CreateDatabase) -> None:
        """Register a data source after checking that it answers."""
        if statement.name.lower() in RESERVED_DATABASES:
            raise AlreadyExistsError(f"Database '{statement.name}' already exists")
        if self.catalog.has_integration(statement.name):
            if statement.if_not_exists:
                return
            if not statement.or_replace:
                raise AlreadyExistsError(f"Database '{statement.name}' already exists")

        spec = engine_spec(statement.engine)
        check_parameters(spec, statement.parameters)
        if spec.name == "sqlite":
            self._refuse_own_files(statement.name, statement.parameters)
        integration = Integration(statement.name, spec.name, statement.parameters)
        source = self.sources.build(integration)
        try:
            await source.check()
        finally:
            source.dispose()

        self.catalog.add_integration(integration, replace=statement.or_replace)
        self.sources.forget(statement.name)
        logger.info("integration %s created (engine %s)", statement.name, spec.name)

    def _refuse_own_files(self, name: str, parameters: dict[str, Any]) -> None:
        # The catalog stores passwords and model headers: no integration may
        # read byom's data directory (the demo source is registered by byom).
        own = self.settings.data_dir.resolve()
        for path in sqlite_files(parameters):
            if path == own or own in path.parents:
                raise WrongArgumentsError(
                    f"PARAMETERS of '{name}': {path} is inside byom's data "
                    "directory, which an integration may not read"
                )

    def drop_database(self, statement: DropDatabase) -> None:
        """Forget an integration (its database is left untouched)."""
        if statement.name.lower() in RESERVED_DATABASES:
            raise NotSupportedError(f"Database '{statement.name}' cannot be dropped")
        if not self.catalog.delete_integration(statement.name):
            if statement.if_exists:
                return
            raise UnknownDatabaseError(f"Unknown database '{statement.name}'")
        self.sources.forget(statement.name)
        logger.info("integration %s dropped", statement.name)

    # Predictors

    async def create_predictor(self, statement: CreatePredictor) -> None:
        """Define and store a predictor, and start training it.

        Returns at once unless USING join_learn_process = true asks to wait.
        """
        using = dict(statement.using)
        wait = _flag(using.pop("join_learn_process", False), "join_learn_process")
        predictor = define_predictor(_with_using(statement, using))
        if predictor.name.lower() in system_tables.SYSTEM_TABLES:
            # A predictor of that name would hide the table (and SHOW PREDICTORS).
            raise AlreadyExistsError(
                f"Table '{predictor.name}' already exists in '{DEFAULT_PROJECT}': it "
                "is one of byom's own tables; choose another predictor name"
            )
        self._check_urls(predictor)
        existing = self.catalog.find_predictor(predictor.name, predictor.project)
        if existing is not None:
            if statement.if_not_exists:
                return
            if not statement.or_replace:
                raise AlreadyExistsError(f"Predictor '{predictor.name}' already exists")
            self.jobs.cancel(existing)
            self.backends.stats.forget(existing)
        if predictor.integration and not self.catalog.has_integration(
            predictor.integration
        ):
            raise UnknownDatabaseError(f"Unknown database '{predictor.integration}'")

        self.catalog.add_predictor(predictor, replace=statement.or_replace)
        logger.info(
            "predictor %s created (format %s)", predictor.name, predictor.format
        )
        job = self.jobs.start_training(predictor)
        if wait:
            error = await job
            if error is not None:
                raise error

    async def retrain(self, statement: Retrain) -> None:
        """Train a new version; the current one answers until it is ready."""
        current = self.catalog.predictor(statement.name, _project(statement.project))
        if self.jobs.running(current):
            raise NotSupportedError(
                f"predictor '{current.name}' is already training; wait for it to finish"
            )
        if not self.backends.for_format(current.format).trainable:
            raise NotSupportedError(
                f"predictor '{current.name}' uses format '{current.format}', whose "
                "models are trained outside byom; RETRAIN does not apply"
            )

        using = dict(statement.using)
        wait = _flag(using.pop("join_learn_process", False), "join_learn_process")
        redefined = CreatePredictor(
            name=current.name,
            project=current.project,
            integration=statement.integration or current.integration,
            select_sql=statement.select_sql or current.select_sql,
            target=current.target,
            using=_merge(current.options, using),
            if_not_exists=False,
            or_replace=True,
        )
        candidate = define_predictor(redefined).replace(
            version=current.version + 1, created_at=current.created_at
        )
        self._check_urls(candidate)
        if current.status == "complete":
            job = self.jobs.start_retraining(current, candidate)
        else:
            # Nothing answers yet, so the new version simply takes its place.
            self.catalog.save_predictor(candidate.replace(version=current.version))
            job = self.jobs.start_training(candidate.replace(version=current.version))
        logger.info("predictor %s: retraining started", current.name)
        if wait:
            error = await job
            if error is not None:
                raise error

    def _check_urls(self, predictor: Predictor) -> None:
        # Refused here, before anything is stored, rather than at the first call.
        allowed = self.backends.allowed
        allowed.check(predictor.predict_url, "USING url.predict")
        if predictor.train_url is not None:
            allowed.check(predictor.train_url, "USING url.train")

    def drop_predictor(self, statement: DropPredictor) -> None:
        """Remove a predictor, stopping its training if one runs."""
        project = _project(statement.project)
        found = self.catalog.find_predictor(statement.name, project)
        if found is None:
            if statement.if_exists:
                return
            raise UnknownTableError(f"Predictor '{statement.name}' doesn't exist")
        self.jobs.cancel(found)
        self.catalog.delete_predictor(found.name, project)
        self.backends.stats.forget(found)
        logger.info("predictor %s dropped", found.name)

    def describe_predictor(self, name: str, project: str | None) -> QueryResult:
        """The definition and state of one predictor, as one row."""
        predictor = self.catalog.predictor(name, _project(project))
        outputs = [
            (column, output_type(predictor, column))
            for column in predictor_columns(predictor)
            if column not in predictor.inputs
        ]
        return _static(
            system_tables.DESCRIBE, system_tables.describe_rows(predictor, outputs)
        )

    # Queries

    async def select(
        self,
        query: exp.Expression,
        database: str | None,
        timeout: float | None = None,
        *,
        text_cells: bool = False,
    ) -> QueryResult:
        """Run a query: predictions, catalog tables, or an integration's tables.

        ``timeout`` (seconds; None: the query_timeout setting, 0: no limit)
        bounds the whole query, the rows it streams included. ``text_cells``
        lets a query read from one MySQL source keep the source's text cells
        (bytes), for a caller that sends them on in MySQL's text protocol; the
        result's ``text_cells`` says whether it did.
        """
        seconds = self.settings.query_timeout if timeout is None else timeout
        using = query.meta.get(USING_META) or {}
        seconds = using.get(QUERY_TIMEOUT, seconds)
        if seconds <= 0:
            return await self._select(query, database, text_cells)
        deadline = asyncio.get_running_loop().time() + seconds
        started = self._select(query, database, text_cells)
        result = await before(deadline, seconds, started)
        if result.packets is not None:
            packets = bounded(result.packets, deadline, seconds)
            return replace(result, packets=packets)
        return replace(result, batches=bounded(result.batches, deadline, seconds))

    async def write_back(
        self,
        statement: exp.Expression,
        database: str | None,
        timeout: float | None = None,
    ) -> int:
        """INSERT ... SELECT or CREATE TABLE ... SELECT into an integration.

        The query runs as ``select`` runs it (same timeout); returns the number
        of rows written, for the client's affected-rows count.
        """
        target = write_back_of(statement, database)
        if target.integration.lower() in RESERVED_DATABASES:
            raise NotSupportedError(
                f"Rows cannot be written into '{target.target}': '{target.integration}'"
                " holds byom's predictors and tables; write into an integration"
            )
        source = self.sources.get(target.integration)

        async def run(query: exp.Expression) -> QueryResult:
            return await self.select(query, database, timeout)

        return await write_back(target, source, run)

    async def explain(
        self, query: exp.Expression, database: str | None
    ) -> list[tuple[str]]:
        """EXPLAIN: the plan's steps, one row each; nothing is fetched or called."""
        plan = await self.planner.plan(query, database)
        return [(line,) for line in plan.describe()]

    async def _select(
        self, query: exp.Expression, database: str | None, text_cells: bool = False
    ) -> QueryResult:
        plan = await self.planner.plan(query, database)
        if isinstance(plan, CatalogPlan):
            return run_local(plan.query, DEFAULT_PROJECT, self._catalog_tables())
        plan = await self._wait_for_training(plan, query, database)
        for line in plan.describe():
            logger.debug("plan: %s", line)
        assert not isinstance(plan, CatalogPlan)
        return await self.executor.run(plan, text_cells=text_cells)

    async def _wait_for_training(
        self, plan: Plan, query: exp.Expression, database: str | None
    ) -> Plan:
        # A script that sends a query right after CREATE PREDICTOR waits for the
        # training under way (up to training_wait seconds) instead of failing.
        predictor: Predictor | None = getattr(plan, "predictor", None)
        if predictor is None or predictor.status not in {"generating", "training"}:
            return plan
        if self.settings.training_wait <= 0:
            return plan
        if not self.jobs.running(predictor):
            # The training ended while the query was being planned: the plan
            # holds the predictor as it was then.
            return await self.planner.plan(query, database)
        await self.jobs.wait(predictor, self.settings.training_wait)
        replanned = await self.planner.plan(query, database)
        still = getattr(replanned, "predictor", None)
        if still is not None and still.status in {"generating", "training"}:
            raise PredictorNotReadyError(
                f"predictor '{still.name}' is still {still.status} after waiting "
                f"{self.settings.training_wait:g} s; query it when its status is "
                "'complete'"
            )
        return replanned

    def integration_names(self) -> list[str]:
        """The names of every registered integration."""
        return [integration.name for integration in self.catalog.integrations()]

    async def check_database(self, name: str) -> None:
        """Refuse USE of a database that does not exist (1049)."""
        if name.lower() in RESERVED_DATABASES or self.catalog.has_integration(name):
            return
        raise UnknownDatabaseError(f"Unknown database '{name}'")

    async def schema(self) -> dict[str, dict[str, dict[str, str]]]:
        """Databases, tables and column types, for SHOW and information_schema.

        Integrations that cannot be reached are left out (with a warning), so one
        database being down never breaks SHOW DATABASES for everyone.
        """
        project: dict[str, dict[str, str]] = {}
        for predictor in self.catalog.predictors():
            project[predictor.name] = {
                column: type_name(output_type(predictor, column))
                for column in predictor_columns(predictor)
            }
        for name, columns in system_tables.SYSTEM_TABLES.items():
            project.setdefault(name, {c: type_name(t) for c, t in columns})

        databases = {DEFAULT_PROJECT: project}
        for integration in self.catalog.integrations():
            databases[integration.name] = await self._integration_schema(integration)
        return databases

    async def table_columns(
        self, database: str, table: str
    ) -> list[tuple[str, SqlType]]:
        """The typed columns of one table, predictor or catalog table (for SHOW).

        An integration's table may be named ``schema.table``, as SHOW TABLES
        lists it. Unknown names raise 1049 or 1146.
        """
        if database.lower() == DEFAULT_PROJECT:
            predictor = self.catalog.find_predictor(table, DEFAULT_PROJECT)
            if predictor is not None:
                return [
                    (column, output_type(predictor, column))
                    for column in predictor_columns(predictor)
                ]
            system = system_tables.SYSTEM_TABLES.get(table.lower())
            if system is not None:
                return list(system)
            raise UnknownTableError(f"Table '{DEFAULT_PROJECT}.{table}' doesn't exist")
        if not self.catalog.has_integration(database):
            raise UnknownDatabaseError(f"Unknown database '{database}'")
        schema, _, name = table.rpartition(".")
        source = self.sources.get(database)
        try:
            return list(await source.table_columns(name, schema or None))
        except UnknownTableError:
            if schema:
                raise
        # A bare name that the source finds in another schema, as SQLite does for
        # the attached test_data of the demo (and as SELECT resolves it).
        found = [
            columns
            for listed, columns in (await source.catalog_tables()).items()
            if listed.rpartition(".")[2].lower() == name.lower()
        ]
        if len(found) != 1:
            raise UnknownTableError(f"Table '{database}.{table}' doesn't exist")
        return list(found[0])

    async def _integration_schema(
        self, integration: Integration
    ) -> dict[str, dict[str, str]]:
        try:
            tables = await self.sources.get(integration.name).catalog_tables()
        except ByomError as exc:
            logger.warning("integration %s left out of SHOW: %s", integration.name, exc)
            return {}
        return {
            table: {column: type_name(kind) for column, kind in columns}
            for table, columns in tables.items()
        }

    def _catalog_tables(self) -> dict[str, Table]:
        predictors = self.catalog.predictors()
        return {
            "predictors": (
                system_tables.PREDICTORS,
                system_tables.predictors_rows(predictors),
            ),
            "models": (system_tables.MODELS, system_tables.models_rows(predictors)),
            "databases": (
                system_tables.DATABASES,
                system_tables.databases_rows(self.catalog.integrations()),
            ),
            "call_stats": (system_tables.CALL_STATS, self.backends.stats.rows()),
        }


def _project(project: str | None) -> str:
    name = project or DEFAULT_PROJECT
    if name.lower() != DEFAULT_PROJECT:
        raise UnknownDatabaseError(
            f"Unknown database '{name}': predictors live in '{DEFAULT_PROJECT}'"
        )
    return DEFAULT_PROJECT


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    raise WrongArgumentsError(f"USING {key} must be true or false")


def _with_using(statement: CreatePredictor, using: dict[str, Any]) -> CreatePredictor:
    return CreatePredictor(
        name=statement.name,
        project=statement.project,
        integration=statement.integration,
        select_sql=statement.select_sql,
        target=statement.target,
        using=using,
        if_not_exists=statement.if_not_exists,
        or_replace=statement.or_replace,
    )


def _merge(stored: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """USING of a RETRAIN: the stored options, with the given keys replaced."""
    merged = dict(stored)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _static(columns: list[tuple[str, Any]], rows: list[tuple[Any, ...]]) -> QueryResult:
    async def batches() -> Any:
        yield rows

    return QueryResult(columns, batches())
