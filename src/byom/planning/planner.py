"""From a parsed SELECT to a plan: which tables, which predictors, what goes where.

Shapes planned here: a single-row prediction (``SELECT * FROM p WHERE a = 1 AND
b = 2``); a table, or a subquery over one integration, joined with one or more
predictors (``SELECT t.x, p.y FROM db.s.t AS t JOIN mindsdb.p AS p WHERE t.x >
5``, planned in ``planning.join``); a query over such a prediction used as a
derived table (``SELECT a, count(*) FROM (SELECT * FROM t JOIN p) AS v GROUP
BY a``, as BI tools wrap queries); byom's own catalog tables; and queries on one
integration's tables only, which run there as they are.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from byom.backends.call_options import call_options
from byom.catalog.records import DEFAULT_PROJECT
from byom.catalog.store import Catalog
from byom.catalog.system_tables import SYSTEM_TABLES
from byom.errors import (
    DerivedAliasError,
    NotSupportedError,
    UnknownDatabaseError,
    UnknownTableError,
    WrongArgumentsError,
)
from byom.planning.derived import limit_to_push, plan_derived
from byom.planning.join import (
    TABLE,
    DerivedTable,
    JoinShape,
    Left,
    PredictorRef,
    SourceTable,
    plan_join,
)
from byom.planning.limits import checked_limits
from byom.planning.plan import (
    CatalogPlan,
    PassthroughPlan,
    Plan,
)
from byom.planning.single_row import plan_single
from byom.settings import Settings
from byom.sources.registry import Sources
from byom.sql.select_using import QUERY_TIMEOUT, USING_META

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _SystemTable:
    name: str


class Planner:
    """Builds plans against the catalog and the sources' own metadata."""

    def __init__(self, catalog: Catalog, sources: Sources, settings: Settings):
        self._catalog = catalog
        self._sources = sources
        self._settings = settings

    async def plan(
        self,
        query: exp.Expression,
        database: str | None,
        options: dict[str, Any] | None = None,
    ) -> Plan:
        """The plan for a query, by what it reads.

        A predictor: a prediction plan. byom's own tables: a catalog plan. One
        integration's tables: the query runs there. ``options`` are the query's
        own ``USING`` keys for its predictors' calls.
        """
        if options is None:
            options = query.meta.get(USING_META)
        if query.find(exp.Into) is not None:
            # MySQL stores such a result in variables or a file, nothing byom
            # can hold for the session.
            raise NotSupportedError("SELECT ... INTO is not supported")
        checked_limits(query)
        if isinstance(query, exp.Select):
            inner = _derived_from(query)
            if inner is not None and self._reads_prediction(inner, database):
                needed = limit_to_push(query)
                if needed is not None:
                    # Only the first rows are read, so only they are scored.
                    inner = _cut_to(inner, needed)
                planned = await self.plan(inner, database, options)
                return plan_derived(query, planned, self._settings.max_local_rows)
            if self._reads_a_predictor(_direct_tables(query), database):
                return await self._plan_prediction(query, database, options or {})

        if options:
            raise WrongArgumentsError(
                "USING after a query sets how its predictors are called; "
                "this query reads no predictor"
            )
        tables = _tables(query)
        refs = [self._resolve(table, database) for table in tables]
        if any(isinstance(r, PredictorRef) for r in refs):
            raise NotSupportedError(
                "subqueries, UNION and CTEs next to a predictor are not supported yet"
            )
        systems = [r for r in refs if isinstance(r, _SystemTable)]
        sources = [r for r in refs if isinstance(r, SourceTable)]
        if systems:
            if sources:
                raise NotSupportedError(
                    "byom's catalog tables cannot be read together with an "
                    "integration's tables"
                )
            return CatalogPlan(query, sorted({r.name for r in systems}))
        return await self._plan_passthrough(query, tables, sources)

    async def _plan_prediction(
        self, query: exp.Select, database: str | None, options: dict[str, Any]
    ) -> Plan:
        items = _from_items(query)
        # Before resolving the tables of a subquery, whose names would be read
        # as the predictor's project and fail with a misleading error.
        _refuse_subqueries(query, allowed=[i for i in items if _is_derived(i)])
        left: Left | None = None
        models: list[PredictorRef] = []
        order: list[int] = []
        for item in items:
            ref = self._item(item, database)
            if isinstance(ref, PredictorRef):
                order.append(len(models))
                models.append(_with_options(ref, options))
            elif isinstance(ref, SourceTable | DerivedTable) and left is None:
                order.append(TABLE)
                left = ref
            else:
                raise NotSupportedError(_COMBINATIONS)

        _refuse_unknown_qualifiers(options, models)
        # The plans below copy and render the query, which takes seconds for a
        # huge one (a 100,000-value IN list); other connections must not wait.
        if left is None:
            if len(models) > 1:
                raise NotSupportedError(_COMBINATIONS)
            return await asyncio.to_thread(
                plan_single,
                query,
                models[0].predictor,
                models[0].alias,
                self._settings.max_local_rows,
            )
        source = self._sources.get(left.integration)
        if isinstance(left, SourceTable):
            columns = await source.table_columns(left.table, left.schema)
        else:
            first_row = (
                exp.select("*")
                .from_(exp.Subquery(this=left.query.copy(), alias=left.alias))
                .limit(1)
            )
            columns = await source.query_columns(first_row.sql(dialect=source.dialect))
        return await asyncio.to_thread(
            plan_join,
            query,
            JoinShape(left, models, order),
            columns,
            source.dialect,
            [call_options(m.predictor, self._settings) for m in models],
            self._settings.max_local_rows,
        )

    def _item(self, item: exp.Expression, database: str | None) -> object:
        """What one FROM or JOIN item is: a table, a predictor or a subquery."""
        if not _is_derived(item):
            return self._resolve(item, database)
        assert isinstance(item, exp.Subquery)
        if not item.alias:
            raise DerivedAliasError("Every derived table must have its own alias")
        inner = item.this
        tables = _tables(inner)
        refs = [self._resolve(table, database) for table in tables]
        sources = [r for r in refs if isinstance(r, SourceTable)]
        if len(sources) != len(refs) or not sources:
            raise NotSupportedError(
                "a subquery joined with a predictor must read the tables of one "
                f"integration only: {inner.sql('mysql')}"
            )
        integration, rewritten = self._for_source(inner, tables, sources)
        assert isinstance(rewritten, exp.Query)
        return DerivedTable(integration, rewritten, item.alias)

    def _reads_prediction(self, query: exp.Select, database: str | None) -> bool:
        """True for a query on predictors, or one over such a query alone."""
        if self._reads_a_predictor(_direct_tables(query), database):
            return True
        inner = _derived_from(query)
        return inner is not None and self._reads_prediction(inner, database)

    def _reads_a_predictor(self, tables: list[exp.Table], database: str | None) -> bool:
        refs = [self._resolve(table, database) for table in tables]
        return any(isinstance(ref, PredictorRef) for ref in refs)

    async def _plan_passthrough(
        self,
        query: exp.Expression,
        tables: list[exp.Table],
        sources: list[SourceTable],
    ) -> PassthroughPlan:
        source = self._sources.get(_one_integration(sources))

        def render() -> str:
            _, rewritten = self._for_source(query, tables, sources)
            return rewritten.sql(dialect=source.dialect)

        # Copying and rendering a huge query (a 100k-value IN list) takes
        # seconds, which other connections must not wait out.
        sql = await asyncio.to_thread(render)
        return PassthroughPlan(
            source=source.name, sql=sql, batch_rows=self._settings.batch_rows
        )

    def _for_source(
        self,
        query: exp.Expression,
        tables: list[exp.Table],
        sources: list[SourceTable],
    ) -> tuple[str, exp.Expression]:
        """A query of one integration, its tables named as that source names them."""
        integration = _one_integration(sources)
        rewritten = query.copy()
        originals = {id(t): r for t, r in zip(tables, sources, strict=True)}
        for table, copy in zip(tables, _tables(rewritten), strict=True):
            ref = originals[id(table)]
            copy.set("catalog", None)
            copy.set("db", exp.to_identifier(ref.schema) if ref.schema else None)
        # sqlglot would write DUAL quoted, a table of that name; MySQL's
        # SELECT 7 FROM DUAL is SELECT 7, which every dialect takes.
        for dual in [t for t in rewritten.find_all(exp.Table) if _is_dual(t)]:
            if isinstance(dual.parent, exp.From):
                dual.parent.pop()
        return integration, rewritten

    def _resolve(self, node: exp.Expression, database: str | None) -> object:
        if not isinstance(node, exp.Table) or not node.name:
            raise NotSupportedError(
                "table functions and subqueries in FROM are not supported here"
            )
        catalog, db, name = node.text("catalog"), node.text("db"), node.name
        alias = node.alias_or_name
        current = database or DEFAULT_PROJECT

        if catalog:
            return SourceTable(self._integration(catalog), db, name, alias)
        if db:
            if db.lower() == DEFAULT_PROJECT:
                return self._project_table(name, alias)
            if self._catalog.has_integration(db):
                return SourceTable(db, None, name, alias)
            if self._catalog.has_integration(current):
                # After USE mydb, test_data.home_rentals is a schema of mydb.
                return SourceTable(current, db, name, alias)
            raise UnknownDatabaseError(f"Unknown database '{db}'")
        if current.lower() == DEFAULT_PROJECT:
            return self._project_table(name, alias)
        return SourceTable(self._integration(current), None, name, alias)

    def _project_table(self, name: str, alias: str) -> object:
        predictor = self._catalog.find_predictor(name, DEFAULT_PROJECT)
        if predictor is not None:
            return PredictorRef(predictor, alias)
        if name.lower() in SYSTEM_TABLES:
            return _SystemTable(name.lower())
        raise UnknownTableError(f"Table '{DEFAULT_PROJECT}.{name}' doesn't exist")

    def _integration(self, name: str) -> str:
        if not self._catalog.has_integration(name):
            raise UnknownDatabaseError(f"Unknown database '{name}'")
        return name


def _tables(query: exp.Expression) -> list[exp.Table]:
    """Every table a query reads, in order, but its CTEs and MySQL's DUAL."""
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    return [
        table
        for table in query.find_all(exp.Table)
        if table.text("db") or table.name.lower() not in ctes
        if not _is_dual(table)
    ]


def _is_dual(table: exp.Table) -> bool:
    name = table.this
    return (
        isinstance(name, exp.Identifier)
        and not name.quoted
        and name.name.upper() == "DUAL"
        and not table.text("db")
    )


_COMBINATIONS = (
    "a query may join one table or subquery with predictors; "
    "other combinations are not supported yet"
)


def _one_integration(sources: list[SourceTable]) -> str:
    """The integration every table is of, or a refusal."""
    integrations = {s.integration.lower() for s in sources}
    if len(integrations) != 1:
        raise NotSupportedError(
            "a query may read the tables of one integration at a time; "
            "joining two integrations is not supported yet"
        )
    return sources[0].integration


def _with_options(ref: PredictorRef, options: dict[str, Any]) -> PredictorRef:
    """The predictor with the query's USING keys over its own (``p.key`` for one)."""
    if not options:
        return ref
    merged = dict(ref.predictor.options)
    names = {ref.alias.lower(), ref.predictor.name.lower()}
    # A key for this predictor (p.key) wins over one for every predictor.
    for key, value in sorted(options.items(), key=lambda item: "." in item[0]):
        if key == QUERY_TIMEOUT:
            continue  # the whole query's, not a predictor's
        qualifier, _, name = key.rpartition(".")
        if not qualifier or qualifier.lower() in names:
            merged[name] = value
    return PredictorRef(ref.predictor.replace(options=merged), ref.alias)


def _refuse_unknown_qualifiers(
    options: dict[str, Any], models: list[PredictorRef]
) -> None:
    known = {m.alias.lower() for m in models} | {
        m.predictor.name.lower() for m in models
    }
    for key in options:
        qualifier = key.rpartition(".")[0]
        if qualifier and qualifier.lower() not in known:
            raise WrongArgumentsError(
                f"USING {key} names '{qualifier}', which is not a predictor of "
                "this query"
            )


def _from_items(query: exp.Select) -> list[exp.Expression]:
    """The FROM item and each JOIN's item, in order."""
    parts = [query.args.get("from_"), *(query.args.get("joins") or [])]
    return [part.this for part in parts if part is not None]


def _is_derived(item: exp.Expression) -> bool:
    return isinstance(item, exp.Subquery) and isinstance(item.this, exp.Query)


def _derived_from(query: exp.Select) -> exp.Select | None:
    """The subquery a query reads alone in its FROM (``FROM (SELECT ...) AS v``)."""
    items = _from_items(query)
    if len(items) != 1 or not _is_derived(items[0]):
        return None
    inner = items[0].this
    return inner if isinstance(inner, exp.Select) else None


# Where a subquery sits, by the key of the Select argument holding it.
_PLACES = {
    "expressions": "the select list",
    "from_": "FROM",
    "joins": "FROM",
    "where": "the WHERE",
    "order": "ORDER BY",
    "with_": "a WITH clause",
}


def _refuse_subqueries(query: exp.Expr, allowed: list[exp.Expression]) -> None:
    for nested in query.find_all(exp.Query):
        node: exp.Expr = nested
        if node is query or any(_within(node, item) for item in allowed):
            continue
        place = _PLACES.get(_clause_of(nested, query), "the query")
        raise NotSupportedError(
            f"subqueries in {place} of a query on a predictor are not supported "
            f"yet: {nested.sql('mysql')}"
        )


def _clause_of(node: exp.Expr, query: exp.Expr) -> str:
    while node.parent is not None and node.parent is not query:
        node = node.parent
    return node.arg_key or ""


def _within(node: exp.Expr, ancestor: exp.Expr) -> bool:
    """True when node is ancestor or lies inside it."""
    if node is ancestor:
        return True
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False


def _direct_tables(query: exp.Select) -> list[exp.Table]:
    """The tables named in the query's own FROM and JOINs (not its subqueries)."""
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    return [
        item
        for item in _from_items(query)
        if isinstance(item, exp.Table)
        and item.name
        and (item.text("db") or item.name.lower() not in ctes)
    ]


def _cut_to(query: exp.Select, rows: int) -> exp.Select:
    """The query returning at most its first rows (its own LIMIT, if smaller)."""
    cut = query.copy()
    limit = cut.args.get("limit")
    current = limit.expression if limit is not None else None
    if current is not None and current.is_int and int(current.name) <= rows:
        return cut
    return cut.limit(rows, copy=False)
