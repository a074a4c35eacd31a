"""Planning ``SELECT ... FROM predictor WHERE input = constant AND ...``: one row.

The WHERE's ``input = constant`` conjuncts form the one row sent to the model.
Conditions on the target or other outputs filter the answer, and expressions,
ORDER BY, GROUP BY, DISTINCT and aggregates shape it, in a local step run by
DuckDB over that one predicted row::

    SELECT number_of_rooms * 2 AS x FROM p
    WHERE initial_price = 3000 AND number_of_rooms > 1

scores ``{initial_price: 3000}``, then runs
``SELECT p.number_of_rooms * 2 AS x FROM predictions AS p
WHERE p.number_of_rooms > 1``.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from byom.catalog.records import Predictor
from byom.errors import NotSupportedError, UnknownColumnError
from byom.planning.conditions import conjuncts_of, is_false, literal_value
from byom.planning.local_query import (
    MODEL_RELATION,
    column_name,
    duckdb_sql,
    groups,
    is_plain,
    local_query,
    named,
    probes,
    streams,
)
from byom.planning.plan import LocalStep, OutputColumn, SinglePredictPlan
from byom.planning.predictor_columns import model_output, output_type
from byom.planning.predictor_columns import predictor_columns as all_columns
from byom.types import from_value


def plan_single(
    select: exp.Select, predictor: Predictor, alias: str, max_local_rows: int
) -> SinglePredictPlan:
    """The plan for a single-row prediction from predictor (``alias`` in FROM)."""
    if select.args.get("windows"):
        raise NotSupportedError("WINDOW in a query on a predictor is not supported yet")
    where = select.args.get("where")
    if where is None:
        raise NotSupportedError(
            f"a query on predictor '{predictor.name}' needs a WHERE clause giving "
            "its inputs, e.g. WHERE col = 1 AND other = 'x'"
        )

    empty = is_false(where.this)
    given, filters = ({}, []) if empty else _split_where(where.this, predictor)
    inputs = {name: given.get(name) for name in predictor.inputs}
    empty = empty or _skips_the_one_row(select)
    local = bool(filters) or groups(select) or select.args.get("order") is not None
    if local or not all(is_plain(item) for item in select.expressions):
        step = _local_step(select, predictor, alias, filters, max_local_rows)
        outputs = [_single_column(c, predictor, given) for c in all_columns(predictor)]
        return SinglePredictPlan(predictor, inputs, outputs, empty=empty, local=step)

    outputs = []
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
        real = predictor_column(predictor, node.name)
        column = _single_column(real, predictor, given)
        outputs.append(_renamed(column, item.alias_or_name))
    return SinglePredictPlan(predictor, inputs, outputs, star=star, empty=empty)


def predictor_column(predictor: Predictor, name: str) -> str:
    """The predictor's own spelling of a column name, or an error listing them."""
    for column in all_columns(predictor):
        if column.lower() == name.lower():
            return column
    raise UnknownColumnError(
        f"Unknown column '{name}' in predictor '{predictor.name}' "
        f"(columns: {', '.join(predictor.dtype_dict)})"
    )


def _local_step(
    select: exp.Select,
    predictor: Predictor,
    alias: str,
    filters: list[exp.Expression],
    max_rows: int,
) -> LocalStep:
    aliases = {i.alias.lower() for i in select.expressions if isinstance(i, exp.Alias)}

    def locate(column: exp.Column, clause: str) -> exp.Expression | None:
        bare = not column.table and column.name.lower() in aliases
        if bare and clause == "order":
            return None  # as in MySQL, ORDER BY reads select aliases first
        known = column.name.lower() in {c.lower() for c in all_columns(predictor)}
        if bare and clause in ("group", "having") and not known:
            return None
        if column.table.lower() not in {"", alias.lower(), predictor.name.lower()}:
            raise UnknownColumnError(f"Unknown column '{column.sql('mysql')}'")
        real = predictor_column(predictor, column.name)
        return exp.column(exp.to_identifier(real), table=exp.to_identifier(alias))

    items: list[exp.Expression] = []
    for item in select.expressions:
        node = item.this if isinstance(item, exp.Alias) else item
        if isinstance(node, exp.Star) or (
            isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
        ):
            items += [
                named(exp.column(c, table=alias), c) for c in predictor.dtype_dict
            ]
        else:
            items.append(named(item, column_name(item)))
    relations = [(MODEL_RELATION, alias)]
    query = local_query(
        select,
        items=items,
        where=filters,
        order_and_limit=True,
        relations=relations,
        locate=locate,
    )
    return LocalStep(
        sql=duckdb_sql(query),
        names=[column_name(item) for item in items],
        widths=[0, len(all_columns(predictor))],
        streaming=streams(select, True),
        max_rows=max_rows,
        probes=probes(select, filters, relations, locate),
    )


def _split_where(
    condition: exp.Expression, predictor: Predictor
) -> tuple[dict[str, Any], list[exp.Expression]]:
    """The inputs the WHERE gives, and the conditions that filter the answer."""
    given: dict[str, Any] = {}
    filters: list[exp.Expression] = []
    for part in conjuncts_of(condition):
        reads = [predictor_column(predictor, c.name) for c in part.find_all(exp.Column)]
        if reads and not any(real in predictor.inputs for real in reads):
            filters.append(part)  # only outputs: a filter on the answer
            continue
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
        real = predictor_column(predictor, column.name)
        if real not in predictor.inputs:
            raise NotSupportedError(
                f"expected 'input = value' in the WHERE, got: {part.sql('mysql')}"
            )
        if real in given:
            raise NotSupportedError(f"column '{real}' is given twice in the WHERE")
        given[real] = literal_value(literal, part)
    return given, filters


def _single_column(
    column: str, predictor: Predictor, given: dict[str, Any]
) -> OutputColumn:
    if column in predictor.inputs:
        value = given.get(column)
        kind = (
            from_value(value) if value is not None else output_type(predictor, column)
        )
        return OutputColumn(column, kind, "const", value=value)
    return model_output(column, predictor, column)


def _renamed(column: OutputColumn, name: str) -> OutputColumn:
    return OutputColumn(
        name, column.sql_type, column.origin, column.index, column.key, column.value
    )


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
