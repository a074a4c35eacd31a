"""A source's refusal of a query, as the MySQL error a client would get.

A table, column or ambiguity error is the user's query at fault, not the source
failing, so it gets MySQL's own code (1146, 1054, 1052) and message, read from
the driver: MySQL drivers carry MySQL's code, psycopg the SQLSTATE, and SQLite
only its message text. Anything else stays a SourceError (1429).
"""

from __future__ import annotations

import re
from typing import Any

from byom.errors import (
    AmbiguousColumnError,
    ByomError,
    UnknownColumnError,
    UnknownTableError,
)

# MySQL's codes, PostgreSQL's SQLSTATEs and SQLite's messages, by error kind.
_MYSQL_CODES = {1146: UnknownTableError, 1054: UnknownColumnError}
_MYSQL_AMBIGUOUS = 1052
_POSTGRES_STATES = {"42P01": UnknownTableError, "42703": UnknownColumnError}
_POSTGRES_AMBIGUOUS = "42702"
_SQLITE = [
    (re.compile(r"^no such table: (.+)$"), UnknownTableError),
    (re.compile(r"^no such column: (.+)$"), UnknownColumnError),
    (re.compile(r"^ambiguous column name: (.+)$"), AmbiguousColumnError),
]


def query_error(source: str, original: Any, text: str) -> ByomError | None:
    """The MySQL error for a driver error that blames the query, or None."""
    args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    code = args[0] if args and isinstance(args[0], int) else None
    if code in _MYSQL_CODES or code == _MYSQL_AMBIGUOUS:
        # MySQL's own message already names the culprit as MySQL does.
        message = str(args[1]) if len(args) > 1 else text
        kind = _MYSQL_CODES.get(code, AmbiguousColumnError)
        return kind(message)

    state = getattr(original, "sqlstate", None)
    if state in _POSTGRES_STATES or state == _POSTGRES_AMBIGUOUS:
        first = text.splitlines()[0] if text else text
        kind = _POSTGRES_STATES.get(state, AmbiguousColumnError)
        return kind(f"data source '{source}': {first}")

    for pattern, kind in _SQLITE:
        found = pattern.match(text)
        if found is not None:
            return kind(_sqlite_message(kind, source, found[1]))
    return None


def _sqlite_message(kind: type[ByomError], source: str, name: str) -> str:
    if kind is UnknownTableError:
        return f"Table '{source}.{name}' doesn't exist"
    if kind is UnknownColumnError:
        return f"Unknown column '{name}' in 'field list'"
    return f"Column '{name}' in field list is ambiguous"
