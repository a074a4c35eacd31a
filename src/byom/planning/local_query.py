"""Rewrites that turn the user's SELECT into the query DuckDB runs after prediction.

Whatever a source cannot evaluate, because it reads a prediction or needs every
row at once, runs over the joined rows: the fetched table columns (relation
``source_rows``) next to the model's answers (relation ``predictions``), joined
by position. The query keeps the user's aliases, so it reads like the original::

    SELECT t.sqft * 2 AS x, p.rooms FROM db.s.homes AS t JOIN mindsdb.p AS p
    WHERE p.rooms > 1

becomes, in DuckDB's dialect::

    SELECT t.sqft * 2 AS x, p.rooms AS rooms
    FROM source_rows AS t POSITIONAL JOIN predictions AS p WHERE p.rooms > 1

Each pass is a pure function from expression to expression.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from byom.planning.source_sql import quote_identifiers

SOURCE_RELATION = "source_rows"
MODEL_RELATION = "predictions"


def model_relation(position: int) -> str:
    """The relation of the predictions of a query's model call number position."""
    return MODEL_RELATION if position == 0 else f"{MODEL_RELATION}_{position + 1}"


# Where a column sits in the query, as the callback that locates it is told.
Clause = str

# The column a reference stands for in the local query, or None to leave the
# bare name to DuckDB, which reads it as a select alias.
Locate = Callable[[exp.Column, Clause], exp.Expression | None]

# Clauses the local query takes from the user's SELECT, by sqlglot's key.
_CLAUSES = ("group", "having", "order")


def local_query(
    select: exp.Select,
    *,
    items: list[exp.Expression],
    where: list[exp.Expression],
    order_and_limit: bool,
    relations: list[tuple[str, str]],
    locate: Locate,
) -> exp.Select:
    """The SELECT to run over the joined rows.

    ``items`` is the select list with stars expanded, each item named as MySQL
    names its column; ``where`` the conditions left after pushdown;
    ``relations`` pairs each relation with its alias in the user's query.
    ORDER BY, LIMIT and OFFSET stay only with ``order_and_limit`` (the source
    did them otherwise). ``SELECT a FROM t JOIN p ORDER BY p.x LIMIT 2`` ->
    ``SELECT t.a AS a FROM source_rows AS t POSITIONAL JOIN predictions AS p
    ORDER BY p.x LIMIT 2``.
    """
    local = exp.Select(
        expressions=[_located(i.copy(), "select", locate) for i in items]
    )
    first, *others = relations
    local.set("from_", exp.From(this=_relation(*first)))
    if others:
        local.set(
            "joins",
            [exp.Join(this=_relation(*other), method="POSITIONAL") for other in others],
        )
    if where:
        condition = exp.and_(*[_located(c.copy(), "where", locate) for c in where])
        local.set("where", exp.Where(this=condition))

    for clause in _CLAUSES:
        node = select.args.get(clause)
        if node is not None and (clause != "order" or order_and_limit):
            local.set(clause, _located(node.copy(), clause, locate))
    if select.args.get("distinct"):
        local.set("distinct", select.args["distinct"].copy())
    if order_and_limit:
        for clause in ("limit", "offset"):
            if select.args.get(clause) is not None:
                local.set(clause, select.args[clause].copy())
    return local


def like_as_in_mysql(query: exp.Expression) -> exp.Expression:
    """Give LIKE MySQL's backslash escape in DuckDB, which has none by default.

    ``p.label LIKE 'a\\_b'`` -> ``p.label LIKE 'a\\_b' ESCAPE '\\'``. Case is
    ignored by the connection's collation, as MySQL's default collations do.
    """

    def escape(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Like | exp.ILike) or isinstance(
            node.parent, exp.Escape
        ):
            return node
        return exp.Escape(this=node, expression=exp.Literal.string("\\"))

    return query.transform(escape)


def named(item: exp.Expression, name: str) -> exp.Expression:
    """A select item under the column name MySQL gives it (``t.sqft`` -> ``sqft``)."""
    node = item.this if isinstance(item, exp.Alias) else item
    return exp.Alias(this=node.copy(), alias=exp.to_identifier(name))


def column_name(item: exp.Expression) -> str:
    """The name MySQL gives a select item's column: its alias, name or text."""
    if isinstance(item, exp.Alias):
        return item.alias
    if isinstance(item, exp.Column):
        return item.name
    return item.sql("mysql")


def _relation(name: str, alias: str) -> exp.Table:
    return exp.Table(
        this=exp.to_identifier(name),
        alias=exp.TableAlias(this=exp.to_identifier(alias)),
    )


def _located(node: exp.Expression, clause: Clause, locate: Locate) -> exp.Expression:
    def replace(found: exp.Expression) -> exp.Expression:
        if not isinstance(found, exp.Column) or isinstance(found.this, exp.Star):
            return found
        located = locate(found, clause)
        return found if located is None else located

    return node.transform(replace)


def groups(select: exp.Select) -> bool:
    """True when rows are grouped, de-duplicated, aggregated or windowed."""
    if any(select.args.get(c) for c in ("group", "having", "distinct")):
        return True
    parts = [*select.expressions, select.args.get("order")]
    return any(
        part is not None and part.find(exp.AggFunc, exp.Window) is not None
        for part in parts
    )


def is_plain(item: exp.Expression) -> bool:
    """True for a select item that is a column or a star, aliased or not."""
    node = item.this if isinstance(item, exp.Alias) else item
    return isinstance(node, exp.Column | exp.Star)


def streams(select: exp.Select, order_and_limit: bool) -> bool:
    """True when the local step may run on each batch alone, keeping its order."""
    cuts = any(select.args.get(c) is not None for c in ("order", "limit", "offset"))
    return not groups(select) and not (order_and_limit and cuts)


def duckdb_sql(query: exp.Expression) -> str:
    """The local query as DuckDB's text, with MySQL's LIKE and quoted keywords."""
    return quote_identifiers(like_as_in_mysql(query), "duckdb").sql(dialect="duckdb")


def probes(
    select: exp.Select,
    where: list[exp.Expression],
    relations: list[tuple[str, str]],
    locate: Locate,
) -> list[tuple[str, str]]:
    """Each select expression and local condition alone, as (MySQL, DuckDB) text.

    When DuckDB rejects the whole query, the first probe it also rejects names
    the culprit in the user's own words.
    """
    parts: list[tuple[str, list[exp.Expression], list[exp.Expression]]] = [
        (i.sql("mysql"), [i], []) for i in select.expressions if not is_plain(i)
    ]
    parts += [(c.sql("mysql"), [exp.Literal.number(1)], [c]) for c in where]
    found = []
    for text, items, conditions in parts:
        query = local_query(
            exp.Select(),
            items=items,
            where=conditions,
            order_and_limit=False,
            relations=relations,
            locate=lambda column, _: locate(column, "where"),
        )
        found.append((text, duckdb_sql(query)))
    return found
