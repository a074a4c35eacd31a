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

from byom.errors import NotSupportedError
from byom.planning.conditions import conjuncts_of
from byom.planning.local_query import (
    SOURCE_RELATION,
    column_name,
    duckdb_sql,
    local_query,
    named,
    probes,
    streams,
)
from byom.planning.plan import DerivedPlan, LocalStep, Plan, PredictorPlan


def plan_derived(outer: exp.Select, inner: Plan, max_rows: int) -> DerivedPlan:
    """The outer query as a local step over the inner prediction's rows."""
    if not isinstance(inner, PredictorPlan):
        raise NotSupportedError(
            "a query over a subquery on a predictor is supported when the "
            "subquery is one prediction or one join with predictors"
        )
    from_ = outer.args["from_"].this
    alias = from_.alias
    names = _result_names(inner)
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
    query = local_query(
        outer,
        items=items,
        where=conditions,
        order_and_limit=True,
        relations=relations,
        locate=_as_written,
    )
    step = LocalStep(
        sql=duckdb_sql(query),
        names=[column_name(item) for item in items],
        widths=[len(names)],
        streaming=streams(outer, True),
        max_rows=max_rows,
        probes=probes(outer, conditions, relations, _as_written),
    )
    return DerivedPlan(inner, step)


def _result_names(inner: PredictorPlan) -> list[str]:
    if inner.local is not None:
        return list(inner.local.names)
    return [column.name for column in inner.outputs]


def _is_star(node: exp.Expression, alias: str) -> bool:
    if isinstance(node, exp.Star):
        return True
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
        if node.table.lower() != alias.lower():
            raise NotSupportedError(f"Unknown table '{node.table}'")
        return True
    return False


def _as_written(column: exp.Column, clause: str) -> exp.Expression | None:
    # The derived table's columns go by the names the inner query gave them,
    # which DuckDB resolves itself.
    return None
