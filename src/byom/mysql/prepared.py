"""Server-side prepared statements, with parameters bound into the parsed tree.

Stock mysql-mimic 3.0.5 pastes each parameter into the SQL text without escaping,
so ``nope' OR '1'='1`` matched every row, a quote broke the statement, ``a\\b``
arrived as a backspace, and DATE, DATETIME, TIME and DECIMAL parameters were
refused. byom replaces the six COM_STMT commands of ``Connection``:

- PREPARE parses the text once with sqlglot, keeping the tree, and counts its
  ``exp.Placeholder`` nodes (a ``?`` inside a string or comment is not one).
- EXECUTE decodes every binary-protocol parameter type and replaces each
  placeholder of a copy of the tree with a typed literal, never text::

      SELECT name FROM mindsdb.predictors WHERE name = ?     -- "x' OR '1'='1"
      -> WHERE name = Literal.string("x' OR '1'='1")         -- one string

  The bound tree then enters the session's middleware chain exactly where a text
  query's tree does, so SET, SHOW, USE and information_schema work prepared.
- Rows go back in the binary protocol in batches (``binary_rows``); FETCH reads
  from a cursor without losing the row mimic dropped at each batch boundary.

Known shortcomings: PREPARE reports no result columns (the client learns them
from EXECUTE, which every tested client accepts): knowing them would mean
planning the query against predictors and sources at prepare time. byom's own
statements (CREATE PREDICTOR, ...) can be prepared and executed, but take no
parameters. A binary parameter that is not valid text in the client's character
set becomes a hexadecimal literal.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import logging
import math
import struct
from collections.abc import AsyncIterator, Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mysql_mimic import connection as mimic_connection
from mysql_mimic import packets
from mysql_mimic.charset import CharacterSet
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.results import ResultColumn, ResultSet, ensure_result_set
from mysql_mimic.session import Query
from mysql_mimic.types import (
    Capabilities,
    ColumnDefinition,
    ColumnType,
    ServerStatus,
)
from sqlglot import TokenType, exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import ParseError, TokenError

from byom.errors import (
    ByomError,
    NotSupportedError,
    SqlSyntaxError,
    WrongArgumentsError,
)
from byom.mysql.affected_rows import affected_rows_of
from byom.mysql.binary_rows import (
    STRING_TYPES,
    row_encoder,
    unsigned_columns,
    write_packets,
)
from byom.mysql.commands import client_went_away
from byom.mysql.compat import column_tables, row_batches
from byom.mysql.errors import to_mysql_error
from byom.mysql.patching import replace_methods
from byom.sql.grammar import parse_statement
from byom.sql.select_using import attach_options, split_using

if TYPE_CHECKING:
    from byom.mysql.session import ByomSession

logger = logging.getLogger(__name__)

# MySQL's codes: ER_UNKNOWN_STMT_HANDLER, ER_UNSUPPORTED_PS,
# ER_STMT_HAS_NO_OPEN_CURSOR.
UNKNOWN_STATEMENT = 1243
UNSUPPORTED_IN_PREPARED = 1295
NO_OPEN_CURSOR = 1421

_UNSIGNED = 0x80
_CURSOR_READ_ONLY = 0x01
_PARAMETER_COUNT_AVAILABLE = 0x08
_PARAM_NAME = "?"


@dataclass
class PreparedQuery:
    """One prepared statement of a connection.

    ``tree`` is None for byom's own statements, which run from their text.
    ``param_buffers`` and ``cursor`` keep mimic's names: its COM_RESET_CONNECTION
    and its ``get_stmt`` work on these objects unchanged.
    """

    stmt_id: int
    sql: str
    tree: exp.Expression | None
    num_params: int
    param_types: list[tuple[int, bool]] | None = None
    param_buffers: dict[int, bytearray] | None = None
    cursor: AsyncIterator[bytes] | None = None


def install() -> None:
    """Replace mimic's prepared-statement commands on ``Connection``."""
    replace_methods(
        mimic_connection.Connection,
        handle_stmt_prepare=_handle_prepare,
        handle_stmt_send_long_data=_handle_long_data,
        handle_stmt_execute=_handle_execute,
        handle_stmt_fetch=_handle_fetch,
        handle_stmt_reset=_handle_reset,
        handle_stmt_close=_handle_close,
        get_stmt=_get_stmt,
    )


# --- COM_STMT_PREPARE ---------------------------------------------------------


class _PositionedParser(MySQL.Parser):  # type: ignore[misc, valid-type]
    """MySQL's parser, remembering where each ``?`` stands in the text.

    The tree's own order is not the text's (``LIMIT ?, ?`` holds the offset
    second), and parameters are bound in the order the client wrote them.
    """

    PLACEHOLDER_PARSERS = {
        **MySQL.Parser.PLACEHOLDER_PARSERS,
        TokenType.PLACEHOLDER: lambda self: self.expression(
            exp.Placeholder(), token=self._prev
        ),
    }


def prepare_tree(sql: str) -> tuple[exp.Expression, int]:
    """The statement's tree with its placeholders numbered, and their count.

    Raises ParseError or TokenError for text sqlglot cannot read.
    """
    dialect = MySQL()
    trees = [
        tree
        for tree in _PositionedParser(dialect=dialect).parse(dialect.tokenize(sql), sql)
        if tree is not None
    ]
    if not trees:
        raise SqlSyntaxError("Query was empty")
    if len(trees) > 1:
        raise NotSupportedError(
            "several statements in one prepared statement are not supported"
        )

    tree = trees[0]
    placeholders = sorted(
        tree.find_all(exp.Placeholder), key=lambda node: node.meta.get("start", 0)
    )
    for index, node in enumerate(placeholders):
        node.meta["param"] = index
    return tree, len(placeholders)


async def _handle_prepare(self: Any, data: bytes) -> None:
    sql = self.client_charset.decode(data)
    where = f"connection {self.connection_id}"
    try:
        tree, num_params = _parse_for_prepare(self.session, sql)
    except (ByomError, ParseError, TokenError, RecursionError) as exc:
        raise to_mysql_error(exc, where) from None

    stmt_id = next(self.prepared_stmt_seq)
    self.prepared_stmts[stmt_id] = PreparedQuery(stmt_id, sql, tree, num_params)
    logger.debug("%s: prepared statement %d, %d params", where, stmt_id, num_params)

    # OK, statement id, 0 columns (see the module docstring), parameters.
    response = [struct.pack("<BIHHBH", 0, stmt_id, 0, num_params, 0, 0)]
    for _ in range(num_params):
        response.append(
            packets.make_column_definition_41(
                server_charset=self.server_charset,
                name=_PARAM_NAME,
                column_type=ColumnType.VAR_STRING,
                character_set=CharacterSet.binary,
            )
        )
    if num_params and not self.deprecate_eof():
        response.append(self.eof())
    self.stream.write_many(response)
    await self.stream.drain()


def _parse_for_prepare(
    session: ByomSession, sql: str
) -> tuple[exp.Expression | None, int]:
    try:
        own = parse_statement(sql) is not None
    except SqlSyntaxError:
        own = True
    if own:
        # byom's own grammar reads a "?" as text, never as a parameter.
        if any(t.token_type is TokenType.PLACEHOLDER for t in _tokens(sql)):
            raise MysqlError(
                "This command is not supported in the prepared statement protocol "
                "yet: byom's own statements take no parameters",
                UNSUPPORTED_IN_PREPARED,  # type: ignore[arg-type]
            )
        parse_statement(sql)  # raises its syntax error, if any
        return None, 0
    text, options = split_using(sql)
    try:
        tree, count = prepare_tree(text)
    except (ParseError, TokenError):
        # The session phrases syntax errors exactly as for a text query.
        session._parse(sql)
        raise
    attach_options(tree, options, sql)
    return tree, count


def _tokens(sql: str) -> list[Any]:
    try:
        return list(MySQL().tokenize(sql))
    except TokenError:
        return []


# --- COM_STMT_SEND_LONG_DATA, RESET, CLOSE -----------------------------------


async def _handle_long_data(self: Any, data: bytes) -> None:
    # No answer, as in MySQL; a bad statement id is reported by EXECUTE.
    if len(data) < 6:
        return
    stmt_id, param_id = struct.unpack_from("<IH", data)
    stmt = self.prepared_stmts.get(stmt_id)
    if stmt is None or param_id >= stmt.num_params:
        return
    if stmt.param_buffers is None:
        stmt.param_buffers = {}
    stmt.param_buffers.setdefault(param_id, bytearray()).extend(data[6:])


async def _handle_reset(self: Any, data: bytes) -> None:
    # Only the statement's long data and cursor: mimic also reset the session.
    stmt = _get_stmt(self, _statement_id(data))
    stmt.param_buffers = None
    await _close_cursor(stmt)
    await self.stream.write(self.ok())


async def _handle_close(self: Any, data: bytes) -> None:
    # COM_STMT_CLOSE has no answer, even for an unknown statement.
    stmt = self.prepared_stmts.pop(_statement_id(data), None)
    if stmt is not None:
        await _close_cursor(stmt)


def _get_stmt(self: Any, stmt_id: int) -> PreparedQuery:
    stmt: PreparedQuery | None = self.prepared_stmts.get(stmt_id)
    if stmt is None:
        raise MysqlError(
            f"Unknown prepared statement handler ({stmt_id}) given to "
            "mysqld_stmt_execute",
            UNKNOWN_STATEMENT,  # type: ignore[arg-type]
        )
    return stmt


def _statement_id(data: bytes) -> int:
    if len(data) < 4:
        raise _wrong_arguments()
    stmt_id: int = struct.unpack_from("<I", data)[0]
    return stmt_id


async def _close_cursor(stmt: PreparedQuery) -> None:
    cursor, stmt.cursor = stmt.cursor, None
    if cursor is not None:
        await _close(cursor)


# --- COM_STMT_EXECUTE ---------------------------------------------------------


async def _handle_execute(self: Any, data: bytes) -> None:
    reader = _Reader(data)
    stmt = _get_stmt(self, reader.uint(4))
    flags = reader.uint(1)
    reader.uint(4)  # iteration count, always 1
    await _close_cursor(stmt)

    try:
        values, attrs = _read_parameters(self, reader, stmt, flags)
    except ByomError as exc:
        raise to_mysql_error(exc, f"connection {self.connection_id}") from None
    finally:
        # MySQL drops long data after each execution, successful or not.
        stmt.param_buffers = None
    result = await _run(self, stmt, values, attrs)

    if not result:
        # A prepared INSERT ... SELECT reports its rows, as the text one does.
        await self.stream.write(self.ok(affected_rows=affected_rows_of(result)))
        return
    await _write_result(self, stmt, result, cursor=bool(flags & _CURSOR_READ_ONLY))


def _read_parameters(
    self: Any, reader: _Reader, stmt: PreparedQuery, flags: int
) -> tuple[list[Any], dict[str, str]]:
    """The statement's parameter values, and any query attributes after them."""
    attributes = Capabilities.CLIENT_QUERY_ATTRIBUTES in self.capabilities
    count = stmt.num_params
    if attributes and (count or flags & _PARAMETER_COUNT_AVAILABLE):
        count = reader.lenenc_int()
    if count < stmt.num_params:
        raise _wrong_arguments()
    if count == 0:
        return [], {}

    nulls = reader.take((count + 7) // 8)
    names: list[str] = [""] * count
    if reader.uint(1):
        types = []
        for i in range(count):
            kind, param_flags = reader.uint(1), reader.uint(1)
            types.append((kind, bool(param_flags & _UNSIGNED)))
            if attributes:
                names[i] = reader.lenenc_bytes().decode("utf-8", "replace")
        stmt.param_types = types[: stmt.num_params]
    else:
        # The client reuses the types it bound at the previous execution.
        if stmt.param_types is None or count != stmt.num_params:
            raise _wrong_arguments()
        types = stmt.param_types

    codec = self.client_charset.codec
    buffers = stmt.param_buffers or {}
    values: list[Any] = []
    for i, (kind, unsigned) in enumerate(types):
        if nulls[i >> 3] & (1 << (i & 7)):
            values.append(None)
        elif i in buffers:
            values.append(_text_or_bytes(bytes(buffers[i]), codec))
        else:
            values.append(_read_value(reader, kind, unsigned, codec))

    attrs = {
        name: "" if value is None else str(value)
        for name, value in zip(
            names[stmt.num_params :], values[stmt.num_params :], strict=True
        )
        if name
    }
    return values[: stmt.num_params], attrs


async def _run(
    self: Any, stmt: PreparedQuery, values: list[Any], attrs: dict[str, str]
) -> ResultSet:
    session: ByomSession = self.session
    if stmt.tree is None:
        # byom's own statement: the text path parses and runs it.
        return await ensure_result_set(await session.handle_query(stmt.sql, attrs))
    if session.username is None:
        raise MysqlError("Access denied", ErrorCode.ACCESS_DENIED_ERROR)

    where = f"connection {self.connection_id} statement {stmt.stmt_id}"
    session.server_status.questions += 1
    session.activity.info = stmt.sql
    try:
        tree = bind_parameters(stmt.tree, values)
        # What mimic's Session.handle_query does for each parsed statement.
        session.timestamp = dt.datetime.now(tz=session.timezone())
        query = Query(
            expression=tree,
            sql=stmt.sql,
            attrs=attrs,
            _middlewares=session.middlewares,
            _query=session.query,
        )
        return await ensure_result_set(await query.start())
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise to_mysql_error(exc, where) from None


def bind_parameters(tree: exp.Expression, values: Sequence[Any]) -> exp.Expression:
    """A copy of tree with each numbered placeholder replaced by its value.

    >>> tree, _ = prepare_tree("SELECT * FROM t WHERE a = ? LIMIT ?")
    >>> bind_parameters(tree, ["x' OR '1'='1", 5]).sql("mysql")
    "SELECT * FROM t WHERE a = 'x'' OR ''1''=''1' LIMIT 5"
    """
    bound = tree.copy()
    for node in list(bound.find_all(exp.Placeholder)):
        index = node.meta.get("param")
        if index is not None:
            node.replace(to_literal(values[index], index))
    return bound


def to_literal(value: Any, index: int = 0) -> exp.Expression:
    """The sqlglot expression for one decoded parameter value."""
    if value is None:
        return exp.Null()
    if isinstance(value, bytes):
        return exp.HexString(this=value.hex())
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float | decimal.Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            raise WrongArgumentsError(
                f"parameter {index + 1}: {value} is not a number MySQL can store"
            )
        text = format(value, "f") if isinstance(value, decimal.Decimal) else repr(value)
        if text.startswith("-"):
            return exp.Neg(this=exp.Literal.number(text[1:]))
        return exp.Literal.number(text)
    if isinstance(value, dt.datetime):
        # Plain DATETIME: byom's engines keep the fraction of the text, and
        # sqlglot's executor cannot run a cast to DATETIME(6).
        text = value.isoformat(sep=" ", timespec="microseconds")
        return exp.cast(exp.Literal.string(text), exp.DataType.Type.DATETIME)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if isinstance(value, dt.timedelta):
        return exp.cast(exp.Literal.string(_time_text(value)), exp.DataType.Type.TIME)
    raise NotSupportedError(f"parameter {index + 1}: unsupported value {value!r}")


def _time_text(value: dt.timedelta) -> str:
    sign = "-" if value < dt.timedelta(0) else ""
    magnitude = abs(value)
    hours, rest = divmod(magnitude.days * 86400 + magnitude.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
    if magnitude.microseconds:
        text += f".{magnitude.microseconds:06d}"
    return text


# --- parameter values ---------------------------------------------------------


class _Reader:
    """Reads the little-endian fields of a COM_STMT_EXECUTE payload."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise _wrong_arguments()
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "little")

    def lenenc_int(self) -> int:
        first = self.uint(1)
        if first < 0xFB:
            return first
        if first == 0xFC:
            return self.uint(2)
        if first == 0xFD:
            return self.uint(3)
        if first == 0xFE:
            return self.uint(8)
        raise _wrong_arguments()

    def lenenc_bytes(self) -> bytes:
        return self.take(self.lenenc_int())


_INTEGERS = {
    ColumnType.TINY: 1,
    ColumnType.BOOL: 1,
    ColumnType.SHORT: 2,
    ColumnType.YEAR: 2,
    ColumnType.LONG: 4,
    ColumnType.INT24: 4,
    ColumnType.LONGLONG: 8,
}


def _read_value(reader: _Reader, kind: int, unsigned: bool, codec: str) -> Any:
    if kind in _INTEGERS:
        size = _INTEGERS[ColumnType(kind)]
        return int.from_bytes(reader.take(size), "little", signed=not unsigned)
    if kind == ColumnType.FLOAT:
        return struct.unpack("<f", reader.take(4))[0]
    if kind == ColumnType.DOUBLE:
        return struct.unpack("<d", reader.take(8))[0]
    if kind in (ColumnType.DECIMAL, ColumnType.NEWDECIMAL):
        text = reader.lenenc_bytes().decode("ascii", "replace")
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise _wrong_arguments() from None
        if not number.is_finite():
            raise _wrong_arguments()
        return number
    if kind in STRING_TYPES:
        return _text_or_bytes(reader.lenenc_bytes(), codec)
    if kind in (ColumnType.DATE, ColumnType.DATETIME, ColumnType.TIMESTAMP):
        return _read_datetime(reader, date_only=kind == ColumnType.DATE)
    if kind == ColumnType.TIME:
        return _read_time(reader)
    if kind == ColumnType.NULL:
        return None
    raise NotSupportedError(f"parameters of MySQL type {kind} are not supported")


def _text_or_bytes(data: bytes, codec: str) -> str | bytes:
    # Clients send str and bytes alike as STRING; only the content tells them apart.
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return data


def _read_datetime(reader: _Reader, date_only: bool) -> dt.date | None:
    size = reader.uint(1)
    if size not in (0, 4, 7, 11):
        raise _wrong_arguments()
    if size == 0:
        # 0000-00-00 has no Python value; MySQL's strict mode refuses it too.
        return None
    fields = reader.take(size)
    year, month, day = struct.unpack_from("<HBB", fields)
    hour = minute = second = micro = 0
    if size >= 7:
        hour, minute, second = struct.unpack_from("<BBB", fields, 4)
    if size == 11:
        (micro,) = struct.unpack_from("<I", fields, 7)
    try:
        if date_only or size == 4:
            return dt.date(year, month, day)
        return dt.datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        raise _wrong_arguments() from None


def _read_time(reader: _Reader) -> dt.timedelta:
    size = reader.uint(1)
    if size not in (0, 8, 12):
        raise _wrong_arguments()
    if size == 0:
        return dt.timedelta(0)
    fields = reader.take(size)
    negative, days, hours, minutes, seconds = struct.unpack_from("<BIBBB", fields)
    micro = struct.unpack_from("<I", fields, 8)[0] if size == 12 else 0
    value = dt.timedelta(
        days=days, hours=hours, minutes=minutes, seconds=seconds, microseconds=micro
    )
    return -value if negative else value


def _wrong_arguments() -> MysqlError:
    return MysqlError(
        "Incorrect arguments to mysqld_stmt_execute",
        WrongArgumentsError.code,  # type: ignore[arg-type]
    )


# --- binary result sets -------------------------------------------------------


async def _write_result(
    self: Any, stmt: PreparedQuery, result: ResultSet, cursor: bool
) -> None:
    """Column definitions, then rows batch by batch (or a cursor over them)."""
    batches = row_batches(result)
    columns = result.columns
    try:
        # The header waits for the first batch, so an early failure is a clean
        # ERR; the batch also tells which BIGINT columns need the UNSIGNED flag.
        first = await anext(batches, None)
        unsigned = unsigned_columns(columns, first or [])
        encode = row_encoder(columns, unsigned)
        _write_columns(self, columns, unsigned, column_tables(result))
        if cursor:
            stmt.cursor = _encoded_rows(first, batches, encode)
            await self.stream.write(
                self.ok_or_eof(flags=ServerStatus.SERVER_STATUS_CURSOR_EXISTS)
            )
            return
        if not self.deprecate_eof():
            self.stream.write_many([self.eof()])
        while first is not None:
            await write_packets(self.stream, [encode(row) for row in first])
            await self.stream.drain()
            first = await anext(batches, None)
    except asyncio.CancelledError:
        await _close(batches)
        raise
    except Exception as exc:
        await _close(batches)
        if client_went_away(self, exc):
            raise
        raise to_mysql_error(exc, f"connection {self.connection_id}") from None
    await _close(batches)
    await self.stream.write(self.ok_or_eof(affected_rows=0))


def _write_columns(
    self: Any,
    columns: Sequence[ResultColumn],
    unsigned: AbstractSet[int],
    tables: Sequence[str | None],
) -> None:
    header = [
        packets.make_column_count(
            capabilities=self.capabilities, column_count=len(columns)
        )
    ]
    for i, column in enumerate(columns):
        header.append(
            packets.make_column_definition_41(
                server_charset=self.server_charset,
                table=tables[i],
                name=column.name,
                column_type=column.type,
                character_set=column.character_set,
                flags=ColumnDefinition.UNSIGNED_FLAG
                if i in unsigned
                else ColumnDefinition(0),
            )
        )
    self.stream.write_many(header)


async def _encoded_rows(
    first: Sequence[Sequence[Any]] | None,
    batches: AsyncIterator[Sequence[Sequence[Any]]],
    encode: Callable[[Sequence[Any]], bytes],
) -> AsyncIterator[bytes]:
    try:
        batch = first
        while batch is not None:
            for row in batch:
                yield encode(row)
            batch = await anext(batches, None)
    finally:
        await _close(batches)


async def _close(batches: AsyncIterator[Any]) -> None:
    aclose = getattr(batches, "aclose", None)
    if aclose is not None:
        await aclose()


async def _handle_fetch(self: Any, data: bytes) -> None:
    if len(data) < 8:
        raise _wrong_arguments()
    stmt_id, wanted = struct.unpack_from("<II", data)
    stmt = _get_stmt(self, stmt_id)
    if stmt.cursor is None:
        raise MysqlError(
            f"The statement ({stmt_id}) has no open cursor",
            NO_OPEN_CURSOR,  # type: ignore[arg-type]
        )

    rows: list[bytes] = []
    done = False
    try:
        while len(rows) < wanted:
            row = await anext(stmt.cursor, None)
            if row is None:
                done = True
                break
            rows.append(row)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await _close_cursor(stmt)
        raise to_mysql_error(exc, f"connection {self.connection_id}") from None

    await write_packets(self.stream, rows)
    if done:
        await _close_cursor(stmt)
        flags = ServerStatus.SERVER_STATUS_LAST_ROW_SENT
    else:
        flags = ServerStatus.SERVER_STATUS_CURSOR_EXISTS
    await self.stream.write(self.ok_or_eof(flags=flags))
