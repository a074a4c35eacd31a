"""Tables described the way MySQL describes them: SHOW CREATE TABLE, TABLE STATUS.

SQLAlchemy's MySQL dialect reflects a table (``get_columns``,
``get_pk_constraint``, ``get_indexes``, ``get_foreign_keys``, autoload, and so
``pandas.read_sql_table``) only by parsing SHOW CREATE TABLE, which stock
mysql-mimic refuses. byom writes the DDL from the table's typed columns::

    CREATE TABLE `home_rentals` (
      `number_of_rooms` bigint DEFAULT NULL,
      `location` text
    ) ENGINE=byom DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci

Text columns are ``text``: byom does not know their length, and a ``varchar``
without one is not valid DDL. byom tables have no keys, indexes or defaults.
"""

from __future__ import annotations

from typing import Any

from byom.types import SqlType, type_name

ENGINE = "byom"
CREATE_TABLE_COLUMNS = [
    ("Table", SqlType.VAR_STRING),
    ("Create Table", SqlType.VAR_STRING),
]
TABLE_STATUS_COLUMNS = [
    ("Name", SqlType.VAR_STRING),
    ("Engine", SqlType.VAR_STRING),
    ("Version", SqlType.LONGLONG),
    ("Row_format", SqlType.VAR_STRING),
    ("Rows", SqlType.LONGLONG),
    ("Avg_row_length", SqlType.LONGLONG),
    ("Data_length", SqlType.LONGLONG),
    ("Max_data_length", SqlType.LONGLONG),
    ("Index_length", SqlType.LONGLONG),
    ("Data_free", SqlType.LONGLONG),
    ("Auto_increment", SqlType.LONGLONG),
    ("Create_time", SqlType.DATETIME),
    ("Update_time", SqlType.DATETIME),
    ("Check_time", SqlType.DATETIME),
    ("Collation", SqlType.VAR_STRING),
    ("Checksum", SqlType.LONGLONG),
    ("Create_options", SqlType.VAR_STRING),
    ("Comment", SqlType.VAR_STRING),
]
INDEX_COLUMNS = [
    ("Table", SqlType.VAR_STRING),
    ("Non_unique", SqlType.LONGLONG),
    ("Key_name", SqlType.VAR_STRING),
    ("Seq_in_index", SqlType.LONGLONG),
    ("Column_name", SqlType.VAR_STRING),
    ("Collation", SqlType.VAR_STRING),
    ("Cardinality", SqlType.LONGLONG),
    ("Sub_part", SqlType.LONGLONG),
    ("Packed", SqlType.VAR_STRING),
    ("Null", SqlType.VAR_STRING),
    ("Index_type", SqlType.VAR_STRING),
    ("Comment", SqlType.VAR_STRING),
    ("Index_comment", SqlType.VAR_STRING),
    ("Visible", SqlType.VAR_STRING),
    ("Expression", SqlType.VAR_STRING),
]


def create_table_statement(
    table: str, columns: list[tuple[str, SqlType]], collation: str
) -> str:
    """The CREATE TABLE text MySQL would print for a table of these columns."""
    lines = [f"  {quote(name)} {_ddl_type(kind)}" for name, kind in columns]
    charset = collation.split("_", 1)[0]
    return (
        f"CREATE TABLE {quote(table)} (\n"
        + ",\n".join(lines)
        + f"\n) ENGINE={ENGINE} DEFAULT CHARSET={charset} COLLATE={collation}"
    )


def table_status_row(table: str, collation: str) -> tuple[Any, ...]:
    """A SHOW TABLE STATUS row: byom knows no sizes or times, so they are empty."""
    return (
        table, ENGINE, 10, "Dynamic", None, 0, 0, 0, 0, 0,
        None, None, None, None, collation, None, "", "",
    )  # fmt: skip


def quote(name: str) -> str:
    """A MySQL identifier in backquotes."""
    return "`" + name.replace("`", "``") + "`"


def _ddl_type(kind: SqlType) -> str:
    if kind is SqlType.VAR_STRING:
        return "text"
    if kind is SqlType.BLOB:
        return "blob"
    if kind is SqlType.NULL:
        return "text"
    return f"{type_name(kind)} DEFAULT NULL"
