"""Catalog metadata as DBeaver, JDBC and SQLAlchemy read it.

MariaDB Connector/J answers DatabaseMetaData calls with information_schema
queries (getColumns uses LEAST, getSchemas a FROM DUAL WHERE 1=0) and DBeaver
sends its own (KEYWORDS, KEY_COLUMN_USAGE, STATISTICS). byom runs them in
DuckDB over its catalog (``byom.mysql.information_schema``): ordinals from 1,
real NULLs, lower-case MySQL type names and MySQL's column names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import sqlalchemy
import sqlglot

from byom.mysql.information_schema import engine_sql
from tests.support import clients
from tests.support.client_matrix import PREDICTOR, MatrixServer, matrix_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "information_schema"
SYSTEM_TABLES = ["call_stats", "databases", "models", "predictors"]
TABLES = sorted([*SYSTEM_TABLES, PREDICTOR])
# The predictor's columns: (name, JDBC type code, TYPE_NAME, COLUMN_SIZE).
PREDICTOR_COLUMNS = [
    ("number_of_rooms", "-5", "BIGINT", "19"),
    ("initial_price", "-5", "BIGINT", "19"),
    ("rental_price", "-5", "BIGINT", "19"),
    ("number_of_rooms_confidence", "8", "DOUBLE", "22"),
    ("number_of_rooms_min", "8", "DOUBLE", "22"),
    ("number_of_rooms_max", "8", "DOUBLE", "22"),
    ("number_of_rooms_anomaly", "-6", "TINYINT", "3"),
]
# DBeaver's queries for a table's keys and indexes, as it sends them.
DBEAVER_KEYS = (
    "SELECT kc.CONSTRAINT_NAME, kc.TABLE_NAME, kc.COLUMN_NAME, kc.ORDINAL_POSITION "
    "FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE kc WHERE kc.TABLE_SCHEMA='mindsdb' "
    f"AND kc.REFERENCED_TABLE_NAME IS NULL AND kc.TABLE_NAME='{PREDICTOR}' "
    "ORDER BY kc.CONSTRAINT_NAME, kc.ORDINAL_POSITION"
)
DBEAVER_INDEXES = (
    "SELECT * FROM information_schema.STATISTICS WHERE TABLE_SCHEMA='mindsdb' "
    f"AND TABLE_NAME='{PREDICTOR}' ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
)
DBEAVER_SCHEMAS = (
    "SELECT NULL, NULL, NULL, SCHEMA_NAME FROM INFORMATION_SCHEMA.SCHEMATA "
    "WHERE SCHEMA_NAME LIKE '%' ORDER BY SCHEMA_NAME"
)
STATISTICS_COLUMNS = (
    "TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "NON_UNIQUE", "INDEX_SCHEMA",
    "INDEX_NAME", "SEQ_IN_INDEX", "COLUMN_NAME", "COLLATION", "CARDINALITY",
    "SUB_PART", "PACKED", "NULLABLE", "INDEX_TYPE", "COMMENT", "INDEX_COMMENT",
    "IS_VISIBLE", "EXPRESSION",
)  # fmt: skip


@pytest.fixture(scope="module")
def matrix() -> Iterator[MatrixServer]:
    with matrix_server() as server:
        yield server


@pytest.fixture(scope="module")
def jdbc(
    matrix: MatrixServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Every metadata call and DBeaver query, run once by Connector/J."""
    classes = clients.java_classes(tmp_path_factory.getbasetemp())
    calls = [
        "getCatalogs",
        "getSchemas",
        "getTableTypes",
        "getTables",
        "getColumns",
        "getPrimaryKeys",
        "getIndexInfo",
    ]
    lines = [["M", call, call] for call in calls]
    lines += [
        ["Q", "keywords", "SELECT WORD, RESERVED FROM INFORMATION_SCHEMA.KEYWORDS"],
        ["Q", "keys", DBEAVER_KEYS],
        ["Q", "indexes", DBEAVER_INDEXES],
        ["Q", "schemas", DBEAVER_SCHEMAS],
    ]
    return clients.run_connector_j(matrix, "tcp", lines, classes)


def test_get_catalogs_lists_every_database(jdbc: dict[str, Any]) -> None:
    assert jdbc["getCatalogs"] == [
        ("TABLE_CAT",),
        ("information_schema",),
        ("mindsdb",),
        ("mydb",),
        ("mysql",),
    ]


def test_get_schemas_is_empty_as_for_mysql(jdbc: dict[str, Any]) -> None:
    # MySQL has catalogs, no schemas: Connector/J asks FROM DUAL WHERE 1=0.
    assert jdbc["getSchemas"] == [("TABLE_SCHEM", "TABLE_catalog")]


def test_get_table_types(jdbc: dict[str, Any]) -> None:
    assert jdbc["getTableTypes"] == [
        ("TABLE_TYPE",),
        ("TABLE",),
        ("SYSTEM VIEW",),
        ("VIEW",),
    ]


def test_get_tables_lists_the_predictor_and_catalog_tables(
    jdbc: dict[str, Any],
) -> None:
    header, *rows = jdbc["getTables"]

    assert header[:5] == (
        "TABLE_CAT",
        "TABLE_SCHEM",
        "TABLE_NAME",
        "TABLE_TYPE",
        "REMARKS",
    )
    assert [row[:5] for row in rows] == [
        ("mindsdb", None, name, "TABLE", "") for name in TABLES
    ]


def test_get_columns_numbers_columns_from_one(jdbc: dict[str, Any]) -> None:
    header, *rows = jdbc["getColumns"]
    names = ["COLUMN_NAME", "DATA_TYPE", "TYPE_NAME", "COLUMN_SIZE"]
    picked = [header.index(name) for name in names]
    position, nullable = header.index("ORDINAL_POSITION"), header.index("IS_NULLABLE")

    assert [tuple(row[i] for i in picked) for row in rows] == PREDICTOR_COLUMNS
    assert [row[position] for row in rows] == [str(n) for n in range(1, 8)]
    assert {row[nullable] for row in rows} == {"YES"}
    assert {row[header.index("TABLE_CAT")] for row in rows} == {"mindsdb"}


def test_no_primary_keys_or_indexes(jdbc: dict[str, Any]) -> None:
    assert jdbc["getPrimaryKeys"] == [
        ("TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "COLUMN_NAME", "KEY_SEQ", "PK_NAME")
    ]
    assert len(jdbc["getIndexInfo"]) == 1
    assert jdbc["getIndexInfo"][0][:6] == (
        "TABLE_CAT",
        "TABLE_SCHEM",
        "TABLE_NAME",
        "NON_UNIQUE",
        "INDEX_QUALIFIER",
        "INDEX_NAME",
    )


def test_dbeaver_reads_reserved_keywords(jdbc: dict[str, Any]) -> None:
    header, *rows = jdbc["keywords"]

    assert header == ("WORD", "RESERVED")
    assert len(rows) == 262
    assert ("SELECT", "1") in rows and ("DUAL", "1") in rows
    assert rows == sorted(rows)


def test_dbeaver_key_and_index_queries_answer_empty_with_columns(
    jdbc: dict[str, Any],
) -> None:
    assert jdbc["keys"] == [
        ("CONSTRAINT_NAME", "TABLE_NAME", "COLUMN_NAME", "ORDINAL_POSITION")
    ]
    assert jdbc["indexes"] == [STATISTICS_COLUMNS]


def test_dbeaver_schema_listing_has_real_nulls(jdbc: dict[str, Any]) -> None:
    assert jdbc["schemas"] == [
        ("NULL", "NULL", "NULL", "SCHEMA_NAME"),
        *[
            (None, None, None, name)
            for name in ["information_schema", "mindsdb", "mydb", "mysql"]
        ],
    ]


def test_information_schema_columns_as_mysql_reports_them(
    matrix: MatrixServer,
) -> None:
    rows = matrix.reference(
        "SELECT COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, CHARACTER_SET_NAME, "
        "COLLATION_NAME, IS_NULLABLE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = 'mindsdb' AND TABLE_NAME = 'predictors' "
        "ORDER BY ORDINAL_POSITION LIMIT 2"
    )
    assert rows == [
        ("name", 1, "varchar", "utf8mb4", "utf8mb4_general_ci", "YES"),
        ("status", 2, "varchar", "utf8mb4", "utf8mb4_general_ci", "YES"),
    ]
    numbers = matrix.reference(
        "SELECT DATA_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, NUMERIC_PRECISION "
        "FROM information_schema.COLUMNS WHERE TABLE_NAME = ? AND COLUMN_NAME = ?",
        (PREDICTOR, "initial_price"),
    )
    assert numbers == [("bigint", None, None, 19)]


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        pytest.param(
            "SELECT ENGINE, SUPPORT, TRANSACTIONS FROM information_schema.ENGINES",
            [("byom", "DEFAULT", "NO")],
            id="engines",
        ),
        pytest.param(
            "SELECT COUNT(*) FROM information_schema.ROUTINES",
            [(0,)],
            id="routines-empty",
        ),
        pytest.param(
            "SELECT TABLE_NAME, TABLE_TYPE, ENGINE FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = 'MINDSDB' AND TABLE_NAME LIKE 'R%'",
            [(PREDICTOR, "BASE TABLE", "byom")],
            id="case-insensitive-like-mysql",
        ),
        pytest.param(
            "SELECT LEAST(ORDINAL_POSITION, 2) FROM information_schema.COLUMNS "
            f"WHERE TABLE_NAME = '{PREDICTOR}' ORDER BY ORDINAL_POSITION LIMIT 3",
            [(1,), (2,), (2,)],
            id="least",
        ),
    ],
)
def test_information_schema_queries(
    matrix: MatrixServer, sql: str, rows: list[tuple[Any, ...]]
) -> None:
    assert matrix.reference(sql) == rows


def test_show_tables_in_information_schema(matrix: MatrixServer) -> None:
    with matrix.byom.connect(database="information_schema") as connection:
        with connection.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            tables = [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT COUNT(*) FROM SCHEMATA")
            count = cursor.fetchall()

    assert {"COLUMNS", "KEYWORDS", "STATISTICS", "KEY_COLUMN_USAGE"} <= set(tables)
    assert tables == sorted(tables)
    assert count == ((4,),)


def test_sqlalchemy_inspector(matrix: MatrixServer) -> None:
    engine = clients.sqlalchemy_engine(matrix, "tcp")
    inspector = sqlalchemy.inspect(engine)

    assert inspector.get_table_names("mindsdb") == TABLES
    columns = inspector.get_columns(PREDICTOR, schema="mindsdb")
    assert [(c["name"], str(c["type"]), c["nullable"]) for c in columns] == [
        ("number_of_rooms", "BIGINT", True),
        ("initial_price", "BIGINT", True),
        ("rental_price", "BIGINT", True),
        ("number_of_rooms_confidence", "DOUBLE", True),
        ("number_of_rooms_min", "DOUBLE", True),
        ("number_of_rooms_max", "DOUBLE", True),
        ("number_of_rooms_anomaly", "TINYINT", True),
    ]
    assert inspector.get_pk_constraint(PREDICTOR, schema="mindsdb") == {
        "name": None,
        "constrained_columns": [],
    }
    engine.dispose()


def test_java_program_is_compiled_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    first = clients.java_classes(tmp_path_factory.getbasetemp())
    again = clients.java_classes(Path("/nonexistent"))

    assert again == first
    assert (first / "MatrixClient.class").is_file()


@pytest.mark.parametrize(
    ("sql", "code", "message"),
    [
        pytest.param(
            "SELECT COUNT(*) FROM information_schema.NOSUCH",
            1146,
            "Table 'information_schema.NOSUCH' doesn't exist",
            id="unknown-table",
        ),
        pytest.param(
            "SELECT NOSUCH FROM information_schema.SCHEMATA",
            1054,
            'Binder Error: Referenced column "NOSUCH" not found in FROM clause!',
            id="unknown-column",
        ),
        pytest.param(
            "SELECT NO_SUCH_FUNCTION(1) FROM information_schema.SCHEMATA",
            1235,
            "this information_schema query is not supported: Catalog Error: "
            "Scalar Function with name no_such_function does not exist!",
            id="unknown-function",
        ),
    ],
)
def test_information_schema_errors_name_the_culprit(
    matrix: MatrixServer, sql: str, code: int, message: str
) -> None:
    with matrix.byom.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            cursor.execute(sql)

    assert caught.value.args == (code, message)


def _engine_cases() -> list[Any]:
    cases, case = [], dict[str, Any]()
    for line in (FIXTURES / "engine_sql.sql").read_text().splitlines():
        if line.startswith("-- name:"):
            case = {"name": line.split(":", 1)[1].strip(), "query": [], "expect": []}
            cases.append(case)
            part = "query"
        elif line.startswith("-- database:"):
            case["database"] = line.split(":", 1)[1].strip()
        elif line == "-- expect:":
            part = "expect"
        elif case and line and not line.startswith("--"):
            case[part].append(line)
    return [
        pytest.param(
            " ".join(c["query"]), c.get("database"), " ".join(c["expect"]), id=c["name"]
        )
        for c in cases
    ]


@pytest.mark.parametrize(("query", "database", "expect"), _engine_cases())
def test_engine_sql_rewrites(query: str, database: str | None, expect: str) -> None:
    assert engine_sql(sqlglot.parse_one(query, read="mysql"), database) == expect
