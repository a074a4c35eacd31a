"""Parse the MindsDB statements sqlglot cannot: CREATE PREDICTOR and CREATE DATABASE.

``parse_statement`` answers ``None`` for anything else, so the session can hand that
text on to sqlglot. The text is read by a small scanner that follows MySQL's lexical
rules (quotes, escapes, comments) and remembers where each token starts and ends; the
training query and JSON values are then sliced from the text exactly as typed::

    CREATE PREDICTOR mindsdb.rooms FROM db (SELECT a, b FROM t) PREDICT a
    USING url.predict = 'http://host/predict', dtype_dict = {"a": "integer"};

The scanner reads lazily, because every statement a client sends passes through here
and most of them are large SELECTs or INSERTs that stop being ours at the second word.

Known shortcomings: the training query is scanned with MySQL's lexical rules to find
its closing parenthesis, so a query in another dialect that relies on PostgreSQL's
``$$`` quoting, on backslashes that are not escapes, or on ``#`` as an operator can be
cut in the wrong place. The ``AS alias`` after the query is accepted and dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from byom.errors import NotSupportedError, SqlSyntaxError, WrongArgumentsError
from byom.sql.statements import CreateDatabase, CreatePredictor

_SCANNER = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<comment>(?:--(?=\s|$)|\#)[^\n]*|/\*.*?\*/)
    | (?P<string>'(?:[^'\\]|\\.|'')*')
    | (?P<dquoted>"(?:[^"\\]|\\.|"")*")
    | (?P<bquoted>`(?:[^`]|``)*`)
    | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?![\w$]))
    | (?P<word>[\w$]+)
    | (?P<unclosed>['"`]|/\*)
    | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
# MySQL keeps the backslash before % and _ so that LIKE patterns survive.
_KEPT_ESCAPES = "%_"

_LITERALS: dict[str, Any] = {"TRUE": True, "FALSE": False, "NULL": None}
_BRACKETS = {"{": 1, "[": 1, "}": -1, "]": -1}
_TIME_SERIES = {
    "ORDER": "ORDER BY",
    "GROUP": "GROUP BY",
    "WINDOW": "WINDOW",
    "HORIZON": "HORIZON",
}
_NEAR_CHARS = 80


class _Token(NamedTuple):
    kind: str
    text: str
    start: int
    end: int


def _scan(sql: str) -> Iterator[_Token]:
    """Yield the tokens of ``sql`` without spaces and comments, then an end token."""
    for match in _SCANNER.finditer(sql):
        kind = match.lastgroup or "punct"
        if kind not in ("space", "comment"):
            yield _Token(kind, match.group(), match.start(), match.end())

    yield _Token("end", "", len(sql), len(sql))


class _Cursor:
    """A position in the token stream of one statement, with MySQL-like errors."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self._tokens = _scan(sql)
        self._seen: list[_Token] = []
        self._pos = 0

    def peek(self, ahead: int = 0) -> _Token:
        while len(self._seen) <= self._pos + ahead:
            self._seen.append(next(self._tokens, None) or self._seen[-1])
        return self._seen[self._pos + ahead]

    def advance(self) -> _Token:
        token = self.peek()
        if token.kind != "end":
            self._pos += 1
        return token

    def at(self, *texts: str) -> bool:
        """Whether the next tokens are these keywords or punctuation, in this order."""
        return all(_is(self.peek(i), text) for i, text in enumerate(texts))

    def accept(self, *texts: str) -> bool:
        if not self.at(*texts):
            return False

        self._pos += len(texts)
        return True

    def expect(self, *texts: str) -> _Token:
        first = self.peek()
        for text in texts:
            if not _is(self.peek(), text):
                raise self.error(text if text.isalpha() else f"'{text}'")
            self.advance()
        return first

    def error(self, expected: str, token: _Token | None = None) -> SqlSyntaxError:
        return _syntax_error(self.sql, token or self.peek(), f"expected {expected}")


def _is(token: _Token, text: str) -> bool:
    if token.kind == "word":
        return token.text.upper() == text
    return token.kind == "punct" and token.text == text


def _syntax_error(sql: str, token: _Token, problem: str) -> SqlSyntaxError:
    """Build the error MySQL users know: what is wrong, near which text."""
    if token.kind == "unclosed":
        problem = "expected a closing " + ("*/" if token.text == "/*" else token.text)

    near = sql[token.start : token.start + _NEAR_CHARS].rstrip()
    line = sql.count("\n", 0, token.start) + 1
    return SqlSyntaxError(
        f"You have an error in your SQL syntax; {problem} near '{near}' at line {line}"
    )


def parse_statement(sql: str) -> CreatePredictor | CreateDatabase | None:
    """Parse byom's own CREATE statements; ``None`` means "not ours, ask sqlglot".

    ``CREATE MODEL m PREDICT y USING format = 'mlflow'`` is ours, and so is
    ``CREATE DATABASE db WITH ENGINE = 'mysql'``; ``CREATE DATABASE db`` is MySQL's.
    """
    cursor = _Cursor(sql)
    if not cursor.accept("CREATE"):
        return None

    or_replace = cursor.accept("OR", "REPLACE")
    if cursor.accept("PREDICTOR") or cursor.accept("MODEL"):
        return _parse_predictor(cursor, or_replace)
    if cursor.accept("DATASOURCE"):
        return _parse_database(cursor, or_replace, engine_required=True)
    if cursor.accept("DATABASE"):
        return _parse_database(cursor, or_replace, engine_required=False)
    return None


def _parse_predictor(cursor: _Cursor, or_replace: bool) -> CreatePredictor:
    """Parse what follows ``CREATE [OR REPLACE] PREDICTOR``."""
    if_not_exists = _parse_if_not_exists(cursor, or_replace)
    project, name = _parse_qualified_name(cursor)

    integration = select_sql = None
    if cursor.accept("FROM"):
        integration = _parse_identifier(cursor, "an integration name")
        select_sql = _capture_parenthesised(cursor)
        if cursor.accept("AS"):
            _parse_identifier(cursor, "an alias")  # MindsDB allowed one; unused here

    cursor.expect("PREDICT")
    target = _parse_identifier(cursor, "a column to predict")
    _refuse_unsupported(cursor, target)
    using = _parse_using(cursor) if cursor.accept("USING") else {}

    _expect_end(cursor)
    return CreatePredictor(
        name, project, integration, select_sql, target, using, if_not_exists, or_replace
    )


def _parse_database(
    cursor: _Cursor, or_replace: bool, *, engine_required: bool
) -> CreateDatabase | None:
    """Parse what follows ``CREATE DATABASE``; ``None`` when it is MySQL's own form."""
    if_not_exists = _parse_if_not_exists(cursor, or_replace)
    name = _parse_identifier(cursor, "a database name")
    if not engine_required and not cursor.at("WITH") and not cursor.at("ENGINE"):
        return None

    cursor.accept("WITH")
    cursor.expect("ENGINE")
    cursor.accept("=")
    engine = _parse_engine(cursor)

    cursor.accept(",")
    parameters: dict[str, Any] = {}
    if cursor.accept("PARAMETERS"):
        cursor.accept("=")
        if not cursor.at("{"):
            raise cursor.error("a JSON object")
        parameters = _capture_json(cursor, "PARAMETERS")

    _expect_end(cursor)
    return CreateDatabase(name, engine, parameters, if_not_exists, or_replace)


def _parse_if_not_exists(cursor: _Cursor, or_replace: bool) -> bool:
    """``IF NOT EXISTS``, refused beside ``OR REPLACE`` as MariaDB does."""
    if not cursor.at("IF"):
        return False

    if or_replace:
        problem = "OR REPLACE and IF NOT EXISTS cannot be used together"
        raise _syntax_error(cursor.sql, cursor.peek(), problem)
    cursor.expect("IF", "NOT", "EXISTS")
    return True


def _parse_identifier(cursor: _Cursor, what: str) -> str:
    """A bare, `backquoted` or "double-quoted" name, unquoted."""
    token = cursor.peek()
    if token.kind == "word":
        return cursor.advance().text
    if token.kind in ("bquoted", "dquoted"):
        quote = token.text[0]
        return cursor.advance().text[1:-1].replace(quote * 2, quote)
    raise cursor.error(what)


def _parse_qualified_name(cursor: _Cursor) -> tuple[str | None, str]:
    """``name`` or ``project.name``."""
    first = _parse_identifier(cursor, "a predictor name")
    if not cursor.accept("."):
        return None, first

    return first, _parse_identifier(cursor, "a predictor name after '.'")


def _parse_engine(cursor: _Cursor) -> str:
    """The engine name, quoted or bare, lower-cased: ``'MySQL'`` gives ``mysql``."""
    if cursor.peek().kind == "string":
        return _unquote_string(cursor.advance().text).lower()

    return _parse_identifier(cursor, "an engine name").lower()


def _capture_parenthesised(cursor: _Cursor) -> str:
    """The raw text between ``(`` and its matching ``)``, as typed but stripped."""
    opening = cursor.expect("(")
    token = opening
    depth = 1
    while depth:
        token = cursor.advance()
        if token.kind in ("end", "unclosed"):
            raise cursor.error("')' closing the query", token)
        depth += {"(": 1, ")": -1}.get(token.text, 0) if token.kind == "punct" else 0

    text = cursor.sql[opening.end : token.start].strip()
    if not text:
        raise cursor.error("a query inside the parentheses", token)
    return text


def _capture_json(cursor: _Cursor, key: str) -> Any:
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


def _refuse_unsupported(cursor: _Cursor, target: str) -> None:
    """Refuse MindsDB's several PREDICT columns and time-series clauses by name."""
    token = cursor.peek()
    if _is(token, ","):
        second = cursor.peek(1).text
        raise NotSupportedError(
            f"PREDICT {target}, {second}: byom predicts one column per predictor"
        )

    clause = _TIME_SERIES.get(token.text.upper()) if token.kind == "word" else None
    if clause:
        raise NotSupportedError(
            f"{clause} in CREATE PREDICTOR: time-series predictors are not supported"
        )


def _parse_using(cursor: _Cursor) -> dict[str, Any]:
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


def _parse_key(cursor: _Cursor) -> tuple[str, ...]:
    parts = [_parse_identifier(cursor, "a USING key")]
    while cursor.accept("."):
        parts.append(_parse_identifier(cursor, "a key part after '.'"))
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


def _parse_value(cursor: _Cursor, key: str) -> Any:
    """A string, number, TRUE/FALSE/NULL, or a JSON object or array."""
    token = cursor.peek()
    if token.kind in ("string", "dquoted"):
        return _unquote_string(cursor.advance().text)
    if token.kind == "punct" and token.text in ("{", "["):
        return _capture_json(cursor, key)
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


def _unquote_string(text: str) -> str:
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


def _expect_end(cursor: _Cursor) -> None:
    cursor.accept(";")
    if cursor.peek().kind != "end":
        raise cursor.error("the end of the statement")
