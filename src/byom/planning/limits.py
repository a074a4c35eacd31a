"""LIMIT and OFFSET as MySQL takes them, checked before any source sees them.

MySQL takes a whole number of rows, 0 or more, up to 2^64 - 1; the manual's
``LIMIT 18446744073709551615`` means "to the end". SQLite and PostgreSQL take at
most 2^63 - 1 and DuckDB the same, so a larger count is lowered to that, which
no table reaches::

    SELECT a FROM t LIMIT 2, 18446744073709551615
    -> SELECT a FROM t LIMIT 9223372036854775807 OFFSET 2

A negative or fractional count is a syntax error in MySQL and here.
"""

from __future__ import annotations

from sqlglot import exp

from byom.errors import SqlSyntaxError

# The largest count every engine byom sends SQL to accepts.
_LARGEST = 2**63 - 1
_MYSQL_LARGEST = 2**64 - 1


def checked_limits(query: exp.Expression) -> exp.Expression:
    """The query with every LIMIT and OFFSET checked, and huge ones lowered."""
    for node in list(query.find_all(exp.Limit, exp.Offset)):
        value = node.args.get("expression")
        if value is None:
            continue
        count = _count(node, value)
        if count > _LARGEST:
            node.set("expression", exp.Literal.number(_LARGEST))
    return query


def _count(node: exp.Expression, value: exp.Expression) -> int:
    clause = "LIMIT" if isinstance(node, exp.Limit) else "OFFSET"
    if isinstance(value, exp.Placeholder):
        # A prepared statement binds its parameters as literals before this.
        return 0
    if (
        not isinstance(value, exp.Literal)
        or not value.is_int
        or int(value.name) > _MYSQL_LARGEST
    ):
        raise SqlSyntaxError(
            "You have an error in your SQL syntax; "
            f"{clause} takes a whole number of rows from 0 to {_MYSQL_LARGEST}, "
            f"not {value.sql('mysql')}"
        )
    return int(value.name)
