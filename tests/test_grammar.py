"""byom's own statements: CREATE PREDICTOR / MODEL and CREATE DATABASE ... ENGINE."""

from __future__ import annotations

from typing import Any

import pytest

from byom.errors import NotSupportedError, SqlSyntaxError, WrongArgumentsError
from byom.sql.grammar import parse_statement
from byom.sql.statements import CreateDatabase, CreatePredictor

SEED = """
CREATE PREDICTOR byom FROM mydb (
    SELECT number_of_rooms, initial_price, rental_price FROM test_data.home_rentals
) PREDICT number_of_rooms
USING url.train = 'http://127.0.0.1:8000/my_model/train',
      url.predict = 'http://127.0.0.1:8000/my_model/predict',
      dtype_dict = {"number_of_rooms": "categorical", "initial_price": "integer",
                    "rental_price": "integer"},
      format = 'ray_server';
"""

MLFLOW = """
CREATE PREDICTOR mindsdb.rooms_mlflow
PREDICT number_of_rooms
USING url.predict = 'http://127.0.0.1:5001/invocations',
      dtype_dict = '{"number_of_rooms": "integer", "initial_price": "integer"}',
      format = 'mlflow';
"""

HOME_QUERY = (
    "SELECT number_of_rooms, initial_price, rental_price FROM test_data.home_rentals"
)
# Parentheses inside strings, a nested query and a comment holding ')'.
TRICKY_QUERY = """SELECT (a + (b * 2)) AS c, ')' AS d, 'it''s (' AS e, "\\")" AS f
  FROM (SELECT a, b FROM t WHERE x IN (1, 2)) AS s -- a ) in a comment"""
SEED_USING = {
    "url": {
        "train": "http://127.0.0.1:8000/my_model/train",
        "predict": "http://127.0.0.1:8000/my_model/predict",
    },
    "dtype_dict": {
        "number_of_rooms": "categorical",
        "initial_price": "integer",
        "rental_price": "integer",
    },
    "format": "ray_server",
}


def predictor(**changes: Any) -> CreatePredictor:
    """A CreatePredictor for ``CREATE PREDICTOR p FROM db (SELECT 1) PREDICT y``."""
    fields: dict[str, Any] = {
        "name": "p",
        "project": None,
        "integration": "db",
        "select_sql": "SELECT 1",
        "target": "y",
        "using": {},
        "if_not_exists": False,
        "or_replace": False,
    }
    return CreatePredictor(**(fields | changes))


def database(**changes: Any) -> CreateDatabase:
    """A CreateDatabase for ``CREATE DATABASE db WITH ENGINE = 'mysql'``."""
    fields: dict[str, Any] = {
        "name": "db",
        "engine": "mysql",
        "parameters": {},
        "if_not_exists": False,
        "or_replace": False,
    }
    return CreateDatabase(**(fields | changes))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(
            SEED,
            predictor(
                name="byom",
                integration="mydb",
                select_sql=HOME_QUERY,
                target="number_of_rooms",
                using=SEED_USING,
            ),
            id="seed-ray-serve",
        ),
        pytest.param(
            MLFLOW,
            predictor(
                name="rooms_mlflow",
                project="mindsdb",
                integration=None,
                select_sql=None,
                target="number_of_rooms",
                using={
                    "url": {"predict": "http://127.0.0.1:5001/invocations"},
                    "dtype_dict": (
                        '{"number_of_rooms": "integer", "initial_price": "integer"}'
                    ),
                    "format": "mlflow",
                },
            ),
            id="mlflow-without-from-json-kept-as-string",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) PREDICT y",
            predictor(),
            id="no-using",
        ),
        pytest.param(
            "create model MindsDB.P from DB (select 1) predict Y using Format='x'",
            predictor(
                name="P",
                project="MindsDB",
                integration="DB",
                select_sql="select 1",
                target="Y",
                using={"Format": "x"},
            ),
            id="create-model-lower-case-keywords-names-as-typed",
        ),
        pytest.param(
            "CREATE PREDICTOR IF NOT EXISTS p FROM db (SELECT 1) PREDICT y",
            predictor(if_not_exists=True),
            id="if-not-exists",
        ),
        pytest.param(
            "CREATE OR REPLACE MODEL p FROM db (SELECT 1) PREDICT y",
            predictor(or_replace=True),
            id="or-replace",
        ),
        pytest.param(
            "CREATE PREDICTOR `my model` FROM `my db` (SELECT 1) PREDICT `y``s`",
            predictor(name="my model", integration="my db", target="y`s"),
            id="backquoted-names",
        ),
        pytest.param(
            'CREATE PREDICTOR "mindsdb"."p" FROM "db" (SELECT 1) PREDICT "y"',
            predictor(project="mindsdb"),
            id="double-quoted-names",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) AS t PREDICT y",
            predictor(),
            id="alias-after-query",
        ),
        pytest.param(
            f"CREATE PREDICTOR p FROM db (\n  {TRICKY_QUERY}\n) PREDICT y",
            predictor(select_sql=TRICKY_QUERY),
            id="subquery-with-nested-parens-strings-and-comment",
        ),
        pytest.param(
            "/* lead */ CREATE # why\n PREDICTOR p -- name\n"
            "FROM db\n(SELECT 1)\nPREDICT\ny\nUSING\na\n=\n1 ;",
            predictor(using={"a": 1}),
            id="comments-and-newlines-everywhere",
        ),
        pytest.param(
            'CREATE PREDICTOR p FROM db (SELECT 1) PREDICT y USING x."part 2".y = 1, '
            "x.`other`.z = 2, X.y = 3",
            predictor(
                using={"x": {"part 2": {"y": 1}, "other": {"z": 2}}, "X": {"y": 3}}
            ),
            id="quoted-key-parts-and-case-preserved-keys",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) PREDICT y USING "
            "i = 42, n = -7, f = 0.5, e = 1e3, g = +2.5, "
            "t = TRUE, ff = false, z = Null, "
            'a = [1, "two", [null, true], {"k": "}]"}], o = {}',
            predictor(
                using={
                    "i": 42,
                    "n": -7,
                    "f": 0.5,
                    "e": 1000.0,
                    "g": 2.5,
                    "t": True,
                    "ff": False,
                    "z": None,
                    "a": [1, "two", [None, True], {"k": "}]"}],
                    "o": {},
                }
            ),
            id="numbers-literals-arrays-objects",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) PREDICT y USING "
            "a = 'it''s', b = 'say \\'hi\\'\\n', c = \"dq \"\"x\"\" 'y'\", "
            "d = 'like\\%', e = ''",
            predictor(
                using={
                    "a": "it's",
                    "b": "say 'hi'\n",
                    "c": "dq \"x\" 'y'",
                    "d": "like\\%",
                    "e": "",
                }
            ),
            id="string-escapes",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) PREDICT y USING "
            'dtype_dict = {\n  "a": "it\'s {not} a \\"brace\\"",\n  "b": "x"\n}',
            predictor(using={"dtype_dict": {"a": 'it\'s {not} a "brace"', "b": "x"}}),
            id="multi-line-json-with-braces-and-quotes-in-strings",
        ),
    ],
)
def test_create_predictor(sql: str, expected: CreatePredictor) -> None:
    assert parse_statement(sql) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(
            "CREATE DATABASE db WITH ENGINE = 'mysql', PARAMETERS = "
            '{"host": "127.0.0.1", "port": 3306, "user": "root", '
            '"password": "p{a}ss", "database": "test_data"}',
            database(
                parameters={
                    "host": "127.0.0.1",
                    "port": 3306,
                    "user": "root",
                    "password": "p{a}ss",
                    "database": "test_data",
                }
            ),
            id="full-form",
        ),
        pytest.param(
            "create datasource db engine 'MySQL' parameters {\"port\": 1};",
            database(parameters={"port": 1}),
            id="datasource-without-with-equals-or-comma",
        ),
        pytest.param(
            "CREATE DATABASE db WITH ENGINE = 'postgres'",
            database(engine="postgres"),
            id="no-parameters",
        ),
        pytest.param(
            "CREATE DATABASE db ENGINE = Postgres",
            database(engine="postgres"),
            id="bare-engine-name",
        ),
        pytest.param(
            "CREATE OR REPLACE DATABASE `my db` WITH ENGINE = 'mysql'",
            database(name="my db", or_replace=True),
            id="or-replace-quoted-name",
        ),
        pytest.param(
            "CREATE DATABASE IF NOT EXISTS db WITH ENGINE = 'mysql'",
            database(if_not_exists=True),
            id="if-not-exists",
        ),
    ],
)
def test_create_database(sql: str, expected: CreateDatabase) -> None:
    assert parse_statement(sql) == expected


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("CREATE DATABASE foo", id="mysql-create-database"),
        pytest.param(
            "CREATE DATABASE IF NOT EXISTS foo CHARACTER SET utf8mb4",
            id="mysql-create-database-with-options",
        ),
        pytest.param("CREATE OR REPLACE DATABASE foo", id="mariadb-or-replace"),
        pytest.param("CREATE OR REPLACE VIEW v AS SELECT 1", id="create-view"),
        pytest.param("CREATE TABLE t (a INT)", id="create-table"),
        pytest.param("SELECT * FROM mindsdb.p WHERE a = 'unclosed", id="select"),
        pytest.param("-- just a comment\n", id="comment-only"),
        pytest.param("", id="empty"),
    ],
)
def test_not_ours(sql: str) -> None:
    assert parse_statement(sql) is None


@pytest.mark.parametrize(
    ("sql", "error", "message"),
    [
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) USING a = 1",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected PREDICT "
            "near 'USING a = 1' at line 1",
            id="missing-predict",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db SELECT 1 PREDICT y",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected '(' "
            "near 'SELECT 1 PREDICT y' at line 1",
            id="query-without-parentheses",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT (1) PREDICT y",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected ')' closing the query "
            "near '' at line 1",
            id="unclosed-query",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db ( ) PREDICT y",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a query inside the "
            "parentheses near ') PREDICT y' at line 1",
            id="empty-query",
        ),
        pytest.param(
            "CREATE PREDICTOR p\nPREDICT y\nUSING format = 'mlflow",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a closing ' "
            "near ''mlflow' at line 3",
            id="unclosed-string",
        ),
        pytest.param(
            "CREATE PREDICTOR p PREDICT y USING format = mlflow",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a value for format "
            "near 'mlflow' at line 1",
            id="bare-word-value",
        ),
        pytest.param(
            "CREATE PREDICTOR p PREDICT y USING url. = 'x'",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a key part after '.' "
            "near '= 'x'' at line 1",
            id="dangling-dot-in-key",
        ),
        pytest.param(
            "CREATE PREDICTOR p PREDICT y USING a = 1 b = 2",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near 'b = 2' at line 1",
            id="missing-comma",
        ),
        pytest.param(
            "CREATE PREDICTOR p PREDICT y USING a = 1; SELECT 1",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near 'SELECT 1' at line 1",
            id="second-statement",
        ),
        pytest.param(
            "CREATE PREDICTOR a.b.c PREDICT y",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected PREDICT "
            "near '.c PREDICT y' at line 1",
            id="three-part-name",
        ),
        pytest.param(
            "CREATE PREDICTOR IF EXISTS p PREDICT y",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected NOT "
            "near 'EXISTS p PREDICT y' at line 1",
            id="if-without-not",
        ),
        pytest.param(
            "CREATE OR REPLACE PREDICTOR IF NOT EXISTS p PREDICT y",
            SqlSyntaxError,
            "You have an error in your SQL syntax; OR REPLACE and IF NOT EXISTS "
            "cannot be used together near 'IF NOT EXISTS p PREDICT y' at line 1",
            id="or-replace-with-if-not-exists",
        ),
        pytest.param(
            "CREATE DATASOURCE db",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected ENGINE near '' at line 1",
            id="datasource-without-engine",
        ),
        pytest.param(
            "CREATE DATABASE db WITH PARAMETERS = {}",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected ENGINE "
            "near 'PARAMETERS = {}' at line 1",
            id="with-but-no-engine",
        ),
        pytest.param(
            "CREATE DATABASE db WITH ENGINE = 'mysql', PARAMETERS = '{}'",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a JSON object "
            "near ''{}'' at line 1",
            id="parameters-as-string",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) PREDICT a, b USING x = 1",
            NotSupportedError,
            "PREDICT a, b: byom predicts one column per predictor",
            id="several-predict-columns",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) PREDICT y ORDER BY t WINDOW 10",
            NotSupportedError,
            "ORDER BY in CREATE PREDICTOR: time-series predictors are not supported",
            id="order-by",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) PREDICT y group by s",
            NotSupportedError,
            "GROUP BY in CREATE PREDICTOR: time-series predictors are not supported",
            id="group-by",
        ),
        pytest.param(
            "CREATE PREDICTOR p FROM db (SELECT 1) PREDICT y HORIZON 3",
            NotSupportedError,
            "HORIZON in CREATE PREDICTOR: time-series predictors are not supported",
            id="horizon",
        ),
        pytest.param(
            "CREATE PREDICTOR p PREDICT y USING url.train = 'a', url.train = 'b'",
            WrongArgumentsError,
            "USING key url.train is given twice",
            id="duplicate-key",
        ),
        pytest.param(
            "CREATE PREDICTOR p PREDICT y USING url = 'a', url.train = 'b'",
            WrongArgumentsError,
            "USING key url.train conflicts with url",
            id="key-both-value-and-group",
        ),
        pytest.param(
            "CREATE PREDICTOR p PREDICT y USING dtype_dict = {'a': 'integer'}",
            WrongArgumentsError,
            "dtype_dict: invalid JSON: Expecting property name enclosed in double "
            "quotes at line 1 column 2",
            id="json-with-single-quotes",
        ),
        pytest.param(
            'CREATE PREDICTOR p PREDICT y USING dtype_dict = {"a": "integer",}',
            WrongArgumentsError,
            "dtype_dict: invalid JSON: Expecting property name enclosed in double "
            "quotes at line 1 column 17",
            id="json-trailing-comma",
        ),
        pytest.param(
            'CREATE PREDICTOR p PREDICT y USING dtype_dict = {"a": ["integer"}',
            WrongArgumentsError,
            "dtype_dict: the JSON value is never closed",
            id="json-unclosed",
        ),
        pytest.param(
            "CREATE DATABASE db WITH ENGINE = 'mysql', PARAMETERS = {\"port\": }",
            WrongArgumentsError,
            "PARAMETERS: invalid JSON: Expecting value at line 1 column 10",
            id="parameters-bad-json",
        ),
    ],
)
def test_malformed(sql: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        parse_statement(sql)

    assert str(caught.value) == message
