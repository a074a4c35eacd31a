"""Conversions between model answers, Python values and MySQL column types."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from byom.backends.base import records_json
from byom.backends.http import redact_url
from byom.types import SqlType, cast_value, common_type, from_value


@pytest.mark.parametrize(
    ("value", "sql_type", "expected"),
    [
        pytest.param(2.0, SqlType.LONGLONG, 2, id="integral-float-to-int"),
        pytest.param("3", SqlType.LONGLONG, 3, id="numeric-string-to-int"),
        pytest.param(True, SqlType.LONGLONG, 1, id="bool-to-int"),
        pytest.param(2**63 - 1, SqlType.LONGLONG, 2**63 - 1, id="bigint-max"),
        pytest.param(-(2**63), SqlType.LONGLONG, -(2**63), id="bigint-min"),
        pytest.param(2.0, SqlType.VAR_STRING, "2", id="class-label-float"),
        pytest.param("cat", SqlType.VAR_STRING, "cat", id="label"),
        pytest.param(1, SqlType.DOUBLE, 1.0, id="int-to-double"),
        pytest.param(
            0.1, SqlType.NEWDECIMAL, decimal.Decimal("0.1"), id="float-to-decimal"
        ),
        pytest.param("2024-02-29", SqlType.DATE, dt.date(2024, 2, 29), id="iso-date"),
        pytest.param(
            "2024-02-29T10:11:12",
            SqlType.DATETIME,
            dt.datetime(2024, 2, 29, 10, 11, 12),
            id="iso-datetime",
        ),
        pytest.param(float("nan"), SqlType.DOUBLE, None, id="nan-is-null"),
        pytest.param(None, SqlType.LONGLONG, None, id="null"),
    ],
)
def test_cast_value(value: Any, sql_type: SqlType, expected: Any) -> None:
    cast = cast_value(value, sql_type)
    assert cast == expected
    assert type(cast) is type(expected)


@pytest.mark.parametrize(
    ("value", "sql_type"),
    [
        pytest.param(2.5, SqlType.LONGLONG, id="fraction-for-int"),
        pytest.param("three", SqlType.LONGLONG, id="word-for-int"),
        pytest.param([1], SqlType.LONGLONG, id="list-for-int"),
        pytest.param(1e30, SqlType.LONGLONG, id="float-beyond-bigint"),
        pytest.param(2**63, SqlType.LONGLONG, id="int-beyond-bigint"),
        pytest.param("-9223372036854775809", SqlType.LONGLONG, id="text-below"),
    ],
)
def test_cast_value_refuses(value: Any, sql_type: SqlType) -> None:
    with pytest.raises(ValueError):
        cast_value(value, sql_type)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([1, 2, None], SqlType.LONGLONG, id="ints-and-null"),
        pytest.param([1, 2.5], SqlType.DOUBLE, id="ints-and-floats"),
        pytest.param([1, decimal.Decimal("2.5")], SqlType.NEWDECIMAL, id="decimal"),
        pytest.param(["a", 1], SqlType.VAR_STRING, id="mixed"),
        pytest.param([None, None], SqlType.NULL, id="all-null"),
        pytest.param([dt.date(2020, 1, 1)], SqlType.DATE, id="date"),
    ],
)
def test_common_type(values: list[Any], expected: SqlType) -> None:
    assert common_type(values) is expected


def test_from_value_keeps_bool_apart_from_int() -> None:
    assert from_value(True) is SqlType.TINY
    assert from_value(1) is SqlType.LONGLONG


def test_records_json_sends_null_for_nan_and_exact_numbers_for_decimals() -> None:
    text = records_json(
        ["a", "b", "c", "d"],
        [(1, float("nan"), decimal.Decimal("2.50"), dt.date(2024, 1, 2))],
    )
    assert text == '[{"a":1,"b":null,"c":2.50,"d":"2024-01-02"}]'


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "http://user:secret@host:8000/m/predict?token=abc",
            "http://host:8000/m/predict",
            id="credentials-and-query",
        ),
        pytest.param("https://host/p", "https://host/p", id="plain"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
