"""SHOW forms stock mysql-mimic refuses, through PyMySQL and SQLAlchemy.

Each form answers with the columns MySQL 8 returns; stock mimic answers ERR
1235 "Unsupported SHOW command" (or, for SHOW KEYS, passes it on to the planner).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pymysql
import pytest
import sqlalchemy as sa

from byom.mysql import charsets
from tests.support.byom_process import USER, ByomProcess
from tests.support.http_apps import GatedModel

HOME_RENTALS_DDL = (
    "CREATE TABLE `home_rentals` (\n"
    "  `number_of_rooms` bigint DEFAULT NULL,\n"
    "  `number_of_bathrooms` bigint DEFAULT NULL,\n"
    "  `sqft` bigint DEFAULT NULL,\n"
    "  `location` text,\n"
    "  `days_on_market` bigint DEFAULT NULL,\n"
    "  `initial_price` bigint DEFAULT NULL,\n"
    "  `neighborhood` text,\n"
    "  `rental_price` bigint DEFAULT NULL\n"
    ") ENGINE=byom DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
)
INDEX_COLUMNS = [
    "Table", "Non_unique", "Key_name", "Seq_in_index", "Column_name", "Collation",
    "Cardinality", "Sub_part", "Packed", "Null", "Index_type", "Comment",
    "Index_comment", "Visible", "Expression",
]  # fmt: skip
TABLE_STATUS_COLUMNS = [
    "Name", "Engine", "Version", "Row_format", "Rows", "Avg_row_length",
    "Data_length", "Max_data_length", "Index_length", "Data_free", "Auto_increment",
    "Create_time", "Update_time", "Check_time", "Collation", "Checksum",
    "Create_options", "Comment",
]  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[ByomProcess]:
    """One server for the module, with a trained predictor ``rooms``."""
    byom = ByomProcess()
    byom.start()
    model = GatedModel()
    model.start()
    model.open()
    try:
        byom.query(_create_sql("rooms", model))
        byom.wait_for_status("rooms", "complete")
        yield byom
    finally:
        model.stop()
        byom.cleanup()


def _create_sql(name: str, model: GatedModel) -> str:
    return (
        f"CREATE PREDICTOR {name} FROM mydb (SELECT number_of_rooms, initial_price, "
        "rental_price FROM test_data.home_rentals) PREDICT number_of_rooms "
        f"USING url.train = '{model.url('/train')}', "
        f"url.predict = '{model.url('/predict')}', "
        'dtype_dict = {"number_of_rooms": "categorical", '
        '"initial_price": "integer", "rental_price": "integer"}, '
        "format = 'ray_server'"
    )


def _run(server: ByomProcess, *sql: str, **options: Any) -> tuple[list[str], list[Any]]:
    with server.connect(**options) as connection, connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)
        names = [d[0] for d in cursor.description or ()]
        return names, [list(row) for row in cursor.fetchall()]


@pytest.mark.parametrize(
    ("sql", "columns", "rows"),
    [
        pytest.param(
            "SHOW CREATE TABLE mydb.home_rentals",
            ["Table", "Create Table"],
            [["home_rentals", HOME_RENTALS_DDL]],
            id="create-table-integration",
        ),
        pytest.param(
            "SHOW CREATE TABLE `mindsdb`.`rooms`",
            ["Table", "Create Table"],
            [
                [
                    "rooms",
                    "CREATE TABLE `rooms` (\n"
                    "  `number_of_rooms` bigint DEFAULT NULL,\n"
                    "  `initial_price` bigint DEFAULT NULL,\n"
                    "  `rental_price` bigint DEFAULT NULL,\n"
                    "  `number_of_rooms_confidence` double DEFAULT NULL,\n"
                    "  `number_of_rooms_min` double DEFAULT NULL,\n"
                    "  `number_of_rooms_max` double DEFAULT NULL,\n"
                    "  `number_of_rooms_anomaly` tinyint DEFAULT NULL\n"
                    ") ENGINE=byom DEFAULT CHARSET=utf8mb4 "
                    "COLLATE=utf8mb4_general_ci",
                ]
            ],
            id="create-table-predictor",
        ),
        pytest.param(
            "SHOW ENGINES",
            ["Engine", "Support", "Comment", "Transactions", "XA", "Savepoints"],
            [
                [
                    "byom",
                    "DEFAULT",
                    "byom: predictors and integration tables, read-only",
                    "NO",
                    "NO",
                    "NO",
                ]
            ],
            id="engines",
        ),
        pytest.param(
            "SHOW CHARSET LIKE 'utf8%'",
            ["Charset", "Description", "Default collation", "Maxlen"],
            [["utf8mb4", "UTF-8 Unicode", "utf8mb4_general_ci", 4]],
            id="charset-like",
        ),
        pytest.param(
            "SHOW CHARACTER SET LIKE 'a%'",
            ["Charset", "Description", "Default collation", "Maxlen"],
            [["ascii", "US ASCII", "ascii_general_ci", 1]],
            id="character-set",
        ),
        pytest.param(
            "SHOW COLLATION LIKE 'ascii%'",
            [
                "Collation",
                "Charset",
                "Id",
                "Default",
                "Compiled",
                "Sortlen",
                "Pad_attribute",
            ],
            [
                ["ascii_bin", "ascii", 65, "", "Yes", 1, "PAD SPACE"],
                ["ascii_general_ci", "ascii", 11, "Yes", "Yes", 1, "PAD SPACE"],
            ],
            id="collation-like",
        ),  # fmt: skip
        pytest.param(
            "SHOW GRANTS",
            [f"Grants for {USER}@%"],
            [[f"GRANT ALL PRIVILEGES ON *.* TO `{USER}`@`%`"]],
            id="grants",
        ),
        pytest.param(
            "SHOW PLUGINS",
            ["Name", "Status", "Type", "Library", "License"],
            [["mysql_native_password", "ACTIVE", "AUTHENTICATION", None, "GPL"]],
            id="plugins",
        ),
        pytest.param(
            "SHOW INDEX FROM mindsdb.predictors",
            INDEX_COLUMNS,
            [],
            id="index",
        ),
        pytest.param("SHOW KEYS FROM predictors", INDEX_COLUMNS, [], id="keys"),
        pytest.param(
            "SHOW INDEXES FROM `home_rentals` IN `mydb`",
            INDEX_COLUMNS,
            [],
            id="indexes-in-db",
        ),
        pytest.param(
            "SHOW TABLE STATUS FROM mindsdb LIKE 'pred%'",
            TABLE_STATUS_COLUMNS,
            [
                [
                    "predictors",
                    "byom",
                    10,
                    "Dynamic",
                    None,
                    0,
                    0,
                    0,
                    0,
                    0,
                    None,
                    None,
                    None,
                    None,
                    "utf8mb4_general_ci",
                    None,
                    "",
                    "",
                ]
            ],
            id="table-status",
        ),  # fmt: skip
        pytest.param(
            "SHOW STATUS LIKE 'Ssl%'",
            ["Variable_name", "Value"],
            [["Ssl_cipher", ""], ["Ssl_version", ""]],
            id="status-ssl",
        ),
    ],
)
def test_show_form(
    server: ByomProcess, sql: str, columns: list[str], rows: list[Any]
) -> None:
    assert _run(server, sql) == (columns, rows)


COLLATION_COLUMNS = [
    "Collation", "Charset", "Id", "Default", "Compiled", "Sortlen", "Pad_attribute",
]  # fmt: skip
CHARSET_COLUMNS = ["Charset", "Description", "Default collation", "Maxlen"]
UTF8MB4_BIN = ["utf8mb4_bin", "utf8mb4", 46, "", "Yes", 1, "PAD SPACE"]
UTF8MB4_GENERAL = ["utf8mb4_general_ci", "utf8mb4", 45, "Yes", "Yes", 1, "PAD SPACE"]


@pytest.mark.parametrize(
    ("sql", "columns", "rows"),
    [
        pytest.param(
            "SHOW COLLATION WHERE Charset = 'utf8mb4' AND Id < 50",
            COLLATION_COLUMNS,
            [UTF8MB4_BIN, UTF8MB4_GENERAL],
            id="collation-where-charset",
        ),
        pytest.param(
            "SHOW COLLATION WHERE `Default` = 'yes' AND Charset LIKE 'utf8%'",
            COLLATION_COLUMNS,
            [UTF8MB4_GENERAL],
            id="collation-where-ignores-case",
        ),
        pytest.param(
            "SHOW COLLATION LIKE 'UTF8MB4\\_BIN'",
            COLLATION_COLUMNS,
            [UTF8MB4_BIN],
            id="collation-like-escape",
        ),
        pytest.param(
            "SHOW COLLATION LIKE 'utf8mb4%'",
            COLLATION_COLUMNS,
            [list(row) for row in charsets.collation_rows() if row[1] == "utf8mb4"],
            id="collation-like-prefix",
        ),
        pytest.param(
            "SHOW CHARACTER SET WHERE Charset LIKE 'utf8%'",
            CHARSET_COLUMNS,
            [["utf8mb4", "UTF-8 Unicode", "utf8mb4_general_ci", 4]],
            id="character-set-where",
        ),
        pytest.param(
            "SHOW CHARSET WHERE Maxlen = 1 AND Charset <> 'binary'",
            CHARSET_COLUMNS,
            [
                ["ascii", "US ASCII", "ascii_general_ci", 1],
                ["latin1", "cp1252 West European", "latin1_swedish_ci", 1],
            ],
            id="charset-where-number",
        ),
        pytest.param(
            "SHOW DATABASES WHERE `Database` LIKE 'm%'",
            ["Database"],
            [["mindsdb"], ["mydb"], ["mysql"]],
            id="databases-where",
        ),
        pytest.param(
            "SHOW VARIABLES LIKE 'autocommit'",
            ["Variable_name", "Value"],
            [["autocommit", "ON"]],
            id="variables-boolean-on",
        ),
        pytest.param(
            "SHOW VARIABLES LIKE 'auto'",
            ["Variable_name", "Value"],
            [],
            id="variables-like-whole-name",
        ),
        pytest.param(
            "SHOW SESSION VARIABLES "
            "WHERE Variable_name IN ('autocommit', 'sql_auto_is_null', 'wait_timeout')",
            ["Variable_name", "Value"],
            [
                ["autocommit", "ON"],
                ["sql_auto_is_null", "OFF"],
                ["wait_timeout", "28800"],
            ],
            id="variables-where",
        ),
        pytest.param(
            "SHOW GLOBAL VARIABLES LIKE 'autocommit'",
            ["Variable_name", "Value"],
            [["autocommit", "ON"]],
            id="global-variables",
        ),
    ],
)
def test_show_like_and_where(
    server: ByomProcess, sql: str, columns: list[str], rows: list[Any]
) -> None:
    # autocommit=True: PyMySQL's default turns it off at connect, as on MySQL.
    assert _run(server, sql, autocommit=True) == (columns, rows)


def test_show_variables_prints_the_session_and_the_global_value(
    server: ByomProcess,
) -> None:
    with server.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SET autocommit = 0")
        shown = []
        for sql in (
            "SHOW VARIABLES LIKE 'autocommit'",
            "SHOW GLOBAL VARIABLES LIKE 'autocommit'",
            "SELECT @@autocommit",
        ):
            cursor.execute(sql)
            shown.append(cursor.fetchall())

    assert shown == [(("autocommit", "OFF"),), (("autocommit", "ON"),), ((0,),)]


@pytest.mark.parametrize(
    ("sql", "code", "message"),
    [
        pytest.param(
            "SHOW CREATE TABLE nope",
            1146,
            "Table 'mindsdb.nope' doesn't exist",
            id="create-table-unknown",
        ),
        pytest.param(
            "SHOW CREATE TABLE mydb.nope",
            1146,
            "Table 'mydb.nope' doesn't exist",
            id="create-table-unknown-in-integration",
        ),
        pytest.param(
            "SHOW CREATE TABLE nowhere.t",
            1049,
            "Unknown database 'nowhere'",
            id="create-table-unknown-database",
        ),
        pytest.param(
            "SHOW KEYS FROM nope", 1146, "Table 'mindsdb.nope' doesn't exist", id="keys"
        ),
        pytest.param(
            "SHOW TABLE STATUS FROM nowhere",
            1049,
            "Unknown database 'nowhere'",
            id="table-status-unknown-database",
        ),
        pytest.param(
            "SHOW TABLES FROM nowhere",
            1049,
            "Unknown database 'nowhere'",
            id="tables-unknown-database",
        ),
        pytest.param(
            "DESCRIBE nosuch", 1146, "Table 'mindsdb.nosuch' doesn't exist", id="desc"
        ),
        pytest.param(
            "DESCRIBE mydb.test_data.nosuch",
            1146,
            "Table 'mydb.test_data.nosuch' doesn't exist",
            id="describe-three-part-unknown",
        ),
        pytest.param(
            "SHOW COLUMNS FROM t FROM nowhere",
            1049,
            "Unknown database 'nowhere'",
            id="columns-unknown-database",
        ),
        pytest.param(
            "KILL QUERY 999999", 1094, "Unknown thread id: 999999", id="kill-unknown"
        ),
        pytest.param(
            "SHOW COLLATION WHERE nope = 1",
            1054,
            "Unknown column 'nope' in 'where clause'",
            id="where-unknown-column",
        ),
    ],
)
def test_show_form_refused(
    server: ByomProcess, sql: str, code: int, message: str
) -> None:
    with pytest.raises(pymysql.err.MySQLError) as caught:
        _run(server, sql)
    assert caught.value.args == (code, message)


def test_show_status_counts_this_server(server: ByomProcess) -> None:
    with server.connect(), server.connect() as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                "SHOW STATUS WHERE Variable_name IN ('Threads_connected', 'Uptime')"
            )
            status = dict(cursor.fetchall())
    assert status.keys() == {"Threads_connected", "Uptime"}
    assert status["Threads_connected"] == "2"
    assert status["Uptime"].isdigit()


def test_processlist_shows_every_connection(server: ByomProcess) -> None:
    with server.connect(database="mydb") as idle, server.connect() as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            ((own,),) = cursor.fetchall()
            cursor.execute("SHOW FULL PROCESSLIST")
            names = [d[0] for d in cursor.description]
            rows = {row[0]: row for row in cursor.fetchall()}
        idle_id = idle.thread_id()
        host = _client_address(connection)
        idle_host = _client_address(idle)

    assert names == ["Id", "User", "Host", "db", "Command", "Time", "State", "Info"]
    assert rows.keys() == {own, idle_id}
    assert rows[own] == (
        own,
        USER,
        host,
        "mindsdb",
        "Query",
        0,
        "executing",
        "SHOW FULL PROCESSLIST",
    )
    assert rows[idle_id][:5] == (idle_id, USER, idle_host, "mydb", "Sleep")
    assert rows[idle_id][6:] == ("", None)


def _client_address(connection: Any) -> str:
    return f"127.0.0.1:{connection._sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def mydb_engine(server: ByomProcess) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"mysql+pymysql://{USER}@127.0.0.1:{server.port}/mydb")
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("table", "schema", "columns"),
    [
        pytest.param(
            "home_rentals",
            None,
            [
                ("number_of_rooms", "BIGINT"),
                ("number_of_bathrooms", "BIGINT"),
                ("sqft", "BIGINT"),
                ("location", "TEXT"),
                ("days_on_market", "BIGINT"),
                ("initial_price", "BIGINT"),
                ("neighborhood", "TEXT"),
                ("rental_price", "BIGINT"),
            ],
            id="integration-table-after-use",
        ),
        pytest.param(
            "rooms",
            "mindsdb",
            [
                ("number_of_rooms", "BIGINT"),
                ("initial_price", "BIGINT"),
                ("rental_price", "BIGINT"),
                ("number_of_rooms_confidence", "DOUBLE"),
                ("number_of_rooms_min", "DOUBLE"),
                ("number_of_rooms_max", "DOUBLE"),
                ("number_of_rooms_anomaly", "TINYINT"),
            ],
            id="predictor",
        ),
        pytest.param(
            "predictors",
            "mindsdb",
            [
                (name, "TEXT")
                for name in (
                    "name",
                    "status",
                    "accuracy",
                    "predict",
                    "update_status",
                    "mindsdb_version",
                    "error",
                    "select_data_query",
                    "training_options",
                )
            ],
            id="catalog-table",
        ),  # fmt: skip
    ],
)
def test_sqlalchemy_reflects_tables(
    mydb_engine: sa.Engine,
    table: str,
    schema: str | None,
    columns: list[tuple[str, str]],
) -> None:
    inspector = sa.inspect(mydb_engine)
    found = inspector.get_columns(table, schema=schema)
    assert [(c["name"], str(c["type"])) for c in found] == columns
    assert all(c["nullable"] for c in found)
    assert inspector.get_pk_constraint(table, schema=schema) == {
        "constrained_columns": [],
        "name": None,
    }
    assert inspector.get_indexes(table, schema=schema) == []
    assert inspector.get_foreign_keys(table, schema=schema) == []


def test_pandas_reads_a_reflected_table_and_a_predictor(mydb_engine: sa.Engine) -> None:
    table = sa.Table("home_rentals", sa.MetaData(), autoload_with=mydb_engine)
    query = sa.select(table.c.number_of_rooms, table.c.sqft).limit(2)
    rentals = pd.read_sql(query, mydb_engine)
    assert list(rentals.columns) == ["number_of_rooms", "sqft"]
    assert [str(t) for t in rentals.dtypes] == ["int64", "int64"]
    assert len(rentals) == 2

    predicted = pd.read_sql(
        "SELECT number_of_rooms, initial_price FROM mindsdb.rooms "
        "WHERE initial_price = 3001 AND rental_price = 2",
        mydb_engine,
    )
    assert predicted.to_dict("records") == [
        {"number_of_rooms": 1, "initial_price": 3001}
    ]


HOME_RENTALS_COLUMNS = [
    ["number_of_rooms", "bigint", "YES", "", None, ""],
    ["number_of_bathrooms", "bigint", "YES", "", None, ""],
    ["sqft", "bigint", "YES", "", None, ""],
    ["location", "varchar", "YES", "", None, ""],
    ["days_on_market", "bigint", "YES", "", None, ""],
    ["initial_price", "bigint", "YES", "", None, ""],
    ["neighborhood", "varchar", "YES", "", None, ""],
    ["rental_price", "bigint", "YES", "", None, ""],
]
DESCRIBE_COLUMNS = ["Field", "Type", "Null", "Key", "Default", "Extra"]


@pytest.mark.parametrize(
    ("sql", "database"),
    [
        pytest.param("DESCRIBE mydb.test_data.home_rentals", None, id="three-part"),
        pytest.param("DESCRIBE test_data.home_rentals", "mydb", id="schema-table"),
        pytest.param("DESCRIBE home_rentals", "mydb", id="bare-name-after-use"),
        pytest.param("SHOW COLUMNS FROM home_rentals FROM mydb", None, id="show"),
    ],
)
def test_describe_finds_integration_tables(
    server: ByomProcess, sql: str, database: str | None
) -> None:
    options = {"database": database} if database else {}

    assert _run(server, sql, **options) == (DESCRIBE_COLUMNS, HOME_RENTALS_COLUMNS)


def test_show_full_columns_in_mysql_order(server: ByomProcess) -> None:
    names, rows = _run(server, "SHOW FULL COLUMNS FROM home_rentals FROM mydb")

    assert names == [
        "Field", "Type", "Collation", "Null", "Key", "Default", "Extra",
        "Privileges", "Comment",
    ]  # fmt: skip
    assert rows[2:4] == [
        ["sqft", "bigint", None, "YES", "", None, "", "select", ""],
        [
            "location",
            "varchar",
            "utf8mb4_general_ci",
            "YES",
            "",
            None,
            "",
            "select",
            "",
        ],
    ]


def test_show_databases_and_tables_list_an_integration_without_tables(
    server: ByomProcess, tmp_path: Any
) -> None:
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    server.query(
        "CREATE DATABASE bare WITH ENGINE = 'sqlite', "
        f'PARAMETERS = {{"db_file": "{empty}"}}'
    )
    try:
        databases = _run(server, "SHOW DATABASES")
        tables = _run(server, "SHOW FULL TABLES FROM bare")
        mydb = _run(server, "SHOW TABLES", database="mydb")
    finally:
        server.query("DROP DATABASE bare")

    assert databases == (
        ["Database"],
        [["bare"], ["information_schema"], ["mindsdb"], ["mydb"], ["mysql"]],
    )
    assert tables == (["Tables_in_bare", "Table_type"], [])
    assert mydb == (["Tables_in_mydb"], [["test_data.home_rentals"]])


def test_use_of_an_unknown_database_is_1049_for_com_init_db(
    server: ByomProcess,
) -> None:
    with server.connect() as connection:
        with pytest.raises(pymysql.err.MySQLError) as caught:
            connection.select_db("nowhere")
        with connection.cursor() as cursor:
            cursor.execute("SELECT DATABASE()")
            assert cursor.fetchall() == (("mindsdb",),)

    assert caught.value.args == (1049, "Unknown database 'nowhere'")
    assert "Traceback" not in server.log()
