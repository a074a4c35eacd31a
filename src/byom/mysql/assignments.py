"""SET as clients send it, and ``@name`` user variables.

Stock mysql-mimic stores only literal right-hand sides (MariaDB Connector/J's
``sql_mode = concat(@@sql_mode, ',STRICT_TRANS_TABLES')`` on connect got 1235),
refuses ``SET @x = 1`` and fails ``SELECT @x``. byom runs after mimic has put
the values of ``@@variables`` and ``DATABASE()``-like functions into the tree,
and before mimic's SET handler:

- each right-hand side that is not a literal is evaluated with sqlglot's
  executor and replaced by its value::

      SET sql_mode = concat('ANSI', ',STRICT_TRANS_TABLES')
      -> SET sql_mode = 'ANSI,STRICT_TRANS_TABLES'

- ``SET @x = expr`` stores the value in the session; ``@x`` anywhere else is
  replaced by its value (NULL when never set, as in MySQL);
- ``SET GLOBAL`` and ``SET PERSIST`` are refused with 1227: every variable of
  byom belongs to one connection.
"""

from __future__ import annotations

from typing import Any

from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.intercept import setitem_kind, value_to_expression
from mysql_mimic.variables import Variables
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.executor import execute

from byom.errors import NotSupportedError, PrivilegeError

_SERVER_SCOPES = {"GLOBAL", "PERSIST", "PERSIST_ONLY"}
# Values mimic itself understands on the right of SET (besides literals).
_KEYWORDS = {"ON", "OFF", "DEFAULT"}
_TRUE_WORDS = {"ON", "TRUE", "YES", "1"}
_FALSE_WORDS = {"OFF", "FALSE", "NO", "0"}


def substitute_user_variables(
    expression: exp.Expression, values: dict[str, Any]
) -> None:
    """Replace, in place, every ``@name`` by its value (a select list keeps the label).

    SELECT @x, @y + 1  ->  SELECT 1 AS `@x`, NULL + 1  (with @x = 1, @y unset)
    """

    def replace(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Parameter):
            return node
        literal = value_to_expression(values.get(node.name.lower()))
        if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
            return exp.alias_(literal, exp.to_identifier(f"@{node.name}"))
        return literal

    if isinstance(expression, exp.Set):
        # SET substitutes item by item: SET @a = 1, @b = @a + 1 reads the new @a.
        return
    expression.transform(replace, copy=False)


def fold_set(
    statement: exp.Set, variables: Variables, user_variables: dict[str, Any]
) -> exp.Set | None:
    """Apply the user-variable items of statement and fold the others' values.

    Returns the SET that is left for mimic's handler (system variables, NAMES,
    TRANSACTION, ...), or None when nothing is left.
    """
    left = []
    for item in statement.expressions:
        if setitem_kind(item) != "VARIABLE" or not isinstance(item.this, exp.Binary):
            left.append(item)
            continue
        target, value = item.this.left, item.this.expression
        value = _with_user_values(value, user_variables)
        if isinstance(target, exp.Parameter):
            user_variables[target.name.lower()] = _user_value(_evaluate(value, target))
            continue

        _refuse_server_scope(item, target)
        name = target.name
        if not _is_keyword(value):
            folded = _evaluate(value, target)
            item.this.set(
                "expression", value_to_expression(_typed(variables, name, folded))
            )
        left.append(item)
    if not left:
        return None
    statement.set("expressions", left)
    return statement


def _with_user_values(value: exp.Expr, user_variables: dict[str, Any]) -> exp.Expr:
    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Parameter):
            return value_to_expression(user_variables.get(node.name.lower()))
        return node

    return value.transform(replace)


def _refuse_server_scope(item: exp.SetItem, target: exp.Expr) -> None:
    scope = item.text("kind").upper()
    if isinstance(target, exp.SessionParameter):
        scope = target.text("kind").upper() or scope
    if scope in _SERVER_SCOPES:
        raise PrivilegeError(
            f"Global variables cannot be changed on byom (SET {scope} "
            f"{target.name}); SET SESSION {target.name} changes it for this "
            "connection only"
        )


def _is_keyword(value: exp.Expr) -> bool:
    if value in (exp.true(), exp.false(), exp.null()):
        return True
    return isinstance(value, exp.Var | exp.Column) and value.name.upper() in _KEYWORDS


def _evaluate(value: exp.Expr, target: exp.Expr) -> Any:
    if isinstance(value, exp.Var) or (
        isinstance(value, exp.Column) and not value.table
    ):
        # SET sql_mode = TRADITIONAL: MySQL takes a bare word as a string.
        return value.name
    try:
        result = execute(exp.select(value.copy()))
    except (SqlglotError, KeyError, TypeError, ValueError, ZeroDivisionError):
        raise NotSupportedError(
            f"cannot compute the value for {target.sql('mysql')}: "
            f"{value.sql('mysql')} is not a constant expression byom can evaluate"
        ) from None
    return result.rows[0][0] if result.rows else None


def _user_value(value: Any) -> Any:
    # MySQL keeps TRUE and FALSE in a user variable as 1 and 0.
    return int(value) if isinstance(value, bool) else value


def _typed(variables: Variables, name: str, value: Any) -> Any:
    """value as the variable's type wants it; a boolean from ON/OFF and the like."""
    kind = variables.get_schema(name.lower())[0]
    if kind is not bool or value is None or isinstance(value, bool):
        return value
    word = str(value).strip().upper()
    if word in _TRUE_WORDS or (isinstance(value, int | float) and value != 0):
        return True
    if word in _FALSE_WORDS or (isinstance(value, int | float) and value == 0):
        return False
    raise MysqlError(
        f"Variable '{name}' can't be set to the value of '{value}'",
        ErrorCode.WRONG_VALUE_FOR_VAR,
    )


def normalized_sql_mode(value: object) -> str:
    """A sql_mode value as MySQL stores it: upper case, each mode once.

    'ansi,STRICT_TRANS_TABLES,ansi' -> 'ANSI,STRICT_TRANS_TABLES'
    """
    modes = [mode.strip().upper() for mode in str(value).split(",")]
    return ",".join(dict.fromkeys(mode for mode in modes if mode))
