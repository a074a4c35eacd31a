"""A query's own ``USING`` clause: call options for the predictors it reads.

MindsDB let model parameters follow a query; byom takes its call options there::

    SELECT t.a, p.y FROM db.t AS t JOIN mindsdb.p AS p
    USING batch_rows = 500, p.calls_in_flight = 2

A bare key is for every predictor of the query, ``alias.key`` for one. sqlglot
does not know the clause, so it is cut from the text before the query is
parsed; ``JOIN ... USING (column)`` is not it (a parenthesis follows USING).
``partition_size``, MindsDB's name for rows per call, is read as batch_rows.
``query_timeout`` bounds the whole query, as ``SET max_execution_time`` does.

The clause may also end a statement around a query: EXPLAIN (or DESCRIBE)
SELECT, INSERT INTO t [(...)] SELECT and CREATE TABLE t (SELECT ...). Its
options then belong to that inner query, the one the planner plans
(``options_target``). After any other statement it is a syntax error naming
USING (``misplaced_using``).
"""

from __future__ import annotations

import math
from typing import Any

from sqlglot import exp

from byom.backends.call_options import CALL_OPTION_KEYS, check_call_options
from byom.errors import SqlSyntaxError, WrongArgumentsError
from byom.sql.grammar import Cursor, expect_end
from byom.sql.using import parse_using

_ALIASES = {"partition_size": "batch_rows"}

# The key of a parsed query's meta that holds its USING options.
USING_META = "byom_using"

# The option for the whole query rather than its predictors' calls.
QUERY_TIMEOUT = "query_timeout"
_KNOWN = (*CALL_OPTION_KEYS, QUERY_TIMEOUT)

# First words of the statements whose query the clause may follow.
_VERBS = ("SELECT", "WITH", "EXPLAIN", "DESCRIBE", "DESC", "INSERT", "CREATE")
_NEAR_CHARS = 80

# The answer to options after a query that calls no model, wherever it is found.
NO_PREDICTOR = (
    "USING after a query sets how its predictors are called; "
    "this query reads no predictor"
)


def split_using(sql: str) -> tuple[str, dict[str, Any]]:
    """The query without its trailing USING clause, and that clause's options.

    >>> split_using("SELECT * FROM t JOIN p USING p.batch_rows = 5")
    ('SELECT * FROM t JOIN p ', {'p.batch_rows': 5})
    """
    start = _clause_start(sql, _VERBS)
    if start is None:
        return sql, {}

    cursor = Cursor(sql[start:])
    cursor.expect("USING")
    parsed = parse_using(cursor)
    expect_end(cursor)
    return sql[:start], _options(parsed)


def options_target(statement: exp.Expression) -> exp.Expression | None:
    """The query a statement's USING options are for, or None if it has none.

    The query itself; the query EXPLAIN shows; the query whose rows INSERT or
    CREATE TABLE writes, inside its parentheses if it has them::

        INSERT INTO db.t (SELECT ... ) USING batch_rows = 50  ->  SELECT ...
    """
    node: exp.Expression | None = statement
    if isinstance(node, exp.Describe):
        node = node.this
    elif isinstance(node, exp.Insert | exp.Create):
        node = node.expression
        while isinstance(node, exp.Subquery):
            node = node.this
    return node if isinstance(node, exp.Query) else None


def attach_options(
    statement: exp.Expression, options: dict[str, Any], sql: str
) -> None:
    """Put options on the query they are for, where the planner reads them.

    sql is the statement as sent, for the error when it holds no query.
    """
    if not options:
        return
    target = options_target(statement)
    if target is None:
        raise misplaced_using(sql)
    target.meta[USING_META] = options


def misplaced_using(sql: str) -> SqlSyntaxError:
    """The syntax error for call options after a statement that runs no query."""
    start = _clause_start(sql, None)
    where = start or 0
    near = sql[where : where + _NEAR_CHARS].rstrip()
    line = sql.count("\n", 0, where) + 1
    return SqlSyntaxError(
        "You have an error in your SQL syntax; USING with call options follows "
        "only a query (SELECT, EXPLAIN SELECT, INSERT ... SELECT, CREATE TABLE "
        f"... SELECT) near '{near}' at line {line}"
    )


def ends_with_using(sql: str) -> bool:
    """Whether sql, whatever its statement, ends with ``USING key = ...``."""
    return _clause_start(sql, None) is not None


def _clause_start(sql: str, verbs: tuple[str, ...] | None) -> int | None:
    """Where ``USING key =`` starts outside every parenthesis, if it does.

    Only in a statement whose first word is one of verbs (None: any).
    """
    cursor = Cursor(sql)
    first = cursor.peek()
    if verbs is not None and (first.kind != "word" or first.text.upper() not in verbs):
        return None
    depth = 0
    found = None
    while (token := cursor.advance()).kind != "end":
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif depth == 0 and token.kind == "word" and token.text.upper() == "USING":
            after = cursor.peek()
            if after.kind in ("word", "bquoted") and cursor.peek(1).text in ("=", "."):
                found = token.start
    return found


def _options(parsed: dict[str, Any]) -> dict[str, Any]:
    """Flat ``key`` / ``alias.key`` options, each checked as a call option."""
    flat: dict[str, Any] = {}
    for key, value in parsed.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value

    options: dict[str, Any] = {}
    for key, value in flat.items():
        qualifier, _, name = key.rpartition(".")
        name = _ALIASES.get(name.lower(), name.lower())
        if (
            name not in _KNOWN
            or isinstance(value, dict)
            or (qualifier and name == QUERY_TIMEOUT)
        ):
            raise WrongArgumentsError(
                f"USING {key} is not an option of a query on a predictor; "
                f"a query takes: {', '.join(_KNOWN)}"
            )
        if name == QUERY_TIMEOUT:
            options[name] = _seconds(key, value)
            continue
        checked = check_call_options({name: value})[name]
        options[f"{qualifier}.{name}" if qualifier else name] = checked
    return options


def _seconds(key: str, value: Any) -> float:
    number = value if isinstance(value, int | float) else None
    if isinstance(value, bool) or number is None or not 0 < number < math.inf:
        raise WrongArgumentsError(
            f"USING {key} must be a positive number of seconds, not {value!r}"
        )
    return float(number)
