"""SET as clients send it, user variables, and SET GLOBAL, through PyMySQL.

Stock mysql-mimic refuses every non-literal right-hand side and user variables
with 1235, and answers SET GLOBAL with "Cannot SET variable ... with scope".
"""

from __future__ import annotations

from typing import Any

import pymysql
import pytest

from tests.support.byom_process import ByomProcess

SQL_MODE = (
    "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
)


def _rows(server: ByomProcess, *sql: str) -> list[tuple[Any, ...]]:
    with server.connect() as connection, connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)
        return list(cursor.fetchall())


@pytest.mark.parametrize(
    ("statements", "rows"),
    [
        pytest.param(
            [
                "set autocommit=1, sql_mode = "
                "concat(@@sql_mode,',STRICT_TRANS_TABLES')",
                "SELECT @@autocommit, @@sql_mode",
            ],
            [(1, SQL_MODE)],
            id="connector-j-connect",
        ),
        pytest.param(
            [
                "SET sql_mode = concat(@@sql_mode, ',ANSI_QUOTES')",
                "SELECT @@sql_mode",
            ],
            [(SQL_MODE + ",ANSI_QUOTES",)],
            id="sql-mode-concat",
        ),
        pytest.param(
            ["SET sql_mode = 'ansi,ansi'", "SELECT @@sql_mode"],
            [("ANSI",)],
            id="sql-mode-normalised",
        ),
        pytest.param(
            ["SET autocommit = 0", "SET autocommit = 1", "SELECT @@autocommit"],
            [(1,)],
            id="autocommit-1",
        ),
        pytest.param(
            ["SET autocommit = OFF", "SELECT @@autocommit"],
            [(0,)],
            id="autocommit-off",
        ),
        pytest.param(
            ["SET @@session.autocommit = 0", "SELECT @@autocommit"],
            [(0,)],
            id="session-autocommit",
        ),
        pytest.param(
            ["SET autocommit = 'OFF'", "SELECT @@autocommit"],
            [(0,)],
            id="autocommit-off-string",
        ),
        pytest.param(
            ["SET max_execution_time = 1000 * 60", "SELECT @@max_execution_time"],
            [(60000,)],
            id="arithmetic",
        ),
        pytest.param(
            [
                "SELECT @@max_allowed_packet,@@system_time_zone,@@time_zone,"
                "@@auto_increment_increment"
            ],
            [(67108864, "UTC", "SYSTEM", 1)],
            id="connector-j-variables",
        ),
        pytest.param(["SET @x = 1", "SELECT @x"], [(1,)], id="user-variable"),
        pytest.param(
            ["SET @a := 2, @b = @a + 1, @S = 'text'", "SELECT @a, @B, @s, @never"],
            [(2, 3, "text", None)],
            id="user-variables-chained",
        ),
        pytest.param(
            ["SET @m = @@sql_mode", "SELECT @m = @@sql_mode"],
            [(1,)],
            id="user-variable-from-system",
        ),
        pytest.param(
            ["SET @x = 41", "SELECT @x + 1 AS answer FROM DUAL"],
            [(42,)],
            id="user-variable-in-expression",
        ),
    ],
)
def test_set_forms_clients_send(
    server: ByomProcess, statements: list[str], rows: list[tuple[Any, ...]]
) -> None:
    assert _rows(server, *statements) == rows


def test_user_variables_belong_to_one_session(server: ByomProcess) -> None:
    assert _rows(server, "SET @mine = 'a'", "SELECT @mine") == [("a",)]
    assert _rows(server, "SELECT @mine") == [(None,)]


def test_select_labels_user_variables(server: ByomProcess) -> None:
    with server.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SET @x = 1")
        cursor.execute("SELECT @x, @y")
        assert [d[0] for d in cursor.description] == ["@x", "@y"]


@pytest.mark.parametrize(
    ("sql", "code", "message"),
    [
        pytest.param(
            "SET GLOBAL max_execution_time = 1",
            1227,
            "Global variables cannot be changed on byom (SET GLOBAL "
            "max_execution_time); SET SESSION max_execution_time changes it for "
            "this connection only",
            id="set-global",
        ),
        pytest.param(
            "SET @@global.autocommit = 0",
            1227,
            "Global variables cannot be changed on byom (SET GLOBAL autocommit); "
            "SET SESSION autocommit changes it for this connection only",
            id="at-at-global",
        ),
        pytest.param(
            "SET PERSIST sql_mode = ''",
            1227,
            "Global variables cannot be changed on byom (SET PERSIST sql_mode); "
            "SET SESSION sql_mode changes it for this connection only",
            id="set-persist",
        ),
        pytest.param(
            "SET autocommit = 'maybe'",
            1231,
            "Variable 'autocommit' can't be set to the value of 'maybe'",
            id="bad-boolean",
        ),
        pytest.param(
            "SET no_such_variable = 1",
            1193,
            "Unknown variable: no_such_variable",
            id="unknown-variable",
        ),
    ],
)
def test_set_refused(server: ByomProcess, sql: str, code: int, message: str) -> None:
    # autocommit=True: PyMySQL's default turns it off at connect, as on MySQL.
    with server.connect(autocommit=True) as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(sql)
        assert caught.value.args == (code, message)
        cursor.execute("SELECT @@autocommit")
        assert cursor.fetchall() == ((1,),)
