"""byom's own statements: CREATE, DROP, RETRAIN, SHOW and DESCRIBE for predictors,
CREATE and DROP DATABASE for data sources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from byom.errors import NotSupportedError, SqlSyntaxError, WrongArgumentsError
from byom.sql import grammar
from byom.sql.grammar import parse_statement
from byom.sql.statements import (
    CreateDatabase,
    CreatePredictor,
    DescribePredictor,
    DropDatabase,
    DropPredictor,
    Retrain,
    ShowPredictors,
)

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


def retrain(**changes: Any) -> Retrain:
    """A Retrain for ``RETRAIN p``."""
    fields: dict[str, Any] = {
        "name": "p",
        "project": None,
        "integration": None,
        "select_sql": None,
        "using": {},
    }
    return Retrain(**(fields | changes))


def show(**changes: Any) -> ShowPredictors:
    """A ShowPredictors for ``SHOW PREDICTORS``."""
    fields: dict[str, Any] = {
        "models": False,
        "project": None,
        "like": None,
        "where_sql": None,
    }
    return ShowPredictors(**(fields | changes))


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
    ("sql", "expected"),
    [
        pytest.param("DROP PREDICTOR p", DropPredictor("p", None, False), id="plain"),
        pytest.param(
            "drop model mindsdb.p;",
            DropPredictor("p", "mindsdb", False),
            id="model-lower-case-project-semicolon",
        ),
        pytest.param(
            "DROP PREDICTOR IF EXISTS `my model`",
            DropPredictor("my model", None, True),
            id="if-exists-backquoted",
        ),
        pytest.param(
            'Drop Model If Exists "MindsDB"."P"',
            DropPredictor("P", "MindsDB", True),
            id="mixed-case-double-quoted-names-as-typed",
        ),
        pytest.param(
            "/* lead */ DROP -- why\n PREDICTOR # which\n\tp ;",
            DropPredictor("p", None, False),
            id="comments-and-newlines",
        ),
        pytest.param("DROP DATABASE db", DropDatabase("db", False), id="database"),
        pytest.param(
            "drop datasource if exists db;",
            DropDatabase("db", True),
            id="datasource-if-exists",
        ),
        pytest.param(
            "DROP SCHEMA `my db`", DropDatabase("my db", False), id="schema-quoted"
        ),
        pytest.param(
            "DROP DATABASE mindsdb", DropDatabase("mindsdb", False), id="project-name"
        ),
    ],
)
def test_drop(sql: str, expected: DropPredictor | DropDatabase) -> None:
    assert parse_statement(sql) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param("RETRAIN p", retrain(), id="name-only"),
        pytest.param("retrain mindsdb.p;", retrain(project="mindsdb"), id="project"),
        pytest.param(
            "RETRAIN PREDICTOR `my model`", retrain(name="my model"), id="predictor"
        ),
        pytest.param(
            'Retrain Model "MindsDB"."P"',
            retrain(name="P", project="MindsDB"),
            id="model-mixed-case",
        ),
        pytest.param(
            "RETRAIN MODEL mindsdb.p FROM db (SELECT a FROM t WHERE b = ')') "
            "USING url.train = 'http://h/train', n = 2;",
            retrain(
                project="mindsdb",
                integration="db",
                select_sql="SELECT a FROM t WHERE b = ')'",
                using={"url": {"train": "http://h/train"}, "n": 2},
            ),
            id="from-and-using",
        ),
        pytest.param(
            f"RETRAIN p FROM `my db` (\n  {TRICKY_QUERY}\n) AS t",
            retrain(integration="my db", select_sql=TRICKY_QUERY),
            id="tricky-query-with-alias",
        ),
        pytest.param(
            'RETRAIN p USING dtype_dict = {"a": "integer"}, format = \'mlflow\'',
            retrain(using={"dtype_dict": {"a": "integer"}, "format": "mlflow"}),
            id="using-only",
        ),
        pytest.param(
            "/* lead */ RETRAIN # why\n p -- now\n ;",
            retrain(),
            id="comments-and-newlines",
        ),
        pytest.param(
            "RETRAIN model", retrain(name="model"), id="predictor-named-model"
        ),
        pytest.param(
            "RETRAIN predictor USING a = 1",
            retrain(name="predictor", using={"a": 1}),
            id="predictor-named-predictor-with-using",
        ),
        pytest.param(
            "RETRAIN model FROM db (SELECT 1)",
            retrain(name="model", integration="db", select_sql="SELECT 1"),
            id="predictor-named-model-with-from",
        ),
        pytest.param(
            "RETRAIN MODEL predictor", retrain(name="predictor"), id="model-predictor"
        ),
    ],
)
def test_retrain(sql: str, expected: Retrain) -> None:
    assert parse_statement(sql) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param("SHOW PREDICTORS", show(), id="predictors"),
        pytest.param("show models;", show(models=True), id="models"),
        pytest.param(
            "SHOW MODELS FROM mindsdb",
            show(models=True, project="mindsdb"),
            id="from-project",
        ),
        pytest.param(
            "SHOW PREDICTORS IN `My Project`",
            show(project="My Project"),
            id="in-quoted-project",
        ),
        pytest.param(
            "SHOW MODELS LIKE 'it''s%'",
            show(models=True, like="it's%"),
            id="like",
        ),
        pytest.param(
            'Show Predictors From mindsdb Like "say ""hi""\\_%";',
            show(project="mindsdb", like='say "hi"\\_%'),
            id="from-and-like-double-quoted-with-escapes",
        ),
        pytest.param(
            "SHOW MODELS WHERE status = 'complete'",
            show(models=True, where_sql="status = 'complete'"),
            id="where",
        ),
        pytest.param(
            "SHOW PREDICTORS WHERE Name = 'a;b' AND (status <> 'error') ;",
            show(where_sql="Name = 'a;b' AND (status <> 'error')"),
            id="where-semicolon-in-string-and-at-end",
        ),
        pytest.param(
            "SHOW MODELS FROM mindsdb WHERE\n  /* lead */ name LIKE 'x%' -- first\n"
            '  OR `status` = "error"  # trailing\n;',
            show(
                models=True,
                project="mindsdb",
                where_sql="name LIKE 'x%' -- first\n  OR `status` = \"error\"",
            ),
            id="where-multi-line-outer-comments-dropped",
        ),
    ],
)
def test_show_predictors(sql: str, expected: ShowPredictors) -> None:
    assert parse_statement(sql) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param(
            "DESCRIBE PREDICTOR p", DescribePredictor("p", None), id="predictor"
        ),
        pytest.param(
            "describe model mindsdb.p;",
            DescribePredictor("p", "mindsdb"),
            id="model-project-semicolon",
        ),
        pytest.param(
            "DESC PREDICTOR `my model`",
            DescribePredictor("my model", None),
            id="desc-backquoted",
        ),
        pytest.param(
            "EXPLAIN PREDICTOR mindsdb.p",
            DescribePredictor("p", "mindsdb"),
            id="explain-predictor",
        ),
        pytest.param(
            "Explain Model P", DescribePredictor("P", None), id="explain-model"
        ),
        pytest.param(
            "DESCRIBE MODEL predictor",
            DescribePredictor("predictor", None),
            id="model-named-predictor",
        ),
        pytest.param(
            '/* lead */ DESCRIBE # why\n PREDICTOR\n"MindsDB"."P" -- note',
            DescribePredictor("P", "MindsDB"),
            id="comments-and-double-quotes",
        ),
    ],
)
def test_describe_predictor(sql: str, expected: DescribePredictor) -> None:
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
        pytest.param("DESCRIBE t", id="describe-table"),
        pytest.param("DESC mindsdb.p", id="desc-without-predictor-keyword"),
        pytest.param("DESCRIBE model", id="describe-table-named-model"),
        pytest.param("describe predictor;", id="describe-table-named-predictor"),
        pytest.param("DESCRIBE model.t", id="describe-table-in-database-model"),
        pytest.param("EXPLAIN SELECT * FROM t", id="explain-select"),
        pytest.param("DROP TABLE t", id="drop-table"),
        pytest.param("DROP VIEW mindsdb.v", id="drop-view"),
        pytest.param("SHOW TABLES", id="show-tables"),
        pytest.param("SHOW DATABASES", id="show-databases"),
        pytest.param("SHOW FULL TABLES FROM db", id="show-full-tables"),
        pytest.param("SHOW FULL PREDICTORS", id="show-full-predictors"),
        pytest.param("SHOW CREATE TABLE mindsdb.p", id="show-create-table"),
        pytest.param(
            "DELETE FROM mindsdb.predictors WHERE name = 'p'", id="legacy-delete"
        ),
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
        # DROP
        pytest.param(
            "DROP PREDICTOR",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a predictor name "
            "near '' at line 1",
            id="drop-predictor-without-name",
        ),
        pytest.param(
            "DROP MODEL IF p",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected EXISTS near 'p' at line 1",
            id="drop-if-without-exists",
        ),
        pytest.param(
            "DROP PREDICTOR IF NOT EXISTS p",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected EXISTS "
            "near 'NOT EXISTS p' at line 1",
            id="drop-if-not-exists",
        ),
        pytest.param(
            "DROP PREDICTOR a.b.c",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near '.c' at line 1",
            id="drop-three-part-name",
        ),
        pytest.param(
            "DROP PREDICTOR p, q",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near ', q' at line 1",
            id="drop-two-predictors",
        ),
        pytest.param(
            "DROP DATABASE",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a database name "
            "near '' at line 1",
            id="drop-database-without-name",
        ),
        pytest.param(
            "DROP SCHEMA 'db'",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a database name "
            "near ''db'' at line 1",
            id="drop-database-string-name",
        ),
        pytest.param(
            "DROP DATASOURCE mindsdb.db",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near '.db' at line 1",
            id="drop-database-qualified-name",
        ),
        # RETRAIN
        pytest.param(
            "RETRAIN ;",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a predictor name "
            "near ';' at line 1",
            id="retrain-without-name",
        ),
        pytest.param(
            "RETRAIN p FROM db",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected '(' near '' at line 1",
            id="retrain-from-without-query",
        ),
        pytest.param(
            "RETRAIN p FROM (SELECT 1)",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected an integration name "
            "near '(SELECT 1)' at line 1",
            id="retrain-from-without-integration",
        ),
        pytest.param(
            "RETRAIN p\nFROM db (SELECT ')'",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected ')' closing the query "
            "near '' at line 2",
            id="retrain-unclosed-query",
        ),
        pytest.param(
            "RETRAIN p USING",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a USING key "
            "near '' at line 1",
            id="retrain-empty-using",
        ),
        pytest.param(
            "RETRAIN p USING a = 1 b = 2",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near 'b = 2' at line 1",
            id="retrain-using-missing-comma",
        ),
        pytest.param(
            "RETRAIN p WITH a = 1",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near 'WITH a = 1' at line 1",
            id="retrain-unknown-clause",
        ),
        pytest.param(
            "RETRAIN mindsdb.p FROM db (SELECT 1) PREDICT y",
            NotSupportedError,
            "PREDICT in RETRAIN p: the target of a predictor cannot change; "
            "drop it and create it again",
            id="retrain-predict",
        ),
        pytest.param(
            "RETRAIN p USING url.train = 'a', url.train = 'b'",
            WrongArgumentsError,
            "USING key url.train is given twice",
            id="retrain-duplicate-key",
        ),
        # SHOW PREDICTORS
        pytest.param(
            "SHOW PREDICTORS FROM",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a project name "
            "near '' at line 1",
            id="show-from-without-project",
        ),
        pytest.param(
            "SHOW MODELS FROM mindsdb.p",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near '.p' at line 1",
            id="show-from-qualified-name",
        ),
        pytest.param(
            "SHOW PREDICTORS LIKE p%",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a quoted pattern "
            "near 'p%' at line 1",
            id="show-like-unquoted",
        ),
        pytest.param(
            "SHOW MODELS LIKE;",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a quoted pattern "
            "near ';' at line 1",
            id="show-like-without-pattern",
        ),
        pytest.param(
            "SHOW MODELS LIKE 'a%' WHERE status = 'error'",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near 'WHERE status = 'error'' at line 1",
            id="show-like-and-where",
        ),
        pytest.param(
            "SHOW MODELS WHERE",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a condition "
            "near '' at line 1",
            id="show-where-without-condition",
        ),
        pytest.param(
            "SHOW MODELS WHERE -- nothing\n;",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a condition "
            "near ';' at line 2",
            id="show-where-only-comment",
        ),
        pytest.param(
            'SHOW MODELS\nWHERE\n  name = "x',
            SqlSyntaxError,
            'You have an error in your SQL syntax; expected a closing " '
            "near '\"x' at line 3",
            id="show-where-unclosed-string",
        ),
        pytest.param(
            "SHOW MODELS WHERE a = 1; SHOW TABLES",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near 'SHOW TABLES' at line 1",
            id="show-where-second-statement",
        ),
        pytest.param(
            "SHOW PREDICTORS status",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near 'status' at line 1",
            id="show-unknown-clause",
        ),
        # DESCRIBE PREDICTOR
        pytest.param(
            "DESCRIBE PREDICTOR mindsdb.p.features",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near '.features' at line 1",
            id="describe-three-part-name",
        ),
        pytest.param(
            "DESCRIBE MODEL p.",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected a predictor name after "
            "'.' near '' at line 1",
            id="describe-dangling-dot",
        ),
        pytest.param(
            "DESC MODEL p extra",
            SqlSyntaxError,
            "You have an error in your SQL syntax; expected the end of the statement "
            "near 'extra' at line 1",
            id="describe-column-after-name",
        ),
    ],
)
def test_malformed(sql: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        parse_statement(sql)

    assert str(caught.value) == message


LARGE_SELECT = "SELECT " + ", ".join(f"c{i}" for i in range(10_000)) + " FROM t"


@pytest.mark.parametrize(
    ("sql", "tokens"),
    [
        pytest.param(LARGE_SELECT, 1, id="select"),
        pytest.param(f"EXPLAIN {LARGE_SELECT}", 2, id="explain-select"),
        pytest.param(f"DESCRIBE t {LARGE_SELECT}", 2, id="describe-table"),
        pytest.param(f"SHOW TABLES {LARGE_SELECT}", 2, id="show-tables"),
        pytest.param(f"DROP TABLE {LARGE_SELECT}", 2, id="drop-table"),
        pytest.param(f"CREATE VIEW v AS {LARGE_SELECT}", 2, id="create-view"),
    ],
)
def test_reads_only_what_it_needs(
    sql: str, tokens: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement passes through the grammar, so a SELECT must cost a word."""
    read: list[object] = []
    scan = grammar._scan

    def counting_scan(text: str) -> Iterator[Any]:
        for token in scan(text):
            read.append(token)
            yield token

    monkeypatch.setattr(grammar, "_scan", counting_scan)
    assert parse_statement(sql) is None
    assert len(read) == tokens
