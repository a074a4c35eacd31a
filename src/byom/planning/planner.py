"""From a parsed SELECT to a plan: which table, which predictor, what goes where.

Two shapes are planned here: a single-row prediction
(``SELECT * FROM p WHERE a = 1 AND b = 2``) and a table joined with a predictor
(``SELECT t.x, p.y FROM db.s.t AS t JOIN mindsdb.p AS p WHERE t.x > 5``). In a
join, each WHERE conjunct that reads only the table goes into the source's own
query, transpiled to its dialect by sqlglot, together with the projection (only
the columns the query and the model need) and ORDER BY / LIMIT when every filter
was pushed, so the model scores only the rows that survive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from byom.catalog.records import DEFAULT_PROJECT, Predictor
from byom.catalog.store import Catalog
from byom.catalog.system_tables import SYSTEM_TABLES
from byom.errors import (
    AmbiguousColumnError,
    NotSupportedError,
    NotUniqueTableError,
    UnknownColumnError,
    UnknownDatabaseError,
    UnknownTableError,
)
from byom.planning.conditions import (
    conjuncts_of,
    constant_type,
    is_constant,
    literal_value,
)
from byom.planning.local_query import (
    MODEL_RELATION,
    SOURCE_RELATION,
    column_name,
    duckdb_sql,
    groups,
    is_plain,
    local_query,
    named,
    probes,
    streams,
)
from byom.planning.plan import (
    CatalogPlan,
    JoinPlan,
    LocalStep,
    OutputColumn,
    PassthroughPlan,
    Plan,
    PredictorPlan,
)
from byom.planning.predictor_columns import model_output, predictor_columns
from byom.planning.single_row import plan_single
from byom.planning.source_sql import escape_like_backslashes, quote_identifiers
from byom.settings import Settings
from byom.sources.registry import Sources
from byom.types import SqlType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _SourceTable:
    integration: str
    schema: str | None
    table: str
    alias: str


@dataclass(frozen=True)
class _SystemTable:
    name: str


@dataclass(frozen=True)
class _PredictorRef:
    predictor: Predictor
    alias: str


class Planner:
    """Builds plans against the catalog and the sources' own metadata."""

    def __init__(self, catalog: Catalog, sources: Sources, settings: Settings):
        self._catalog = catalog
        self._sources = sources
        self._settings = settings

    async def plan(self, query: exp.Expression, database: str | None) -> Plan:
        """The plan for a query, by what it reads.

        A predictor (with at most one table): a prediction plan. byom's own
        tables: a catalog plan. One integration's tables: the query runs there.
        """
        tables = _tables(query)
        if self._reads_a_predictor(_direct_tables(query, tables), database):
            # Before resolving the tables of a subquery, whose names would be
            # read as the predictor's project and fail with a misleading error.
            _refuse_subqueries(query)
        refs = [self._resolve(table, database) for table in tables]
        predictors = [r for r in refs if isinstance(r, _PredictorRef)]
        systems = [r for r in refs if isinstance(r, _SystemTable)]
        sources = [r for r in refs if isinstance(r, _SourceTable)]

        if predictors:
            return await self._plan_prediction(query, refs, predictors, sources)
        if systems:
            if sources:
                raise NotSupportedError(
                    "byom's catalog tables cannot be read together with an "
                    "integration's tables"
                )
            return CatalogPlan(query, sorted({r.name for r in systems}))
        return self._plan_passthrough(query, tables, sources)

    async def _plan_prediction(
        self,
        query: exp.Expression,
        refs: list[object],
        predictors: list[_PredictorRef],
        sources: list[_SourceTable],
    ) -> PredictorPlan:
        direct = [query.args.get("from_")] + list(query.args.get("joins") or [])
        if not isinstance(query, exp.Select) or len(refs) != len(
            [t for t in direct if t is not None]
        ):
            raise NotSupportedError(
                "subqueries, UNION and CTEs next to a predictor are not supported yet"
            )
        if len(refs) == 1:
            return plan_single(
                query,
                predictors[0].predictor,
                predictors[0].alias,
                self._settings.max_local_rows,
            )
        if len(refs) != 2 or len(sources) != 1:
            raise NotSupportedError(
                "a query may join one table with one predictor; "
                "other combinations are not supported yet"
            )
        return await self._plan_join(query, sources[0], predictors[0])

    def _reads_a_predictor(self, tables: list[exp.Table], database: str | None) -> bool:
        refs = [self._resolve(table, database) for table in tables]
        return any(isinstance(ref, _PredictorRef) for ref in refs)

    def _plan_passthrough(
        self,
        query: exp.Expression,
        tables: list[exp.Table],
        sources: list[_SourceTable],
    ) -> PassthroughPlan:
        integrations = {s.integration.lower() for s in sources}
        if len(integrations) != 1:
            raise NotSupportedError(
                "a query may read the tables of one integration at a time; "
                "joining two integrations is not supported yet"
            )

        rewritten = query.copy()
        originals = {id(t): r for t, r in zip(tables, sources, strict=True)}
        for table, copy in zip(tables, _tables(rewritten), strict=True):
            ref = originals[id(table)]
            copy.set("catalog", None)
            copy.set("db", exp.to_identifier(ref.schema) if ref.schema else None)
        source = self._sources.get(sources[0].integration)
        return PassthroughPlan(
            source=source.name,
            sql=rewritten.sql(dialect=source.dialect),
            batch_rows=self._settings.batch_rows,
        )

    def _resolve(self, node: exp.Expression, database: str | None) -> object:
        if not isinstance(node, exp.Table) or not node.name:
            raise NotSupportedError(
                "table functions and subqueries in FROM are not supported here"
            )
        catalog, db, name = node.text("catalog"), node.text("db"), node.name
        alias = node.alias_or_name
        current = database or DEFAULT_PROJECT

        if catalog:
            return _SourceTable(self._integration(catalog), db, name, alias)
        if db:
            if db.lower() == DEFAULT_PROJECT:
                return self._project_table(name, alias)
            if self._catalog.has_integration(db):
                return _SourceTable(db, None, name, alias)
            if self._catalog.has_integration(current):
                # After USE mydb, test_data.home_rentals is a schema of mydb.
                return _SourceTable(current, db, name, alias)
            raise UnknownDatabaseError(f"Unknown database '{db}'")
        if current.lower() == DEFAULT_PROJECT:
            return self._project_table(name, alias)
        return _SourceTable(self._integration(current), None, name, alias)

    def _project_table(self, name: str, alias: str) -> object:
        predictor = self._catalog.find_predictor(name, DEFAULT_PROJECT)
        if predictor is not None:
            return _PredictorRef(predictor, alias)
        if name.lower() in SYSTEM_TABLES:
            return _SystemTable(name.lower())
        raise UnknownTableError(f"Table '{DEFAULT_PROJECT}.{name}' doesn't exist")

    def _integration(self, name: str) -> str:
        if not self._catalog.has_integration(name):
            raise UnknownDatabaseError(f"Unknown database '{name}'")
        return name

    async def _plan_join(
        self, select: exp.Select, table: _SourceTable, model: _PredictorRef
    ) -> JoinPlan:
        predictor = model.predictor
        _refuse_same_alias(table, model)
        _refuse_clauses(select, ("windows",))
        for join in select.args.get("joins") or []:
            if join.args.get("on") or join.args.get("using"):
                raise NotSupportedError(
                    "JOIN ... ON with a predictor is not supported yet; "
                    "join without ON to match columns by name"
                )
            if join.side or join.kind not in ("", "INNER", "CROSS"):
                raise NotSupportedError(
                    f"{join.side or join.kind} JOIN with a predictor is not "
                    "supported yet"
                )

        source = self._sources.get(table.integration)
        table_columns = await source.table_columns(table.table, table.schema)
        resolver = _Resolver(table, table_columns, model)
        pushed, local_where = _split_where(select, resolver)
        order = _pushable_order(select, resolver)
        local = bool(local_where) or _needs_local_step(select, order)
        if local and not _may_push_limit(select, local_where):
            order = None

        fetched: list[str] = []
        outputs: list[OutputColumn] = []
        joined = _JoinedRows(resolver, fetched)
        if local:
            joined.read(
                select,
                local_where,
                order_and_limit=order is None,
                relations=[
                    (SOURCE_RELATION, table.alias),
                    (MODEL_RELATION, model.alias),
                ],
            )
        else:
            for item in select.expressions:
                outputs.extend(resolver.outputs(item, fetched))
        model_inputs = [
            (name, _fetch_index(fetched, resolver.table_column_for_input(name)))
            for name in predictor.inputs
            if name not in resolver.constants
        ]
        if not fetched:
            # Every input is a constant and the query reads no table column;
            # one column is still fetched, for the rows to score.
            _fetch_index(fetched, table_columns[0][0])
        step = None
        if local:
            outputs = joined.columns()
            step = joined.step(self._settings.max_local_rows)

        fetch = exp.select(*[exp.column(c, table=table.alias) for c in fetched]).from_(
            exp.Table(
                this=exp.to_identifier(table.table),
                db=exp.to_identifier(table.schema) if table.schema else None,
                alias=exp.TableAlias(this=exp.to_identifier(table.alias)),
            )
        )
        if pushed:
            fetch = fetch.where(exp.and_(*pushed))
        if order is not None:
            fetch = _push_order_and_limit(select, fetch, order)
        pushed_sql = quote_identifiers(
            escape_like_backslashes(fetch, source.dialect), source.dialect
        )

        return JoinPlan(
            predictor=predictor,
            source=table.integration,
            fetch_sql=pushed_sql.sql(dialect=source.dialect),
            model_inputs=model_inputs,
            outputs=outputs,
            batch_rows=self._settings.batch_rows,
            calls_in_flight=self._settings.calls_in_flight,
            constant_inputs=dict(resolver.constants),
            local=step,
        )


class _JoinedRows:
    """The joined rows a local step reads, gathered as its query names them.

    Table columns come from the fetched row; model columns (answers, and
    inputs echoed as the model was given them) form the predictions.
    """

    def __init__(self, resolver: _Resolver, fetched: list[str]) -> None:
        self._resolver = resolver
        self._fetched = fetched
        self._model: dict[str, OutputColumn] = {}
        self._aliases: set[str] = set()
        self._sql = ""
        self._names: list[str] = []
        self._probes: list[tuple[str, str]] = []
        self._streaming = False

    def read(
        self,
        select: exp.Select,
        where: list[exp.Expression],
        *,
        order_and_limit: bool,
        relations: list[tuple[str, str]],
    ) -> None:
        """Build the local query over the joined rows, noting what it reads."""
        resolver = self._resolver
        self._aliases = {
            item.alias.lower()
            for item in select.expressions
            if isinstance(item, exp.Alias)
        }
        items = resolver.local_items(select)
        query = local_query(
            select,
            items=items,
            where=where,
            order_and_limit=order_and_limit,
            relations=relations,
            locate=self.locate,
        )
        # The predictions relation needs a column even when nothing reads one.
        target = resolver.model.predictor.target
        self._model_column(target)
        self._sql = duckdb_sql(query)
        self._names = [column_name(item) for item in items]
        self._probes = probes(select, where, relations, self.locate)
        self._streaming = streams(select, order_and_limit)

    def locate(self, column: exp.Column, clause: str) -> exp.Expression | None:
        """The column of the joined rows a reference stands for (None: an alias)."""
        resolver = self._resolver
        bare = not column.table and column.name.lower() in self._aliases
        # As in MySQL, ORDER BY looks among the select aliases first, GROUP BY
        # and HAVING among the tables' columns first.
        if bare and clause == "order":
            return None
        if bare and clause in ("group", "having") and not resolver.knows(column):
            return None

        alias = resolver.table.alias
        if resolver.side(column) == "table":
            real = resolver.table_types[column.name.lower()][0]
            _fetch_index(self._fetched, real)
        else:
            real = resolver.model_columns[column.name.lower()]
            self._model_column(real)
            alias = resolver.model.alias
        return exp.column(exp.to_identifier(real), table=exp.to_identifier(alias))

    def _model_column(self, real: str) -> None:
        if real.lower() in self._model:
            return
        resolver = self._resolver
        predictor = resolver.model.predictor
        if real in resolver.constants:
            value = resolver.constants[real]
            column = OutputColumn(real, constant_type(value), "const", value=value)
        elif real in predictor.inputs:
            source = resolver.table_column_for_input(real)
            kind = resolver.table_types[source.lower()][1]
            column = _row_column(real, kind, _fetch_index(self._fetched, source))
        else:
            column = model_output(real, predictor, real)
        self._model[real.lower()] = column

    def columns(self) -> list[OutputColumn]:
        """The joined row: every fetched column, then the predictions."""
        kinds = self._resolver.table_types
        fetched = [
            _row_column(name, kinds[name.lower()][1], index)
            for index, name in enumerate(self._fetched)
        ]
        return fetched + list(self._model.values())

    def step(self, max_rows: int) -> LocalStep:
        """The local step, once every column it reads is fetched."""
        return LocalStep(
            sql=self._sql,
            names=self._names,
            source_columns=len(self._fetched),
            streaming=self._streaming,
            max_rows=max_rows,
            probes=self._probes,
        )


class _Resolver:
    """Resolves column references of a join to the table or to the predictor."""

    def __init__(
        self,
        table: _SourceTable,
        table_columns: list[tuple[str, SqlType]],
        model: _PredictorRef,
    ):
        self.table = table
        self.model = model
        self.table_types = {name.lower(): (name, kind) for name, kind in table_columns}
        self.model_columns = {c.lower(): c for c in predictor_columns(model.predictor)}
        # Model inputs given as ``p.input = constant`` in the WHERE.
        self.constants: dict[str, Any] = {}

    def side(self, column: exp.Column) -> str:
        """'table' or 'model' for a column reference, or an error naming it."""
        qualifier = column.table.lower()
        name = column.name.lower()
        if qualifier in {self.table.alias.lower(), self.table.table.lower()}:
            if name not in self.table_types:
                raise UnknownColumnError(
                    f"Unknown column '{column.sql('mysql')}' in '{self.table.table}'"
                )
            return "table"
        if qualifier in {self.model.alias.lower(), self.model.predictor.name.lower()}:
            if name not in self.model_columns:
                raise UnknownColumnError(
                    f"Unknown column '{column.sql('mysql')}' in predictor "
                    f"'{self.model.predictor.name}'"
                )
            return "model"
        if qualifier:
            raise UnknownColumnError(f"Unknown column '{column.sql('mysql')}'")
        in_table = name in self.table_types
        in_model = name in self.model_columns and self._is_model_output(name)
        if in_table and in_model:
            raise AmbiguousColumnError(
                f"Column '{column.name}' is ambiguous: it is in table "
                f"'{self.table.table}' and is an output of predictor "
                f"'{self.model.predictor.name}'"
            )
        if in_table:
            return "table"
        if name in self.model_columns:
            return "model"
        raise UnknownColumnError(f"Unknown column '{column.name}' in 'field list'")

    def _is_model_output(self, name: str) -> bool:
        inputs = {c.lower() for c in self.model.predictor.inputs}
        return name not in inputs

    def knows(self, column: exp.Column) -> bool:
        """True when a reference names a table or predictor column."""
        try:
            self.side(column)
        except UnknownColumnError:
            return False
        return True

    def reads_model(self, condition: exp.Expression) -> bool:
        """True when the condition reads a predictor column (a constant does not)."""
        columns = condition.find_all(exp.Column)
        return any(self.side(column) == "model" for column in columns)

    def qualify(self, condition: exp.Expression) -> exp.Expression:
        """Write every column of a table-only condition as the fetch does.

        That is the fetch's alias and the table's own spelling of the name, as
        a source with case-sensitive names needs.
        """
        for column in condition.find_all(exp.Column):
            real = self.table_types[column.name.lower()][0]
            column.set("this", exp.to_identifier(real))
            column.set("table", exp.to_identifier(self.table.alias))
            column.set("db", None)
            column.set("catalog", None)
        return condition

    def outputs(self, item: exp.Expression, fetched: list[str]) -> list[OutputColumn]:
        """The output columns one select-list item stands for."""
        name = item.alias_or_name
        node = item.this if isinstance(item, exp.Alias) else item

        if isinstance(node, exp.Star):
            return self._star("", fetched)
        if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
            return self._star(node.table, fetched)
        if not isinstance(node, exp.Column):
            raise NotSupportedError(
                "expressions over a JOIN with a predictor are not supported yet: "
                f"{item.sql('mysql')}"
            )

        if self.side(node) == "table":
            real, kind = self.table_types[node.name.lower()]
            return [_row_column(name, kind, _fetch_index(fetched, real))]
        real = self.model_columns[node.name.lower()]
        if real in self.constants:
            value = self.constants[real]
            return [OutputColumn(name, constant_type(value), "const", value=value)]
        if real in self.model.predictor.inputs:
            # An input is what was sent: the table's value under that name.
            source_name = self.table_column_for_input(real)
            kind = self.table_types[source_name.lower()][1]
            return [_row_column(name, kind, _fetch_index(fetched, source_name))]
        return [model_output(name, self.model.predictor, real)]

    def take_constant(self, condition: exp.Expression) -> bool:
        """Record ``p.input = constant`` as a model input; False for others."""
        if not isinstance(condition, exp.EQ):
            return False
        column, value = condition.this, condition.expression
        if not isinstance(column, exp.Column):
            column, value = value, column
        if not isinstance(column, exp.Column) or not is_constant(value):
            return False
        if self.side(column) != "model":
            return False
        real = self.model_columns[column.name.lower()]
        if real not in self.model.predictor.inputs:
            return False  # the target or another output: a filter
        if real in self.constants:
            raise NotSupportedError(f"column '{real}' is given twice in the WHERE")
        self.constants[real] = literal_value(value, condition)
        return True

    def local_items(self, select: exp.Select) -> list[exp.Expression]:
        """The select list with stars expanded, each item under its MySQL name."""
        items: list[exp.Expression] = []
        for item in select.expressions:
            node = item.this if isinstance(item, exp.Alias) else item
            if isinstance(node, exp.Star):
                items += self._star_items("")
            elif isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
                items += self._star_items(node.table)
            else:
                items.append(named(item, column_name(item)))
        return items

    def _star_items(self, qualifier: str) -> list[exp.Expression]:
        columns = self._star(qualifier, [])
        alias = {"row": self.table.alias, "model": self.model.alias}
        return [
            named(exp.column(c.name, table=alias[c.origin]), c.name) for c in columns
        ]

    def _star(self, qualifier: str, fetched: list[str]) -> list[OutputColumn]:
        lowered = qualifier.lower()
        columns: list[OutputColumn] = []
        if not qualifier or lowered in {
            self.table.alias.lower(),
            self.table.table.lower(),
        }:
            for real, kind in self.table_types.values():
                columns.append(_row_column(real, kind, _fetch_index(fetched, real)))
        if not qualifier or lowered in {
            self.model.alias.lower(),
            self.model.predictor.name.lower(),
        }:
            target = self.model.predictor.target
            columns.append(model_output(target, self.model.predictor, target))
        if not columns:
            raise UnknownColumnError(f"Unknown table '{qualifier}'")
        return columns

    def table_column_for_input(self, model_input: str) -> str:
        """The table column feeding a model input (same name, any case)."""
        found = self.table_types.get(model_input.lower())
        if found is None:
            raise UnknownColumnError(
                f"predictor '{self.model.predictor.name}' needs input "
                f"'{model_input}', which table '{self.table.table}' does not have"
            )
        return found[0]


def _tables(query: exp.Expression) -> list[exp.Table]:
    """Every table a query reads, in order, leaving out names of its own CTEs."""
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    return [
        table
        for table in query.find_all(exp.Table)
        if table.text("db") or table.name.lower() not in ctes
    ]


def _row_column(name: str, kind: SqlType, index: int) -> OutputColumn:
    return OutputColumn(name, kind, "row", index=index)


def _fetch_index(fetched: list[str], column: str) -> int:
    # Each table column is fetched once, however often the query reads it.
    lowered = [c.lower() for c in fetched]
    if column.lower() in lowered:
        return lowered.index(column.lower())
    fetched.append(column)
    return len(fetched) - 1


def _split_where(
    select: exp.Select, resolver: _Resolver
) -> tuple[list[exp.Expression], list[exp.Expression]]:
    """The conjuncts the source evaluates, and those left for after prediction.

    A conjunct that reads no predictor column is pushed; ``p.input = constant``
    becomes a model input; every other one waits for the predictions.
    """
    pushed: list[exp.Expression] = []
    local: list[exp.Expression] = []
    for condition in _conjuncts(select.args.get("where")):
        if not resolver.reads_model(condition):
            pushed.append(resolver.qualify(condition.copy()))
        elif not resolver.take_constant(condition):
            local.append(condition)
    return pushed, local


def _pushable_order(
    select: exp.Select, resolver: _Resolver
) -> list[exp.Ordered] | None:
    """The ORDER BY keys as the source takes them ([] for none), or None.

    None when a key reads a predictor column, or no column at all
    (``ORDER BY RAND()``), or is the position of a ``*``: only the local step
    can order by those.
    """
    order = select.args.get("order")
    if order is None:
        return []
    keys = []
    for ordered in order.expressions:
        key = _order_key_target(ordered.this, select)
        if key is None or resolver.reads_model(key) or key.find(exp.Column) is None:
            return None
        pushed = ordered.copy()
        pushed.set("this", resolver.qualify(key.copy()))
        keys.append(pushed)
    return keys


def _needs_local_step(select: exp.Select, order: list[exp.Ordered] | None) -> bool:
    """True when the source and the model alone cannot give the result."""
    if order is None or groups(select):
        return True
    return any(not is_plain(item) for item in select.expressions)


def _may_push_limit(select: exp.Select, local_where: list[exp.Expression]) -> bool:
    # A predictor neither adds nor drops rows, so the source may order and cut
    # unless a filter, grouping or aggregate after prediction changes which
    # rows survive.
    return not local_where and not groups(select)


def _push_order_and_limit(
    select: exp.Select, fetch: exp.Select, keys: list[exp.Ordered]
) -> exp.Select:
    if keys:
        fetch.set("order", exp.Order(expressions=keys))
    for clause in ("limit", "offset"):
        value = select.args.get(clause)
        if value is not None:
            fetch.set(clause, value.copy())
    return fetch


def _order_key_target(key: exp.Expression, select: exp.Select) -> exp.Expression | None:
    """What an ORDER BY key names: a select item by position or alias, or itself.

    None for the position of a ``*``, which only the local step can resolve.

    As in MySQL, a bare name is looked up among the select aliases before the
    table's columns, so ``SELECT tb.x AS sqft ... ORDER BY sqft`` orders by the
    prediction; inside an expression, names are columns.
    """
    items = select.expressions
    if key.is_int:
        position = int(key.name)
        if not 1 <= position <= len(items):
            raise UnknownColumnError(f"Unknown column '{position}' in 'order clause'")
        return _item_expression(items[position - 1])
    if isinstance(key, exp.Column) and not key.table:
        for item in items:
            if isinstance(item, exp.Alias) and item.alias.lower() == key.name.lower():
                return _item_expression(item)
    return key


def _item_expression(item: exp.Expression) -> exp.Expression | None:
    node = item.unalias()
    if not isinstance(node, exp.Expression) or node.find(exp.Star) is not None:
        return None
    return node


# How the refusals name a clause, by its key in sqlglot's Select.
_CLAUSES = {
    "group": "GROUP BY",
    "having": "HAVING",
    "order": "ORDER BY",
    "distinct": "DISTINCT",
    "windows": "WINDOW",
}


def _refuse_clauses(select: exp.Select, clauses: tuple[str, ...]) -> None:
    for clause in clauses:
        if select.args.get(clause):
            raise NotSupportedError(
                f"{_CLAUSES[clause]} in a query on a predictor is not supported yet"
            )


# Where a subquery sits, by the key of the Select argument holding it.
_PLACES = {
    "expressions": "the select list",
    "from_": "FROM",
    "joins": "FROM",
    "where": "the WHERE",
    "order": "ORDER BY",
    "with_": "a WITH clause",
}


def _refuse_subqueries(query: exp.Expr) -> None:
    for nested in query.find_all(exp.Query):
        if nested is query:
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


def _direct_tables(query: exp.Expression, tables: list[exp.Table]) -> list[exp.Table]:
    """The tables named in the query's own FROM and JOINs (not its CTEs)."""
    if not isinstance(query, exp.Select):
        return []
    parts = [query.args.get("from_"), *(query.args.get("joins") or [])]
    named = [part.this for part in parts if part is not None]
    return [table for table in tables if any(table is node for node in named)]


def _refuse_same_alias(table: _SourceTable, model: _PredictorRef) -> None:
    # Qualifiers are matched without regard to case, so t and T are one alias.
    if table.alias.lower() == model.alias.lower():
        raise NotUniqueTableError(f"Not unique table/alias: '{model.alias}'")


def _conjuncts(where: exp.Where | None) -> list[exp.Expression]:
    return [] if where is None else conjuncts_of(where.this)
