"""WHERE conditions as the planner reads them: conjuncts, constants, their values.

A query on a predictor gives model inputs as ``column = constant`` joined by
AND, so the planner splits a WHERE into its conjuncts and reads constants the
way MySQL does (``-TRUE`` is -1, ``1 = 1.0`` is true).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlglot import exp

from byom.errors import NotSupportedError
from byom.types import SqlType, from_value


def conjuncts_of(condition: exp.Expression) -> list[exp.Expression]:
    """The parts of a condition joined by AND (``(a AND b) AND c`` -> a, b, c)."""
    if isinstance(condition, exp.Paren):
        return conjuncts_of(condition.this)
    if isinstance(condition, exp.And):
        return conjuncts_of(condition.this) + conjuncts_of(condition.expression)
    return [condition]


def is_constant(node: exp.Expression) -> bool:
    """True for a literal number, string, TRUE, FALSE or NULL, minus signs allowed.

    Also MySQL's other literal forms: hexadecimal (``0x10``) and typed dates
    (``DATE '2024-01-01'``, ``TIMESTAMP '2024-01-01 10:00:00'``).
    """
    if isinstance(node, exp.Neg):
        return is_constant(node.this)
    if _temporal_literal(node) is not None:
        return True
    return isinstance(node, exp.Literal | exp.Null | exp.Boolean | exp.HexString)


def literal_value(node: exp.Expression, context: exp.Expression) -> Any:
    """The Python value of a constant; an error quoting context for others."""
    if isinstance(node, exp.Neg):
        return _negated(literal_value(node.this, context), context)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        return _literal(node)
    if isinstance(node, exp.HexString):
        return int(node.this, 16)
    temporal = _temporal_literal(node)
    if temporal is not None:
        return _temporal_value(temporal, context)
    raise NotSupportedError(
        f"expected a constant value in the WHERE, got: {context.sql('mysql')}"
    )


_TEMPORAL = {
    exp.DType.DATE,
    exp.DType.DATETIME,
    exp.DType.TIMESTAMP,
    exp.DType.TIMESTAMPTZ,
}
# An integer literal beyond BIGINT is a DECIMAL literal in MySQL.
_BIGINT = range(-(2**63), 2**63)


def _literal(node: exp.Literal) -> Any:
    if node.is_string:
        return node.this
    try:
        whole = int(node.this)
    except ValueError:
        return float(node.this)
    return whole if whole in _BIGINT else Decimal(node.this)


def _temporal_literal(node: exp.Expression) -> tuple[str, exp.DataType] | None:
    if (
        isinstance(node, exp.Cast)
        and isinstance(node.this, exp.Literal)
        and node.this.is_string
        and node.to.this in _TEMPORAL
    ):
        return node.this.this, node.to
    return None


def _temporal_value(
    literal: tuple[str, exp.DataType], context: exp.Expression
) -> dt.date | dt.datetime:
    text, kind = literal
    try:
        if kind.this == exp.DType.DATE:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise NotSupportedError(
            f"{kind.sql('mysql')} '{text}' is not a valid value, in: "
            f"{context.sql('mysql')}"
        ) from None


def constant_type(value: Any) -> SqlType:
    """The column type of a constant echoed as a model input (NULL: text)."""
    kind = from_value(value)
    return SqlType.VAR_STRING if kind is SqlType.NULL else kind


def is_false(condition: exp.Expression) -> bool:
    """True for FALSE and for a comparison of two numbers that differ."""
    # Clients probe a table's columns with WHERE 1 = 0 (or FALSE). Numbers are
    # compared by value, as MySQL does (1 = 1.0 is true); other constants are
    # left to the refusal of conditions that give no input.
    if isinstance(condition, exp.Boolean):
        return not condition.this
    if isinstance(condition, exp.EQ):
        left, right = _number(condition.this), _number(condition.expression)
        return left is not None and right is not None and left != right
    return False


def _negated(value: Any, context: exp.Expression) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return -int(value)  # MySQL: -TRUE is the integer -1
    if isinstance(value, int | float):
        return -value
    # MySQL would read the string as a number first, with its own rules for
    # text that is not one; the user can write the number instead.
    raise NotSupportedError(
        "a minus sign before a string is not supported in the WHERE; write the "
        f"number without quotes: {context.sql('mysql')}"
    )


def _number(node: exp.Expression) -> Decimal | None:
    """The exact value of a numeric constant (TRUE is 1), or None for others."""
    if isinstance(node, exp.Neg):
        value = _number(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Boolean):
        return Decimal(int(bool(node.this)))
    if isinstance(node, exp.Literal) and node.is_number:
        return Decimal(node.this)
    return None
