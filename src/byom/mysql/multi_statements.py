"""Several statements in one COM_QUERY, for clients that set CLIENT_MULTI_STATEMENTS.

MySQL runs ``SELECT 1; SELECT 2`` statement by statement and sends each result
in turn (``commands`` writes them). The text is cut at each semicolon that
sqlglot's MySQL tokenizer sees outside strings, quoted names and comments, so
byom's own statements (CREATE PREDICTOR with JSON in USING) are cut as MySQL
would cut them::

    SELECT 1; SELECT 'a;b' -- c;  ->  ["SELECT 1", "SELECT 'a;b'"]

A client that did not set the flag gets its text as one statement, which the
session refuses when it holds more than one.
"""

from __future__ import annotations

from sqlglot import Token, TokenType
from sqlglot.dialects import MySQL
from sqlglot.errors import TokenError


def split_statements(sql: str) -> list[str]:
    """The statements of sql in order, each without its semicolon.

    Empty statements (``;;``, a trailing comment) are dropped. Text the tokenizer
    cannot read (an unclosed quote) is kept whole, so that the session reports
    the syntax error as for any other query.
    """
    if ";" not in sql:
        return [sql]
    try:
        tokens = MySQL().tokenize(sql)
    except TokenError:
        return [sql]

    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    texts = [_text(sql, part) for part in statements if part]
    return texts if len(texts) > 1 else [sql]


def _text(sql: str, tokens: list[Token]) -> str:
    # From the first token to the last, with the comments between them.
    return sql[tokens[0].start : tokens[-1].end + 1]
