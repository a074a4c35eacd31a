"""A SELECT's own ``USING`` clause: call options for the predictors it reads.

MindsDB let model parameters follow a query; byom takes its call options there::

    SELECT t.a, p.y FROM db.t AS t JOIN mindsdb.p AS p
    USING batch_rows = 500, p.calls_in_flight = 2

A bare key is for every predictor of the query, ``alias.key`` for one. sqlglot
does not know the clause, so it is cut from the text before the query is
parsed; ``JOIN ... USING (column)`` is not it (a parenthesis follows USING).
``partition_size``, MindsDB's name for rows per call, is read as batch_rows.
``query_timeout`` bounds the whole query, as ``SET max_execution_time`` does.
"""

from __future__ import annotations

import math
from typing import Any

from byom.backends.call_options import CALL_OPTION_KEYS, check_call_options
from byom.errors import WrongArgumentsError
from byom.sql.grammar import Cursor, expect_end
from byom.sql.using import parse_using

_ALIASES = {"partition_size": "batch_rows"}

# The key of a parsed query's meta that holds its USING options.
USING_META = "byom_using"

# The option for the whole query rather than its predictors' calls.
QUERY_TIMEOUT = "query_timeout"
_KNOWN = (*CALL_OPTION_KEYS, QUERY_TIMEOUT)


def split_using(sql: str) -> tuple[str, dict[str, Any]]:
    """The query without its trailing USING clause, and that clause's options.

    >>> split_using("SELECT * FROM t JOIN p USING p.batch_rows = 5")
    ('SELECT * FROM t JOIN p ', {'p.batch_rows': 5})
    """
    start = _clause_start(sql)
    if start is None:
        return sql, {}

    cursor = Cursor(sql[start:])
    cursor.expect("USING")
    parsed = parse_using(cursor)
    expect_end(cursor)
    return sql[:start], _options(parsed)


def _clause_start(sql: str) -> int | None:
    """Where ``USING key =`` starts outside every parenthesis, if it does."""
    cursor = Cursor(sql)
    first = cursor.peek()
    if first.kind != "word" or first.text.upper() not in ("SELECT", "WITH"):
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
