"""Planning ``table JOIN predictor [JOIN predictor ...]``: what each side gives.

One relation reads rows (a source table, or a derived table that is a subquery
over one integration); every predictor joined to it scores each of those rows,
so a predictor neither adds nor drops rows and any join kind (inner, cross,
left, right) gives the same result. Each WHERE conjunct that reads only the
table goes into the source's own query, transpiled to its dialect by sqlglot,
with the projection (only the columns the query and the models need) and ORDER
BY / LIMIT when every filter was pushed, so the models score only the rows that
survive. ``ON t.a = p.b`` feeds table column ``a`` to input ``b``; ``p.b = 5``
in the ON or the WHERE gives that input a constant.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from byom.backends.call_options import CallOptions
from byom.catalog.records import Predictor
from byom.errors import (
    AmbiguousColumnError,
    NotSupportedError,
    NotUniqueTableError,
    UnknownColumnError,
)
from byom.planning.conditions import (
    conjuncts_of,
    constant_type,
    is_constant,
    literal_value,
)
from byom.planning.local_query import (
    SOURCE_RELATION,
    column_name,
    duckdb_sql,
    groups,
    is_plain,
    local_query,
    model_relation,
    named,
    probes,
    streams,
)
from byom.planning.plan import JoinPlan, LocalStep, ModelCall, OutputColumn
from byom.planning.predictor_columns import model_output, predictor_columns
from byom.planning.source_sql import escape_like_backslashes, quote_identifiers
from byom.types import SqlType

# What side() answers for a column of the table; a predictor is its position.
TABLE = -1


@dataclass(frozen=True)
class SourceTable:
    """A table of an integration, as the query names it."""

    integration: str
    schema: str | None
    table: str
    alias: str


@dataclass(frozen=True)
class DerivedTable:
    """``(SELECT ...) AS alias`` over one integration's tables.

    ``query`` is the subquery with the integration's name taken out of every
    table, ready to be transpiled to the source's dialect.
    """

    integration: str
    query: exp.Query
    alias: str


@dataclass(frozen=True)
class PredictorRef:
    """A predictor as the query names it."""

    predictor: Predictor
    alias: str


Left = SourceTable | DerivedTable


@dataclass(frozen=True)
class JoinShape:
    """What the planner found in a join: the rows, the predictors, the order."""

    left: Left
    models: list[PredictorRef]
    # FROM order: TABLE for the left relation, else the predictor's position.
    order: list[int]


def plan_join(
    select: exp.Select,
    shape: JoinShape,
    table_columns: list[tuple[str, SqlType]],
    dialect: str,
    limits: list[CallOptions],
    max_local_rows: int,
) -> JoinPlan:
    """The plan of a join, given the columns the left relation has.

    ``limits`` are each predictor's, in order: a call of each carries its own
    rows and bytes; one fetch feeds them all, in batches of the largest call,
    and the fewest calls in flight any of them allows bound the query.
    """
    _refuse_same_alias(shape)
    _refuse_clauses(select)
    resolver = _Resolver(shape, table_columns)
    for join in select.args.get("joins") or []:
        _check_join_kind(join)
        resolver.take_on(join)

    pushed, local_where = _split_where(select, resolver)
    order = _pushable_order(select, resolver)
    local = bool(local_where) or _needs_local_step(select, order)
    if local and not _may_push_limit(select, local_where):
        order = None

    fetched: list[str] = []
    outputs: list[OutputColumn] = []
    joined = _JoinedRows(resolver, fetched)
    if local:
        joined.read(select, local_where, order_and_limit=order is None)
    else:
        for item in select.expressions:
            outputs.extend(resolver.outputs(item, fetched))
    calls = [
        resolver.call(model, fetched, limit)
        for model, limit in zip(resolver.models, limits, strict=True)
    ]
    if not fetched:
        # Every input is a constant and the query reads no table column;
        # one column is still fetched, for the rows to score.
        _fetch_index(fetched, table_columns[0][0])
    step = None
    if local:
        outputs = joined.columns()
        step = joined.step(max_local_rows)

    fetch = _fetch_query(shape.left, fetched, pushed)
    if order is not None:
        fetch = _push_order_and_limit(select, fetch, order)
    fetch_sql = quote_identifiers(escape_like_backslashes(fetch, dialect), dialect)
    return JoinPlan(
        models=calls,
        source=shape.left.integration,
        fetch_sql=fetch_sql.sql(dialect=dialect),
        outputs=outputs,
        batch_rows=max(limit.batch_rows for limit in limits),
        calls_in_flight=min(limit.calls_in_flight for limit in limits),
        local=step,
        table_alias=shape.left.alias,
    )


def _fetch_query(
    left: Left, fetched: list[str], pushed: list[exp.Expression]
) -> exp.Select:
    columns = [exp.column(c, table=left.alias) for c in fetched]
    alias = exp.TableAlias(this=exp.to_identifier(left.alias))
    source: exp.Expression
    if isinstance(left, SourceTable):
        source = exp.Table(
            this=exp.to_identifier(left.table),
            db=exp.to_identifier(left.schema) if left.schema else None,
            alias=alias,
        )
    else:
        source = exp.Subquery(this=left.query.copy(), alias=alias)
    fetch = exp.select(*columns).from_(source)
    return fetch.where(exp.and_(*pushed)) if pushed else fetch


class _Model:
    """One predictor of the join: its columns and where each input comes from."""

    def __init__(self, ref: PredictorRef, position: int) -> None:
        self.ref = ref
        self.position = position
        self.predictor = ref.predictor
        self.alias = ref.alias
        self.columns = {c.lower(): c for c in predictor_columns(ref.predictor)}
        self.inputs = {c.lower() for c in ref.predictor.inputs}
        # Inputs given as ``p.input = constant``, and inputs mapped by ON.
        self.constants: dict[str, Any] = {}
        self.mapped: dict[str, str] = {}

    def named_by(self, qualifier: str) -> bool:
        return qualifier in {self.alias.lower(), self.predictor.name.lower()}

    def is_output(self, name: str) -> bool:
        return name in self.columns and name not in self.inputs


class _Resolver:
    """Resolves column references of a join to the table or to a predictor."""

    def __init__(self, shape: JoinShape, table_columns: list[tuple[str, SqlType]]):
        self.left = shape.left
        self.order = shape.order
        self.models = [_Model(ref, i) for i, ref in enumerate(shape.models)]
        self.table_types = {name.lower(): (name, kind) for name, kind in table_columns}

    @property
    def table_name(self) -> str:
        left = self.left
        return left.table if isinstance(left, SourceTable) else left.alias

    def _names_table(self, qualifier: str) -> bool:
        names = {self.left.alias.lower()}
        if isinstance(self.left, SourceTable):
            names.add(self.left.table.lower())
        return qualifier in names

    def side(self, column: exp.Column) -> int:
        """TABLE or the predictor's position for a reference, or an error naming it."""
        qualifier = column.table.lower()
        name = column.name.lower()
        if qualifier and self._names_table(qualifier):
            if name not in self.table_types:
                raise UnknownColumnError(
                    f"Unknown column '{column.sql('mysql')}' in '{self.table_name}'"
                )
            return TABLE
        for model in self.models:
            if qualifier and model.named_by(qualifier):
                if name not in model.columns:
                    raise UnknownColumnError(
                        f"Unknown column '{column.sql('mysql')}' in predictor "
                        f"'{model.predictor.name}'"
                    )
                return model.position
        if qualifier:
            raise UnknownColumnError(f"Unknown column '{column.sql('mysql')}'")
        return self._unqualified(column)

    def _unqualified(self, column: exp.Column) -> int:
        # A table column or a model output, when only one side has the name; an
        # echoed input only when the table does not have it (ON or a constant).
        name = column.name.lower()
        in_table = name in self.table_types
        outputs = [m for m in self.models if m.is_output(name)]
        if in_table and outputs:
            raise AmbiguousColumnError(
                f"Column '{column.name}' is ambiguous: it is in table "
                f"'{self.table_name}' and is an output of predictor "
                f"'{outputs[0].predictor.name}'"
            )
        if len(outputs) > 1:
            raise AmbiguousColumnError(
                f"Column '{column.name}' is ambiguous: it is an output of "
                f"predictors '{outputs[0].predictor.name}' and "
                f"'{outputs[1].predictor.name}'"
            )
        if in_table:
            return TABLE
        if outputs:
            return outputs[0].position
        echoing = [m for m in self.models if name in m.columns]
        if len(echoing) > 1:
            raise AmbiguousColumnError(
                f"Column '{column.name}' is ambiguous: it is an input of predictors "
                f"'{echoing[0].predictor.name}' and '{echoing[1].predictor.name}'"
            )
        if echoing:
            return echoing[0].position
        raise UnknownColumnError(f"Unknown column '{column.name}' in 'field list'")

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
        return any(self.side(column) != TABLE for column in columns)

    def qualify(self, condition: exp.Expression) -> exp.Expression:
        """Write every column of a table-only condition as the fetch does.

        That is the fetch's alias and the table's own spelling of the name, as
        a source with case-sensitive names needs.
        """
        for column in condition.find_all(exp.Column):
            real = self.table_types[column.name.lower()][0]
            column.set("this", exp.to_identifier(real))
            column.set("table", exp.to_identifier(self.left.alias))
            column.set("db", None)
            column.set("catalog", None)
        return condition

    def model_column(self, column: exp.Column) -> tuple[_Model, str]:
        """The predictor and its own spelling of a column that side() put there."""
        model = self.models[self.side(column)]
        return model, model.columns[column.name.lower()]

    def take_on(self, join: exp.Join) -> None:
        """Read a join's ON: table columns mapped to inputs, and constant inputs."""
        condition = join.args.get("on")
        if condition is None:
            return
        for part in conjuncts_of(condition):
            if not (self._take_mapping(part) or self.take_constant(part)):
                raise NotSupportedError(
                    "the ON of a join with a predictor may only map a table column "
                    "to a model input (t.a = p.b) or give an input a constant "
                    f"(p.b = 1); got: {part.sql('mysql')}"
                )

    def _take_mapping(self, condition: exp.Expression) -> bool:
        if not isinstance(condition, exp.EQ):
            return False
        left, right = condition.this, condition.expression
        if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
            return False
        if self.side(left) != TABLE:
            left, right = right, left
        if self.side(left) != TABLE or self.side(right) == TABLE:
            return False
        model, real = self.model_column(right)
        if real.lower() not in model.inputs:
            raise NotSupportedError(
                f"the ON of a join may map a table column to an input of predictor "
                f"'{model.predictor.name}', and '{real}' is one of its outputs: "
                f"{condition.sql('mysql')}"
            )
        if real in model.mapped or real in model.constants:
            raise NotSupportedError(f"input '{real}' is given twice in the query")
        model.mapped[real] = self.table_types[left.name.lower()][0]
        return True

    def take_constant(self, condition: exp.Expression) -> bool:
        """Record ``p.input = constant`` as a model input; False for others."""
        if not isinstance(condition, exp.EQ):
            return False
        column, value = condition.this, condition.expression
        if not isinstance(column, exp.Column):
            column, value = value, column
        if not isinstance(column, exp.Column) or not is_constant(value):
            return False
        if self.side(column) == TABLE:
            return False
        model, real = self.model_column(column)
        if real.lower() not in model.inputs:
            return False  # the target or another output: a filter
        if real in model.constants or real in model.mapped:
            raise NotSupportedError(f"input '{real}' is given twice in the query")
        model.constants[real] = literal_value(value, condition)
        return True

    def input_source(self, model: _Model, model_input: str) -> str:
        """The table column feeding a model input: ON first, then the same name."""
        mapped = model.mapped.get(model_input)
        if mapped is not None:
            return mapped
        found = self.table_types.get(model_input.lower())
        if found is None:
            raise UnknownColumnError(
                f"predictor '{model.predictor.name}' needs input "
                f"'{model_input}', which table '{self.table_name}' does not have; "
                f"map a column to it with ON {self.left.alias}.<column> = "
                f"{model.alias}.{model_input}"
            )
        return found[0]

    def call(self, model: _Model, fetched: list[str], limits: CallOptions) -> ModelCall:
        """What one predictor is sent for each fetched row, and in what calls."""
        inputs = [
            (name, _fetch_index(fetched, self.input_source(model, name)))
            for name in model.predictor.inputs
            if name not in model.constants
        ]
        return ModelCall(
            predictor=model.predictor,
            alias=model.alias,
            inputs=inputs,
            constants=dict(model.constants),
            batch_rows=limits.batch_rows,
            batch_bytes=limits.batch_bytes,
        )

    def model_output_column(
        self, model: _Model, real: str, name: str, fetched: list[str]
    ) -> OutputColumn:
        """A predictor column: a constant, an echoed input or the model's answer."""
        if real in model.constants:
            value = model.constants[real]
            return OutputColumn(name, constant_type(value), "const", value=value)
        if real.lower() in model.inputs:
            # An input is what was sent: the table's value that fed it.
            source = self.input_source(model, real)
            kind = self.table_types[source.lower()][1]
            return _row_column(name, kind, _fetch_index(fetched, source))
        column = model_output(name, model.predictor, real)
        return dataclasses.replace(column, call=model.position)

    def outputs(self, item: exp.Expression, fetched: list[str]) -> list[OutputColumn]:
        """The output columns one select-list item stands for."""
        name = item.alias_or_name
        node = item.this if isinstance(item, exp.Alias) else item
        if isinstance(node, exp.Star):
            return self.star("", fetched)
        if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
            return self.star(node.table, fetched)
        if not isinstance(node, exp.Column):
            raise NotSupportedError(
                "expressions over a JOIN with a predictor are not supported yet: "
                f"{item.sql('mysql')}"
            )

        if self.side(node) == TABLE:
            real, kind = self.table_types[node.name.lower()]
            return [_row_column(name, kind, _fetch_index(fetched, real))]
        model, real = self.model_column(node)
        return [self.model_output_column(model, real, name, fetched)]

    def star(self, qualifier: str, fetched: list[str]) -> list[OutputColumn]:
        """The output columns a ``*`` or ``alias.*`` stands for."""
        columns = []
        for position, real in self._star_refs(qualifier):
            if position == TABLE:
                kind = self.table_types[real.lower()][1]
                columns.append(_row_column(real, kind, _fetch_index(fetched, real)))
            else:
                model = self.models[position]
                columns.append(self.model_output_column(model, real, real, fetched))
        return columns

    def _star_refs(self, qualifier: str) -> list[tuple[int, str]]:
        """What a star names, in FROM order, as (side, column) pairs.

        A predictor gives its target. A bare ``*`` names each column once: a
        table column that has the name of a predictor's target (the stored
        value of what is predicted) is left out, so that ``SELECT *`` over the
        join, and queries wrapping it, read the prediction under that name.
        """
        lowered = qualifier.lower()
        shadowed = set()
        if not qualifier:
            shadowed = {m.predictor.target.lower() for m in self.models}
        found: list[tuple[int, str]] = []
        for position in self.order:
            if position == TABLE:
                if not qualifier or self._names_table(lowered):
                    found += [
                        (TABLE, real)
                        for real, _ in self.table_types.values()
                        if real.lower() not in shadowed
                    ]
                continue
            model = self.models[position]
            if not qualifier or model.named_by(lowered):
                found.append((position, model.predictor.target))
        if not found:
            raise UnknownColumnError(f"Unknown table '{qualifier}'")
        return found

    def alias_of(self, position: int) -> str:
        """The alias the query gives the table (TABLE) or a predictor."""
        return self.left.alias if position == TABLE else self.models[position].alias

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
        return [
            named(exp.column(real, table=self.alias_of(position)), real)
            for position, real in self._star_refs(qualifier)
        ]


class _JoinedRows:
    """The joined rows a local step reads, gathered as its query names them.

    Table columns come from the fetched row (relation ``source_rows``); each
    predictor's columns (answers, and inputs echoed as the model was given
    them) form its own relation of predictions.
    """

    def __init__(self, resolver: _Resolver, fetched: list[str]) -> None:
        self._resolver = resolver
        self._fetched = fetched
        self._model: list[dict[str, OutputColumn]] = [{} for _ in resolver.models]
        self._aliases: set[str] = set()
        self._sql = ""
        self._names: list[str] = []
        self._probes: list[tuple[str, str]] = []
        self._streaming = False

    def relations(self) -> list[tuple[str, str]]:
        """Each relation of the local query and its alias, in FROM order."""
        resolver = self._resolver
        return [
            (
                SOURCE_RELATION if position == TABLE else model_relation(position),
                resolver.alias_of(position),
            )
            for position in resolver.order
        ]

    def read(
        self, select: exp.Select, where: list[exp.Expression], *, order_and_limit: bool
    ) -> None:
        """Build the local query over the joined rows, noting what it reads."""
        resolver = self._resolver
        self._aliases = {
            item.alias.lower()
            for item in select.expressions
            if isinstance(item, exp.Alias)
        }
        items = resolver.local_items(select)
        relations = self.relations()
        query = local_query(
            select,
            items=items,
            where=where,
            order_and_limit=order_and_limit,
            relations=relations,
            locate=self.locate,
        )
        # Each predictions relation needs a column even when nothing reads one.
        for model in resolver.models:
            self._model_column(model, model.predictor.target)
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

        alias = resolver.left.alias
        if resolver.side(column) == TABLE:
            real = resolver.table_types[column.name.lower()][0]
            _fetch_index(self._fetched, real)
        else:
            model, real = resolver.model_column(column)
            self._model_column(model, real)
            alias = model.alias
        return exp.column(exp.to_identifier(real), table=exp.to_identifier(alias))

    def _model_column(self, model: _Model, real: str) -> None:
        columns = self._model[model.position]
        if real.lower() not in columns:
            column = self._resolver.model_output_column(
                model, real, real, self._fetched
            )
            columns[real.lower()] = column

    def columns(self) -> list[OutputColumn]:
        """The joined row: every fetched column, then each predictor's columns."""
        kinds = self._resolver.table_types
        fetched = [
            _row_column(name, kinds[name.lower()][1], index)
            for index, name in enumerate(self._fetched)
        ]
        return fetched + [c for model in self._model for c in model.values()]

    def step(self, max_rows: int) -> LocalStep:
        """The local step, once every column it reads is fetched."""
        widths = [len(self._fetched)] + [len(model) for model in self._model]
        return LocalStep(
            sql=self._sql,
            names=self._names,
            widths=widths,
            streaming=self._streaming,
            max_rows=max_rows,
            probes=self._probes,
        )


def _row_column(name: str, kind: SqlType, index: int) -> OutputColumn:
    return OutputColumn(name, kind, "row", index=index)


def _fetch_index(fetched: list[str], column: str) -> int:
    # Each table column is fetched once, however often the query reads it.
    lowered = [c.lower() for c in fetched]
    if column.lower() in lowered:
        return lowered.index(column.lower())
    fetched.append(column)
    return len(fetched) - 1


def _check_join_kind(join: exp.Join) -> None:
    # Every table row gets a prediction, so outer joins match inner ones.
    if join.args.get("using"):
        raise NotSupportedError(
            "JOIN ... USING (column) with a predictor is not supported; "
            "write ON t.column = p.column"
        )
    if join.method:
        raise NotSupportedError(
            f"{join.method} JOIN with a predictor is not supported; "
            "join without ON to match columns by name"
        )
    if join.kind not in ("", "INNER", "CROSS", "OUTER"):
        raise NotSupportedError(f"{join.kind} JOIN with a predictor is not supported")


def _split_where(
    select: exp.Select, resolver: _Resolver
) -> tuple[list[exp.Expression], list[exp.Expression]]:
    """The conjuncts the source evaluates, and those left for after prediction.

    A conjunct that reads no predictor column is pushed; ``p.input = constant``
    becomes a model input; every other one waits for the predictions.
    """
    pushed: list[exp.Expression] = []
    local: list[exp.Expression] = []
    where = select.args.get("where")
    for condition in [] if where is None else conjuncts_of(where.this):
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
    """True when the source and the models alone cannot give the result."""
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


def _refuse_clauses(select: exp.Select) -> None:
    if select.args.get("windows"):
        raise NotSupportedError("WINDOW in a query on a predictor is not supported yet")


def _refuse_same_alias(shape: JoinShape) -> None:
    # Qualifiers are matched without regard to case, so t and T are one alias.
    seen = {shape.left.alias.lower()}
    for model in shape.models:
        if model.alias.lower() in seen:
            raise NotUniqueTableError(f"Not unique table/alias: '{model.alias}'")
        seen.add(model.alias.lower())
