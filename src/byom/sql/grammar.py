"""Parse the MindsDB statements sqlglot cannot: predictors and data sources.

``parse_statement`` reads CREATE, DROP, RETRAIN, DESCRIBE and SHOW for predictors,
and CREATE and DROP DATABASE for data sources. It answers ``None`` for anything else,
so the session can hand that text on to sqlglot. The text is read by a small scanner
that follows MySQL's lexical rules (quotes, escapes, comments) and remembers where
each token starts and ends; the training query, JSON values and the condition of
SHOW PREDICTORS WHERE are then sliced from the text exactly as typed::

    CREATE PREDICTOR mindsdb.rooms FROM db (SELECT a, b FROM t) PREDICT a
    USING url.predict = 'http://host/predict', dtype_dict = {"a": "integer"};

The scanner reads lazily, because every statement a client sends passes through here
and most of them are large SELECTs or INSERTs that stop being ours at the first or
second word. The USING clause and its values are read by ``byom.sql.using``.

Known shortcomings: the training query is scanned with MySQL's lexical rules to find
its closing parenthesis, so a query in another dialect that relies on PostgreSQL's
``$$`` quoting, on backslashes that are not escapes, or on ``#`` as an operator can be
cut in the wrong place. The ``AS alias`` after the query is accepted and dropped.
``DESCRIBE MODEL m`` describes the predictor ``m``, where MySQL would list the
columns of a table named ``model`` that match ``m``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from byom.errors import NotSupportedError, SqlSyntaxError
from byom.sql.statements import (
    CreateDatabase,
    CreatePredictor,
    DescribePredictor,
    DropDatabase,
    DropPredictor,
    Retrain,
    ShowPredictors,
    Statement,
)
from byom.sql.using import capture_json, parse_using, unquote_string

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

_NAME_KINDS = ("word", "bquoted", "dquoted")
_STRING_KINDS = ("string", "dquoted")
# Words that may follow a predictor's name, so never the name after PREDICTOR.
_CLAUSES = ("FROM", "USING")
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


class Cursor:
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

    def accept_any(self, *keywords: str) -> bool:
        """Take whichever one of these keywords comes next, if any does."""
        return any(self.accept(keyword) for keyword in keywords)

    def expect(self, *texts: str) -> _Token:
        first = self.peek()
        for text in texts:
            if not _is(self.peek(), text):
                raise self.error(text if text.isalpha() else f"'{text}'")
            self.advance()
        return first

    def identifier(self, what: str) -> str:
        """A bare, `backquoted` or "double-quoted" name, unquoted."""
        token = self.peek()
        if token.kind == "word":
            return self.advance().text
        if token.kind in ("bquoted", "dquoted"):
            quote = token.text[0]
            return self.advance().text[1:-1].replace(quote * 2, quote)
        raise self.error(what)

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


def parse_statement(sql: str) -> Statement | None:
    """Parse one of byom's own statements; ``None`` means "not ours, ask sqlglot".

    ``CREATE MODEL m PREDICT y USING format = 'mlflow'`` is ours, and so is
    ``CREATE DATABASE db WITH ENGINE = 'mysql'``; ``CREATE DATABASE db`` is MySQL's.
    Likewise ``DESCRIBE MODEL m`` and ``SHOW MODELS`` are ours, ``DESCRIBE t`` and
    ``SHOW TABLES`` are not. The first word picks the parser that reads on.
    """
    cursor = Cursor(sql)
    verb = cursor.advance()
    parse = _PARSERS.get(verb.text.upper()) if verb.kind == "word" else None
    return parse(cursor) if parse else None


def _parse_create(cursor: Cursor) -> CreatePredictor | CreateDatabase | None:
    """Parse what follows ``CREATE``; ``None`` for MySQL's own CREATE statements."""
    or_replace = cursor.accept("OR", "REPLACE")
    if cursor.accept_any("PREDICTOR", "MODEL"):
        return _parse_predictor(cursor, or_replace)
    if cursor.accept("DATASOURCE"):
        return _parse_database(cursor, or_replace, engine_required=True)
    if cursor.accept("DATABASE"):
        return _parse_database(cursor, or_replace, engine_required=False)
    return None


def _parse_predictor(cursor: Cursor, or_replace: bool) -> CreatePredictor:
    """Parse what follows ``CREATE [OR REPLACE] PREDICTOR``."""
    if_not_exists = _parse_if_not_exists(cursor, or_replace)
    project, name = _parse_qualified_name(cursor)
    integration, select_sql = _parse_training_data(cursor)

    cursor.expect("PREDICT")
    target = cursor.identifier("a column to predict")
    _refuse_unsupported(cursor, target)
    using = parse_using(cursor) if cursor.accept("USING") else {}

    expect_end(cursor)
    return CreatePredictor(
        name, project, integration, select_sql, target, using, if_not_exists, or_replace
    )


def _parse_database(
    cursor: Cursor, or_replace: bool, *, engine_required: bool
) -> CreateDatabase | None:
    """Parse what follows ``CREATE DATABASE``; ``None`` when it is MySQL's own form."""
    if_not_exists = _parse_if_not_exists(cursor, or_replace)
    name = cursor.identifier("a database name")
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
        parameters = capture_json(cursor, "PARAMETERS")

    expect_end(cursor)
    return CreateDatabase(name, engine, parameters, if_not_exists, or_replace)


def _parse_drop(cursor: Cursor) -> DropPredictor | DropDatabase | None:
    """Parse what follows ``DROP``; ``None`` for DROP TABLE and the like.

    Every DROP DATABASE is byom's: its databases are all data sources or projects,
    none of them MySQL's.
    """
    if cursor.accept_any("PREDICTOR", "MODEL"):
        if_exists = _parse_if_exists(cursor)
        project, name = _parse_qualified_name(cursor)
        expect_end(cursor)
        return DropPredictor(name, project, if_exists)

    if cursor.accept_any("DATABASE", "DATASOURCE", "SCHEMA"):
        if_exists = _parse_if_exists(cursor)
        name = cursor.identifier("a database name")
        expect_end(cursor)
        return DropDatabase(name, if_exists)
    return None


def _parse_retrain(cursor: Cursor) -> Retrain:
    """Parse what follows ``RETRAIN``, which is never MySQL's."""
    _accept_predictor_keyword(cursor)
    project, name = _parse_qualified_name(cursor)
    integration, select_sql = _parse_training_data(cursor)
    if cursor.at("PREDICT"):
        raise NotSupportedError(
            f"PREDICT in RETRAIN {name}: the target of a predictor cannot change; "
            "drop it and create it again"
        )

    using = parse_using(cursor) if cursor.accept("USING") else {}
    expect_end(cursor)
    return Retrain(name, project, integration, select_sql, using)


def _parse_describe(cursor: Cursor) -> DescribePredictor | None:
    """Parse what follows ``DESCRIBE``, ``DESC`` or ``EXPLAIN``.

    Only ``DESCRIBE PREDICTOR p`` and ``DESCRIBE MODEL p`` are ours; ``DESCRIBE t``
    and ``EXPLAIN SELECT ...`` are MySQL's.
    """
    if not _accept_predictor_keyword(cursor):
        return None

    project, name = _parse_qualified_name(cursor)
    expect_end(cursor)
    return DescribePredictor(name, project)


def _parse_show(cursor: Cursor) -> ShowPredictors | None:
    """Parse what follows ``SHOW``; ``None`` unless PREDICTORS or MODELS come next."""
    models = cursor.accept("MODELS")
    if not models and not cursor.accept("PREDICTORS"):
        return None

    project = None
    if cursor.accept_any("FROM", "IN"):
        project = cursor.identifier("a project name")

    like = where_sql = None
    if cursor.accept("LIKE"):
        if cursor.peek().kind not in _STRING_KINDS:
            raise cursor.error("a quoted pattern")
        like = unquote_string(cursor.advance().text)
    elif cursor.accept("WHERE"):
        where_sql = _capture_condition(cursor)

    expect_end(cursor)
    return ShowPredictors(models, project, like, where_sql)


_PARSERS: dict[str, Callable[[Cursor], Statement | None]] = {
    "CREATE": _parse_create,
    "DROP": _parse_drop,
    "RETRAIN": _parse_retrain,
    "DESCRIBE": _parse_describe,
    "DESC": _parse_describe,
    "EXPLAIN": _parse_describe,
    "SHOW": _parse_show,
}


def _accept_predictor_keyword(cursor: Cursor) -> bool:
    """Take ``PREDICTOR`` or ``MODEL`` as a keyword only when a name follows it.

    So ``DESCRIBE model`` still describes MySQL's table ``model``, and ``RETRAIN
    model USING ...`` retrains the predictor called ``model``.
    """
    if not (cursor.at("PREDICTOR") or cursor.at("MODEL")):
        return False

    following = cursor.peek(1)
    if following.kind not in _NAME_KINDS or following.text.upper() in _CLAUSES:
        return False
    cursor.advance()
    return True


def _parse_if_not_exists(cursor: Cursor, or_replace: bool) -> bool:
    """``IF NOT EXISTS``, refused beside ``OR REPLACE`` as MariaDB does."""
    if not cursor.at("IF"):
        return False

    if or_replace:
        problem = "OR REPLACE and IF NOT EXISTS cannot be used together"
        raise _syntax_error(cursor.sql, cursor.peek(), problem)
    cursor.expect("IF", "NOT", "EXISTS")
    return True


def _parse_if_exists(cursor: Cursor) -> bool:
    """``IF EXISTS``, as DROP takes it."""
    if not cursor.at("IF"):
        return False

    cursor.expect("IF", "EXISTS")
    return True


def _parse_qualified_name(cursor: Cursor) -> tuple[str | None, str]:
    """``name`` or ``project.name``."""
    first = cursor.identifier("a predictor name")
    if not cursor.accept("."):
        return None, first

    return first, cursor.identifier("a predictor name after '.'")


def _parse_engine(cursor: Cursor) -> str:
    """The engine name, quoted or bare, lower-cased: ``'MySQL'`` gives ``mysql``."""
    if cursor.peek().kind == "string":
        return unquote_string(cursor.advance().text).lower()

    return cursor.identifier("an engine name").lower()


def _parse_training_data(cursor: Cursor) -> tuple[str | None, str | None]:
    """``FROM integration (query) [AS alias]`` as the integration and the query."""
    if not cursor.accept("FROM"):
        return None, None

    integration = cursor.identifier("an integration name")
    select_sql = _capture_parenthesised(cursor)
    if cursor.accept("AS"):
        cursor.identifier("an alias")  # MindsDB allowed one; unused here
    return integration, select_sql


def _capture_parenthesised(cursor: Cursor) -> str:
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


def _capture_condition(cursor: Cursor) -> str:
    """The raw text of a condition, up to ``;`` or the end, as typed.

    Comments before and after it are left out, so that a trailing ``-- note`` cannot
    swallow whatever the condition is later embedded in.
    """
    first = cursor.peek()
    if first.kind == "end" or _is(first, ";"):
        raise cursor.error("a condition")

    last = first
    while not cursor.at(";") and cursor.peek().kind != "end":
        last = cursor.advance()
        if last.kind == "unclosed":
            raise cursor.error("a complete condition", last)
    return cursor.sql[first.start : last.end]


def _refuse_unsupported(cursor: Cursor, target: str) -> None:
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


def expect_end(cursor: Cursor) -> None:
    """Take an optional semicolon; anything after it is a syntax error."""
    cursor.accept(";")
    if cursor.peek().kind != "end":
        raise cursor.error("the end of the statement")
