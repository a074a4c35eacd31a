"""A query over a prediction used as a derived table, as BI tools wrap queries.

Superset, Metabase and others run the user's query as a subquery of their own::

    SELECT width, count(*) AS count
    FROM (SELECT * FROM db.fish JOIN mindsdb.m) AS virtual_table
    GROUP BY width ORDER BY count DESC

The inner query is planned as any prediction; the outer one runs in DuckDB over
its result, which it reads as the relation ``source_rows`` under the query's
own alias::

    SELECT width, count(*) AS count FROM source_rows AS virtual_table
    GROUP BY width ORDER BY count DESC
"""

from __future__ import annotations

from sqlglot import exp

from byom.errors import DerivedAliasError, DuplicateColumnError, NotSupportedError
from byom.planning.conditions import conjuncts_of
from byom.planning.local_query import (
    SOURCE_RELATION,
    Locate,
    column_name,
    duckdb_sql,
    local_query,
    named,
    probes,
    streams,
)
from byom.planning.plan import (
    DerivedPlan,
    LocalStep,
    Plan,
    PredictorPlan,
)


def plan_derived(outer: exp.Select, inner: Plan, max_rows: int) -> DerivedPlan:
    """The outer query as a local step over the inner prediction's rows."""
    if not isinstance(inner, PredictorPlan | DerivedPlan):
        raise NotSupportedError(
            "a query over a subquery on a predictor is supported when the "
            "subquery is one prediction or one join with predictors"
        )
    alias = outer.args["from_"].this.alias
    if not alias:
        raise DerivedAliasError("Every derived table must have its own alias")
    names = _result_names(inner)
    # As in MySQL: a derived table's columns need names of their own, or a
    # reference to one of them would read whichever came first.
    refuse_duplicate_names(names)
    items: list[exp.Expression] = []
    for item in outer.expressions:
        node = item.this if isinstance(item, exp.Alias) else item
        if _is_star(node, alias):
            items += [named(exp.column(n, table=alias), n) for n in names]
        else:
            items.append(named(item, column_name(item)))

    where = outer.args.get("where")
    conditions = [] if where is None else conjuncts_of(where.this)
    relations = [(SOURCE_RELATION, alias)]
    locate = _locator(outer, alias, names)
    query = local_query(
        outer,
        items=items,
        where=conditions,
        order_and_limit=True,
        relations=relations,
        locate=locate,
    )
    step = LocalStep(
        sql=duckdb_sql(query),
        names=[column_name(item) for item in items],
        widths=[len(names)],
        streaming=streams(outer, True),
        max_rows=max_rows,
        probes=probes(outer, conditions, relations, locate),
    )
    return DerivedPlan(inner, step)


def refuse_duplicate_names(names: list[str]) -> None:
    """1060 for a name that two columns share (in any case), as MySQL answers."""
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise DuplicateColumnError(f"Duplicate column name '{name}'")
        seen.add(name.lower())


def limit_to_push(outer: exp.Select) -> int | None:
    """The rows an outer query that only projects and cuts needs from its FROM.

    ``SELECT * FROM (...) AS v LIMIT 3 OFFSET 2`` needs 5; None when the outer
    query filters, groups, orders or de-duplicates, which need every row.
    """
    limit = outer.args.get("limit")
    if limit is None or any(
        outer.args.get(c) for c in ("where", "group", "having", "order", "distinct")
    ):
        return None
    if any(item.find(exp.AggFunc, exp.Window) for item in outer.expressions):
        return None
    offset = outer.args.get("offset")
    values = [node.expression for node in (limit, offset) if node is not None]
    if not all(value.is_int for value in values):
        return None
    return sum(int(value.name) for value in values)


def _result_names(inner: PredictorPlan | DerivedPlan) -> list[str]:
    if inner.local is not None:
        return list(inner.local.names)
    assert not isinstance(inner, DerivedPlan)
    return [column.name for column in inner.outputs]


def _is_star(node: exp.Expression, alias: str) -> bool:
    if isinstance(node, exp.Star):
        return True
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
        if node.table.lower() != alias.lower():
            raise NotSupportedError(f"Unknown table '{node.table}'")
        return True
    return False


def _locator(outer: exp.Select, alias: str, names: list[str]) -> Locate:
    """Bare names as columns of the derived table, unless they are select aliases.

    Qualified, a name the table lacks is DuckDB's "not found" (1054), where bare
    it could be read as the select alias it defines. As in MySQL, ORDER BY reads
    select aliases first, GROUP BY and HAVING the table's columns first.
    """
    aliases = {i.alias.lower() for i in outer.expressions if isinstance(i, exp.Alias)}
    known = {name.lower() for name in names}

    def locate(column: exp.Column, clause: str) -> exp.Expression | None:
        if column.table:
            return None
        name = column.name.lower()
        if name in aliases and (
            clause == "order" or (clause in ("group", "having") and name not in known)
        ):
            return None
        return exp.column(
            exp.to_identifier(column.name), table=exp.to_identifier(alias)
        )

    return locate
