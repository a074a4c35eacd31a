"""Read the values of byom's statements: the USING clause, quoted strings and JSON.

A USING clause is ``key = value`` pairs whose dotted keys nest::

    USING url.predict = 'http://host/predict', dtype_dict = {"a": "integer"}, n = 2

gives ``{"url": {"predict": "http://host/predict"}, "dtype_dict": {"a": "integer"},
"n": 2}``. A value is a quoted string, a number, TRUE, FALSE, NULL, or a JSON object
or array, which is sliced from the text exactly as typed and decoded by ``json``.
CREATE DATABASE reads its PARAMETERS and ENGINE with the same functions.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from byom.errors import WrongArgumentsError

if TYPE_CHECKING:
    from byom.sql.grammar import Cursor

_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
# MySQL keeps the backslash before % and _ so that LIKE patterns survive.
_KEPT_ESCAPES = "%_"

_LITERALS: dict[str, Any] = {"TRUE": True, "FALSE": False, "NULL": None}
_BRACKETS = {"{": 1, "[": 1, "}": -1, "]": -1}


def parse_using(cursor: Cursor) -> dict[str, Any]:
    """``key = value, ...``; dotted keys nest: ``url.train`` → ``{"url": {...}}``."""
    using: dict[str, Any] = {}
    paths: list[tuple[str, ...]] = []
    while True:
        path = _parse_key(cursor)
        cursor.expect("=")
        value = _parse_value(cursor, ".".join(path))

        _check_new_key(path, paths)
        paths.append(path)
        _insert(using, path, value)

        if not cursor.accept(","):
            return using


def capture_json(cursor: Cursor, key: str) -> Any:
    """Decode the JSON object or array starting here, sliced by matching brackets.

    Strings are single tokens, so braces inside ``{"a": "}"}`` are not counted.
    """
    opening = cursor.advance()
    token = opening
    depth = 1
    while depth:
        token = cursor.advance()
        if token.kind == "end":
            raise WrongArgumentsError(f"{key}: the JSON value is never closed")
        depth += _BRACKETS.get(token.text, 0) if token.kind == "punct" else 0

    try:
        return json.loads(cursor.sql[opening.start : token.end])
    except json.JSONDecodeError as exc:
        message = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise WrongArgumentsError(f"{key}: invalid JSON: {message}") from None


def unquote_string(text: str) -> str:
    """Undo SQL quoting: doubled quotes and backslash escapes, as MySQL does."""
    quote = text[0]

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped is None:
            return quote
        if escaped in _KEPT_ESCAPES:
            return "\\" + escaped
        return _ESCAPES.get(escaped, escaped)

    pattern = r"\\(.)|" + re.escape(quote * 2)
    return re.sub(pattern, replace, text[1:-1], flags=re.DOTALL)


def _parse_key(cursor: Cursor) -> tuple[str, ...]:
    parts = [cursor.identifier("a USING key")]
    while cursor.accept("."):
        parts.append(cursor.identifier("a key part after '.'"))
    return tuple(parts)


def _check_new_key(path: tuple[str, ...], paths: list[tuple[str, ...]]) -> None:
    """Refuse a key given twice, or one that is both a value and a group of keys."""
    for other in paths:
        shorter = min(len(path), len(other))
        if path == other:
            raise WrongArgumentsError(f"USING key {'.'.join(path)} is given twice")
        if path[:shorter] == other[:shorter]:
            raise WrongArgumentsError(
                f"USING key {'.'.join(path)} conflicts with {'.'.join(other)}"
            )


def _insert(using: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = using
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _parse_value(cursor: Cursor, key: str) -> Any:
    """A string, number, TRUE/FALSE/NULL, or a JSON object or array."""
    token = cursor.peek()
    if token.kind in ("string", "dquoted"):
        return unquote_string(cursor.advance().text)
    if token.kind == "punct" and token.text in ("{", "["):
        return capture_json(cursor, key)
    if token.kind == "word" and token.text.upper() in _LITERALS:
        return _LITERALS[cursor.advance().text.upper()]

    sign = 1
    if cursor.accept("-"):
        sign = -1
    else:
        cursor.accept("+")
    if cursor.peek().kind != "number":
        raise cursor.error(f"a value for {key}")
    return sign * _to_number(cursor.advance().text)


def _to_number(text: str) -> int | float:
    return int(text) if text.isdigit() else float(text)
