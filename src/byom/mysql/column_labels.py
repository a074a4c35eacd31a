"""Result column names as MySQL gives them: the select item's text as typed.

MySQL names an unaliased column by the text the client wrote for it. mysql-mimic
puts values in place of information functions and ``@@variables`` before the
query runs and names the column by sqlglot's rendering of what it replaced, so
``SELECT DATABASE()`` came back as ``CURRENT_SCHEMA()`` and ``VERSION()`` as
``CURRENT_VERSION()``; a query without a table named ``1+1`` ``_col_0``. Here,
before mimic's replacement, such items get the text as typed for an alias::

    SELECT database( ), @@VERSION, 1+1, 'a'
    -> SELECT database( ) AS `database( )`, @@VERSION AS `@@VERSION`,
       1+1 AS `1+1`, 'a'

Only two kinds of item are labelled, so queries on tables keep the names the
planner gives them: items that hold something mimic replaces, in any SELECT,
and every item but a column or a string literal (which MySQL names by its value)
in a SELECT without a table. The text is taken from the tokens between the
commas of the select list, and used only when it parses back into the same
expression; otherwise the item keeps mimic's name.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlglot
from mysql_mimic.variable_processor import variable_constants
from sqlglot import Token, TokenType, exp
from sqlglot.dialects import MySQL
from sqlglot.errors import SqlglotError

_OPENING = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
_CLOSING = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}
# Clauses that end a select list.
_ENDS = {
    TokenType.FROM, TokenType.WHERE, TokenType.GROUP_BY, TokenType.HAVING,
    TokenType.ORDER_BY, TokenType.LIMIT, TokenType.INTO, TokenType.UNION,
    TokenType.EXCEPT, TokenType.INTERSECT, TokenType.WINDOW, TokenType.FOR,
    TokenType.SEMICOLON, TokenType.LOCK,
}  # fmt: skip
# What may stand between SELECT and the first item.
_MODIFIERS = {TokenType.HINT, TokenType.DISTINCT, TokenType.ALL}


def label_as_typed(
    statement: exp.Expression, sql: str, replaced: Collection[str]
) -> None:
    """Alias, in place, the items of statement's select list that MySQL names by text.

    replaced holds the upper-case names of the functions mimic replaces by
    values (``DATABASE``, ``VERSION``, ...).
    """
    select: exp.Expr = statement
    while isinstance(select, exp.Union):
        # A UNION's columns are named by its first SELECT.
        select = select.left
    if not isinstance(select, exp.Select):
        return
    wanted = [_needs_label(item, select, replaced) for item in select.expressions]
    if not any(wanted):
        return

    texts = select_item_texts(sql)
    if texts is None or len(texts) != len(select.expressions):
        return
    items = list(select.expressions)
    for index, (item, text) in enumerate(zip(items, texts, strict=True)):
        if wanted[index] and _parses_as(text, item):
            items[index] = exp.alias_(item, exp.to_identifier(text, quoted=True))
    select.set("expressions", items)


def select_item_texts(sql: str) -> list[str] | None:
    """The text of each item of the select list sql starts with, or None.

    "SELECT DISTINCT a, f(b, c) FROM t" -> ["a", "f(b, c)"]
    """
    try:
        tokens = MySQL().tokenize(sql)
    except SqlglotError:
        return None
    if not tokens or tokens[0].token_type != TokenType.SELECT:
        return None
    items: list[list[Token]] = [[]]
    depth = 0
    for token in tokens[1:]:
        kind = token.token_type
        if depth == 0 and kind in _ENDS:
            break
        depth += (kind in _OPENING) - (kind in _CLOSING)
        if depth == 0 and kind == TokenType.COMMA:
            items.append([])
        elif len(items) > 1 or items[0] or kind not in _MODIFIERS:
            items[-1].append(token)
    if not all(items):
        return None
    return [sql[item[0].start : item[-1].end + 1] for item in items]


def _needs_label(item: exp.Expr, select: exp.Select, replaced: Collection[str]) -> bool:
    if isinstance(item, exp.Alias | exp.Star):
        return False
    if any(_is_replaced(node, replaced) for node in item.walk()):
        return True
    if _reads_a_table(select):
        return False
    is_string = isinstance(item, exp.Literal) and item.is_string
    return not is_string and not isinstance(item, exp.Column)


def _is_replaced(node: exp.Expr, replaced: Collection[str]) -> bool:
    # The same tests as mimic's VariableProcessor, which does the replacing.
    if isinstance(node, exp.Anonymous):
        return node.name.upper() in replaced
    if isinstance(node, exp.Func):
        return node.sql_name() in replaced
    if isinstance(node, exp.Column):
        return node.sql() in variable_constants
    return isinstance(node, exp.SessionParameter)


def _reads_a_table(select: exp.Select) -> bool:
    tables = list(select.find_all(exp.Table))
    return any(t.name.upper() != "DUAL" or t.db for t in tables)


def _parses_as(text: str, item: exp.Expr) -> bool:
    try:
        parsed = sqlglot.parse_one(f"SELECT {text}", read="mysql")
    except SqlglotError:
        return False
    return isinstance(parsed, exp.Select) and parsed.expressions == [item]
