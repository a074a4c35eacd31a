"""Rewrites that make a query pushed to a source mean there what it meant in MySQL.

sqlglot transpiles syntax; these passes cover what it leaves to the caller. Each
is a pure function from expression to expression, taking the source's dialect.
"""

from __future__ import annotations

from functools import cache

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

# Dialects whose LIKE treats a backslash as its escape character by default,
# as MySQL's does.
_BACKSLASH_LIKE = frozenset({"mysql", "postgres"})


def quote_identifiers(query: exp.Expression, dialect: str) -> exp.Expression:
    """Quote the identifiers the source would misread unquoted.

    Keywords are quoted (``AS select`` -> ``AS "select"`` in SQLite), and so are
    column names whose case the dialect would fold (``"Rental_Price"`` in
    PostgreSQL): the planner writes every column with the table's own spelling.
    """
    reserved = _keywords(dialect)
    folds_case = Dialect.get_or_raise(dialect).case_sensitive

    def quote(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Identifier) or node.quoted:
            return node
        is_column = isinstance(node.parent, exp.Column) and node.arg_key == "this"
        if node.name.lower() in reserved or (is_column and folds_case(node.name)):
            return exp.Identifier(this=node.name, quoted=True)
        return node

    return query.transform(quote)


def escape_like_backslashes(query: exp.Expression, dialect: str) -> exp.Expression:
    """Give LIKE MySQL's backslash escape where the source has no default one.

    ``t.a LIKE 'g\\_od'`` -> ``t.a LIKE 'g\\_od' ESCAPE '\\'`` in SQLite, so that
    ``\\_`` still matches an underscore and not any character. Patterns that are
    string literals without a backslash are left alone.
    """
    if dialect in _BACKSLASH_LIKE:
        return query

    def escape(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Like) or isinstance(node.parent, exp.Escape):
            return node
        pattern = node.expression
        if pattern.is_string and "\\" not in pattern.name:
            return node
        return exp.Escape(this=node, expression=exp.Literal.string("\\"))

    return query.transform(escape)


@cache
def _keywords(dialect: str) -> frozenset[str]:
    # Every word the dialect's tokenizer or generator treats as a keyword: more
    # than the reserved ones, but quoting a name that needs no quotes is
    # harmless here, as columns carry the table's own spelling and the alias is
    # spelt one way throughout the fetch.
    known = Dialect.get_or_raise(dialect)
    words = {key.split()[0].lower() for key in known.tokenizer_class.KEYWORDS}
    words |= {word.lower() for word in known.generator_class.RESERVED_KEYWORDS}
    return frozenset(word for word in words if word.isidentifier())
