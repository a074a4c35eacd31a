"""The statements of one COM_QUERY text, cut as MySQL cuts them.

MySQL first trims the text: white space in front, white space and semicolons at
the end, so ``SELECT 1;;`` is ``SELECT 1``. Nothing left is error 1065, "Query
was empty"; a comment alone is not empty, and is answered with OK.

A client that set CLIENT_MULTI_STATEMENTS may send several statements, which
MySQL runs one by one and answers in turn (``commands`` writes the results).
The text is cut at each semicolon that sqlglot's MySQL tokenizer sees outside
strings, quoted names and comments, so byom's own statements (CREATE PREDICTOR
with JSON in USING) are cut as MySQL would cut them::

    SELECT 1; SELECT 'a;b' -- c  ->  ["SELECT 1", "SELECT 'a;b' -- c"]

A semicolon with nothing but white space or comments before it is where MySQL's
parser wanted a statement: the statements before it run, then the client gets
a syntax error quoting the text from that semicolon on::

    SELECT 1;; SELECT 2  ->  ["SELECT 1"], then 1064 near '; SELECT 2'

A client that did not set the flag gets its text as one statement, which the
session refuses when it holds more than one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import Token, TokenType
from sqlglot.dialects import MySQL
from sqlglot.errors import TokenError

from byom.errors import SqlSyntaxError

# MySQL's white space (my_isspace) for the trimming.
_SPACE = " \t\n\r\v\f"


@dataclass(frozen=True)
class Statements:
    """The statements of a text in order, and the syntax error that ends them.

    ``error`` is set when an empty statement follows ``texts``: MySQL answers
    each of ``texts``, then the error.
    """

    texts: list[str]
    error: SqlSyntaxError | None = None


def trim_query(sql: str) -> str:
    """The text as MySQL runs it: leading white space, trailing ``;`` and space cut.

    >>> trim_query("  SELECT 1; ;\\n")
    'SELECT 1'
    """
    return sql.lstrip(_SPACE).rstrip(_SPACE + ";")


def split_statements(sql: str) -> Statements:
    """The statements of a trimmed text, each without its semicolon.

    Text the tokenizer cannot read (an unclosed quote) is kept whole, so that
    the session reports the syntax error as for any other query.
    """
    if ";" not in sql:
        return Statements([sql])
    try:
        tokens = MySQL().tokenize(sql)
    except TokenError:
        return Statements([sql])

    texts: list[str] = []
    start = 0
    seen = False
    for token in tokens:
        if token.token_type != TokenType.SEMICOLON:
            seen = True
            continue
        if not seen:
            return Statements(texts, _empty_statement(sql, start, token))
        texts.append(sql[start : token.start].lstrip(_SPACE))
        start, seen = token.end + 1, False
    # After the last semicolon: a statement, or only a comment, which the
    # session answers with OK (as MySQL does).
    tail = sql[start:].lstrip(_SPACE)
    if tail:
        texts.append(tail)
    return Statements(texts)


def _empty_statement(sql: str, start: int, semicolon: Token) -> SqlSyntaxError:
    # MySQL's message quotes the text from the semicolon, and counts lines from
    # where the statement began.
    begin = len(sql) - len(sql[start:].lstrip(_SPACE))
    line = sql.count("\n", begin, semicolon.start) + 1
    near = sql[semicolon.start :][:80]
    return SqlSyntaxError(
        f"You have an error in your SQL syntax; a statement is empty "
        f"near '{near}' at line {line}"
    )
