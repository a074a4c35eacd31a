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
from decimal import Decimal
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
from byom.planning.plan import (
    CatalogPlan,
    JoinPlan,
    OutputColumn,
    PassthroughPlan,
    Plan,
    PredictorPlan,
    SinglePredictPlan,
)
from byom.planning.predictor_columns import output_type, predictor_columns
from byom.planning.source_sql import escape_like_backslashes, quote_identifiers
from byom.settings import Settings
from byom.sources.registry import Sources
from byom.types import SqlType, from_value

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
            return _plan_single(query, predictors[0])
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
        _refuse_clauses(select, ("group", "having", "distinct", "windows"))
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

        pushed: list[exp.Expression] = []
        for condition in _conjuncts(select.args.get("where")):
            if resolver.reads_model(condition):
                raise NotSupportedError(
                    "a WHERE condition on predictor columns in a JOIN is not "
                    f"supported yet: {condition.sql('mysql')}"
                )
            pushed.append(resolver.qualify(condition.copy()))

        fetched: list[str] = []
        outputs: list[OutputColumn] = []
        for item in select.expressions:
            outputs.extend(resolver.outputs(item, fetched))
        model_inputs = [
            (name, _fetch_index(fetched, resolver.table_column_for_input(name)))
            for name in predictor.inputs
        ]

        fetch = exp.select(*[exp.column(c, table=table.alias) for c in fetched]).from_(
            exp.Table(
                this=exp.to_identifier(table.table),
                db=exp.to_identifier(table.schema) if table.schema else None,
                alias=exp.TableAlias(this=exp.to_identifier(table.alias)),
            )
        )
        if pushed:
            fetch = fetch.where(exp.and_(*pushed))
        fetch = _push_order_and_limit(select, fetch, resolver)
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
        if real in self.model.predictor.inputs:
            # An input is what was sent: the table's value under that name.
            source_name = self.table_column_for_input(real)
            kind = self.table_types[source_name.lower()][1]
            return [_row_column(name, kind, _fetch_index(fetched, source_name))]
        return [_model_column(name, self.model.predictor, real)]

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
            columns.append(_model_column(target, self.model.predictor, target))
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


def _plan_single(select: exp.Select, model: _PredictorRef) -> SinglePredictPlan:
    predictor = model.predictor
    _refuse_clauses(select, ("group", "having", "order", "distinct", "windows"))
    where = select.args.get("where")
    if where is None:
        raise NotSupportedError(
            f"a query on predictor '{predictor.name}' needs a WHERE clause giving "
            "its inputs, e.g. WHERE col = 1 AND other = 'x'"
        )

    empty = _is_false(where.this)
    given = {} if empty else _equalities(where.this, predictor)
    inputs = {name: given.get(name) for name in predictor.inputs}
    outputs: list[OutputColumn] = []
    star = False
    for item in select.expressions:
        node = item.this if isinstance(item, exp.Alias) else item
        if isinstance(node, exp.Star) or (
            isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
        ):
            star = True
            outputs.extend(
                _single_column(column, predictor, given)
                for column in predictor.dtype_dict
            )
            continue
        if not isinstance(node, exp.Column):
            raise NotSupportedError(
                f"expressions over predictor '{predictor.name}' are not supported "
                f"yet: {item.sql('mysql')}"
            )
        real = _predictor_column(predictor, node.name)
        column = _single_column(real, predictor, given)
        outputs.append(_renamed(column, item.alias_or_name))

    empty = empty or _skips_the_one_row(select)
    return SinglePredictPlan(predictor, inputs, outputs, star=star, empty=empty)


def _single_column(
    column: str, predictor: Predictor, given: dict[str, Any]
) -> OutputColumn:
    if column in predictor.inputs:
        value = given.get(column)
        kind = (
            from_value(value) if value is not None else output_type(predictor, column)
        )
        return OutputColumn(column, kind, "const", value=value)
    return _model_column(column, predictor, column)


def _equalities(condition: exp.Expression, predictor: Predictor) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for part in _conjuncts_of(condition):
        if not isinstance(part, exp.EQ):
            raise NotSupportedError(
                f"the WHERE of a query on predictor '{predictor.name}' may only "
                f"join 'column = value' with AND; got: {part.sql('mysql')}"
            )
        column, literal = part.this, part.expression
        if not isinstance(column, exp.Column):
            column, literal = literal, column
        if not isinstance(column, exp.Column):
            raise NotSupportedError(
                f"expected 'column = value' in the WHERE, got: {part.sql('mysql')}"
            )
        real = _predictor_column(predictor, column.name)
        if real == predictor.target:
            raise NotSupportedError(
                f"'{real}' is what predictor '{predictor.name}' predicts; "
                "it cannot be given as an input"
            )
        if real not in predictor.inputs:
            raise NotSupportedError(
                f"'{real}' is an output of predictor '{predictor.name}', not an "
                "input; a WHERE condition on it is not supported yet"
            )
        if real in given:
            raise NotSupportedError(f"column '{real}' is given twice in the WHERE")
        given[real] = _literal(literal, part)
    return given


def _literal(node: exp.Expression, context: exp.Expression) -> Any:
    if isinstance(node, exp.Neg):
        return _negated(_literal(node.this, context), context)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        try:
            return int(node.this)
        except ValueError:
            return float(node.this)
    raise NotSupportedError(
        f"expected a constant value in the WHERE, got: {context.sql('mysql')}"
    )


def _negated(value: Any, context: exp.Expression) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return -int(value)  # MySQL: -TRUE is the integer -1
    if isinstance(value, int | float):
        return -value
    # MySQL would read the string as a number first, with its own rules for
    # text that is not one; the user can write the number instead.
    raise NotSupportedError(
        "a minus sign before a string is not supported in the WHERE; write the "
        f"number without quotes: {context.sql('mysql')}"
    )


def _predictor_column(predictor: Predictor, name: str) -> str:
    for column in predictor_columns(predictor):
        if column.lower() == name.lower():
            return column
    raise UnknownColumnError(
        f"Unknown column '{name}' in predictor '{predictor.name}' "
        f"(columns: {', '.join(predictor.dtype_dict)})"
    )


def _model_column(name: str, predictor: Predictor, key: str) -> OutputColumn:
    return OutputColumn(name, output_type(predictor, key), "model", key=key)


def _row_column(name: str, kind: SqlType, index: int) -> OutputColumn:
    return OutputColumn(name, kind, "row", index=index)


def _renamed(column: OutputColumn, name: str) -> OutputColumn:
    return OutputColumn(
        name, column.sql_type, column.origin, column.index, column.key, column.value
    )


def _fetch_index(fetched: list[str], column: str) -> int:
    # Each table column is fetched once, however often the query reads it.
    lowered = [c.lower() for c in fetched]
    if column.lower() in lowered:
        return lowered.index(column.lower())
    fetched.append(column)
    return len(fetched) - 1


def _push_order_and_limit(
    select: exp.Select, fetch: exp.Select, resolver: _Resolver
) -> exp.Select:
    # Every WHERE condition was pushed (others are refused above), and a
    # predictor neither adds nor drops rows, so the source may order and cut.
    order = select.args.get("order")
    if order is not None:
        keys = [_pushed_order_key(o, select, resolver) for o in order.expressions]
        fetch.set("order", exp.Order(expressions=keys))
    for clause in ("limit", "offset"):
        value = select.args.get(clause)
        if value is not None:
            fetch.set(clause, value.copy())
    return fetch


def _pushed_order_key(
    ordered: exp.Ordered, select: exp.Select, resolver: _Resolver
) -> exp.Ordered:
    key = _order_key_target(ordered.this, select)
    if resolver.reads_model(key):
        raise NotSupportedError(
            "ORDER BY a predictor column in a JOIN is not supported yet"
        )
    if key.find(exp.Column) is None:
        raise NotSupportedError(
            "ORDER BY an expression that reads no table column is not supported "
            f"in a JOIN yet: {ordered.this.sql('mysql')}"
        )

    pushed = ordered.copy()
    pushed.set("this", resolver.qualify(key.copy()))
    return pushed


def _order_key_target(key: exp.Expression, select: exp.Select) -> exp.Expression:
    """What an ORDER BY key names: a select item by position or alias, or itself.

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


def _item_expression(item: exp.Expression) -> exp.Expression:
    node = item.unalias()
    if not isinstance(node, exp.Expression) or node.find(exp.Star) is not None:
        raise NotSupportedError(
            "ORDER BY the position of a * in the select list is not supported in "
            "a JOIN yet; name the column"
        )
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
    return [] if where is None else _conjuncts_of(where.this)


def _conjuncts_of(condition: exp.Expression) -> list[exp.Expression]:
    if isinstance(condition, exp.Paren):
        return _conjuncts_of(condition.this)
    if isinstance(condition, exp.And):
        return _conjuncts_of(condition.this) + _conjuncts_of(condition.expression)
    return [condition]


def _is_false(condition: exp.Expression) -> bool:
    # Clients probe a table's columns with WHERE 1 = 0 (or FALSE). Numbers are
    # compared by value, as MySQL does (1 = 1.0 is true); other constants are
    # left to the refusal of conditions that give no input.
    if isinstance(condition, exp.Boolean):
        return not condition.this
    if isinstance(condition, exp.EQ):
        left, right = _number(condition.this), _number(condition.expression)
        return left is not None and right is not None and left != right
    return False


def _number(node: exp.Expression) -> Decimal | None:
    """The exact value of a numeric constant (TRUE is 1), or None for others."""
    if isinstance(node, exp.Neg):
        value = _number(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Boolean):
        return Decimal(int(bool(node.this)))
    if isinstance(node, exp.Literal) and node.is_number:
        return Decimal(node.this)
    return None


def _skips_the_one_row(select: exp.Select) -> bool:
    # A single prediction is one row: LIMIT 0 or any OFFSET leaves none of it.
    limit, offset = _row_count(select, "limit"), _row_count(select, "offset")
    return limit == 0 or (offset is not None and offset > 0)


def _row_count(select: exp.Select, clause: str) -> int | None:
    node = select.args.get(clause)
    if node is None:
        return None
    value = node.expression
    if not value.is_int:
        raise NotSupportedError(
            f"{clause.upper()} must be a whole number, got: {value.sql('mysql')}"
        )
    return int(value.name)
