"""Statements that write a query's rows into an integration's table.

Four forms are recognised in sqlglot's MySQL parse, all naming the target as
``integration.[schema.]table``::

    INSERT INTO pg.scores [(a, b)] SELECT ...
    INSERT INTO pg.scores [(a, b)] (SELECT ...)     -- MindsDB's form
    CREATE TABLE pg.public.scores (SELECT ...)
    CREATE TABLE pg.scores AS SELECT ...

sqlglot reads ``db.table`` as ``Table(db=db)`` and ``db.schema.table`` as
``Table(catalog=db, db=schema)``; a column list wraps the table in a ``Schema``,
and MindsDB's parenthesised query arrives as a ``Subquery``. Every other
INSERT or CREATE (VALUES, IGNORE, ON DUPLICATE KEY, column definitions, ...) is
refused with "not supported" instead of being half-done.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlglot import exp

from byom.errors import NotSupportedError, UnknownDatabaseError

# Arguments of the accepted forms; any other one set means a MySQL feature
# (IGNORE, ON DUPLICATE KEY UPDATE, PARTITION, TEMPORARY, ...) byom does not do.
_INSERT_ARGS = {"this", "expression"}
_CREATE_ARGS = {"this", "kind", "expression", "exists"}
_SPELLINGS = {
    "conflict": "ON DUPLICATE KEY UPDATE",
    "properties": "table options (TEMPORARY, LIKE, ENGINE, ...)",
    "replace": "OR REPLACE",
}


@dataclass(frozen=True)
class WriteBack:
    """Where a query's rows go, and whether the table is created first.

    ``columns`` is the INSERT's column list, or None to map by position.
    ``quoted`` tells whether the table name was quoted (kept as written).
    """

    integration: str
    schema: str | None
    table: str
    columns: list[str] | None
    query: exp.Expression
    create: bool
    if_not_exists: bool = False
    quoted: bool = False

    @property
    def target(self) -> str:
        """The table as the client named it, for messages."""
        parts = [self.integration, self.schema, self.table]
        return ".".join(part for part in parts if part)


def is_write_back(expression: exp.Expression) -> bool:
    """True for the statements ``write_back_of`` reads (INSERT, CREATE TABLE)."""
    if isinstance(expression, exp.Insert):
        return True
    return isinstance(expression, exp.Create) and _kind(expression) == "TABLE"


def write_back_of(expression: exp.Expression, database: str | None) -> WriteBack:
    """Read an INSERT ... SELECT or CREATE TABLE ... SELECT; refuse other forms.

    A table named without its integration is in the session's database.
    """
    if isinstance(expression, exp.Insert):
        return _insert(expression, database)
    if isinstance(expression, exp.Create) and _kind(expression) == "TABLE":
        return _create(expression, database)
    raise NotSupportedError(f"{type(expression).__name__} cannot write rows")


def _insert(insert: exp.Insert, database: str | None) -> WriteBack:
    _refuse_extras(insert, _INSERT_ARGS, "INSERT")
    target = insert.this
    columns: list[str] | None = None
    if isinstance(target, exp.Schema):
        columns = [column.name for column in target.expressions]
        target = target.this
    query = _query(insert.expression, "INSERT")
    return _target(target, database, columns, query, create=False)


def _create(create: exp.Create, database: str | None) -> WriteBack:
    _refuse_extras(create, _CREATE_ARGS, "CREATE TABLE")
    if isinstance(create.this, exp.Schema):
        raise NotSupportedError(
            "CREATE TABLE with column definitions is not supported; write "
            "CREATE TABLE integration.table (SELECT ...) and the columns are "
            "taken from the query"
        )
    query = _query(create.expression, "CREATE TABLE")
    found = _target(create.this, database, None, query, create=True)
    return replace(found, if_not_exists=bool(create.args.get("exists")))


def _target(
    table: exp.Expression,
    database: str | None,
    columns: list[str] | None,
    query: exp.Expression,
    *,
    create: bool,
) -> WriteBack:
    if not isinstance(table, exp.Table) or not table.name:
        raise NotSupportedError("the target of INSERT or CREATE must be a table name")
    catalog, db = table.catalog, table.db
    integration, schema = (catalog, db) if catalog else (db or database, None)
    if not integration:
        raise UnknownDatabaseError("No database selected")
    identifier = table.this
    quoted = isinstance(identifier, exp.Identifier) and bool(identifier.quoted)
    return WriteBack(
        integration, schema, table.name, columns, query, create, quoted=quoted
    )


def _query(expression: exp.Expression | None, verb: str) -> exp.Expression:
    # MindsDB's INSERT INTO t (SELECT ...) parses as a subquery around it.
    while isinstance(expression, exp.Subquery):
        expression = expression.this
    if isinstance(expression, exp.Query):
        return expression
    raise NotSupportedError(
        f"{verb} is supported only with a query (INSERT INTO integration.table "
        "SELECT ...); VALUES and SET lists are not"
    )


def _refuse_extras(expression: exp.Expression, allowed: set[str], verb: str) -> None:
    extras = sorted(
        _SPELLINGS.get(key, key.upper())
        for key, value in expression.args.items()
        if value and key not in allowed
    )
    if extras:
        raise NotSupportedError(
            f"{verb} with {', '.join(extras)} is not supported; only "
            f"{verb} integration.table ... SELECT is"
        )


def _kind(create: exp.Create) -> str:
    return str(create.args.get("kind") or "").upper()
