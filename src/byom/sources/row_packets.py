"""A MySQL source's result rows, read as the packets the source sent.

A query that runs on a MySQL or MariaDB integration as it is, and whose answer
goes out in the text protocol, needs no value of its rows: the packets the
source sends for them are the packets the client is to get, byte for byte, but
for their sequence numbers. Reading them through a driver costs a Python object
per cell and writing them costs as much again, about 1.4 s per million rows of
five columns; cutting the source's stream into packets costs a fifth of that.

``RowPackets`` does that on its own PyMySQL connection (PyMySQL connects and
logs in; byom then speaks the protocol on the socket): it sends COM_QUERY,
reads the column definitions, and hands out the rows as chunks of whole
packets, ending at the source's EOF. An ERR packet, before or between rows, is
raised as PyMySQL raises it. The connection never asks for CLIENT_DEPRECATE_EOF,
so the source's packets before the rows are the column count, one definition a
column and an EOF, as byom's own are.

>>> packet_ends(bytearray(b"\\x01\\x00\\x00\\x05\\x00" + b"\\x05\\x00\\x00\\x06\\xfe"))
(5, 1, False, False)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pymysql  # type: ignore[import-untyped]
import pymysql.err  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

_COM_QUERY = 0x03
_COM_RESET_CONNECTION = 0x1F
_MAX_PAYLOAD = 0xFFFFFF
# Read from the source's socket this much at a time.
_READ_SIZE = 1 << 20
# The charset number of binary (BLOB, VARBINARY, BIT) columns.
BINARY_CHARSET = 63


@dataclass(frozen=True)
class ColumnDefinition:
    """What a source's column definition packet says of one result column."""

    name: str
    table: str
    type_code: int
    charset: int
    # The packet's payload itself, for a client to get the source's metadata.
    packet: bytes


@dataclass(frozen=True)
class PacketChunk:
    """Whole row packets, as the source numbered them, and how many there are."""

    data: bytes
    packets: int


class RowPackets:
    """One query's result on a PyMySQL connection, read as raw packets.

    Blocking: the caller runs each method in a worker thread.
    """

    def __init__(self, connection: Any) -> None:
        self.done = False
        self._socket: Any = connection._sock
        self._buffer = bytearray()
        # A packet of the largest size is continued by the next one, whose
        # first byte is then data, not a packet kind.
        self._continued = False
        # An ERR packet that ended the rows, raised once those before it are out.
        self._error = b""

    def start(self, sql: str) -> list[ColumnDefinition]:
        """Send the query; read and return its column definitions."""
        payload = bytes([_COM_QUERY]) + sql.encode("utf-8")
        self._send_packets(payload)

        first = self._read_packet()
        if first[:1] == b"\xff":
            self.done = True
            pymysql.err.raise_mysql_exception(first)
        if first[:1] in (b"\x00", b"\xfb"):
            # An OK (or LOCAL INFILE request) answers a statement, not a query.
            self.done = True
            raise pymysql.err.ProgrammingError("the query returned no result set")
        count, _ = _length_encoded(first, 0)
        columns = [_column_definition(self._read_packet()) for _ in range(count)]
        self._read_packet()  # The EOF after the definitions.
        return columns

    def read(self) -> PacketChunk:
        """The next row packets (at least one) up to the EOF; empty at the end."""
        if self._error:
            error, self._error = self._error, b""
            pymysql.err.raise_mysql_exception(error)
        while not self.done:
            end, packets, finished, continued = packet_ends(
                self._buffer, self._continued
            )
            if finished:
                return self._last_chunk(end, packets)
            if packets:
                self._continued = continued
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return PacketChunk(data, packets)
            self._receive()
        return PacketChunk(b"", 0)

    def reset(self) -> bool:
        """Reset the connection's session (COM_RESET_CONNECTION) after a result.

        A query may leave state behind on the connection: user locks
        (GET_LOCK), user variables, temporary tables, FOUND_ROWS(). The next
        query on it may be another client's. Returns whether the source agreed.
        """
        if not self.done or self._error:
            return False
        self._send_packets(bytes([_COM_RESET_CONNECTION]))
        return self._read_packet()[:1] == b"\x00"

    def _last_chunk(self, end: int, packets: int) -> PacketChunk:
        data = bytes(self._buffer[:end])
        length = int.from_bytes(self._buffer[end : end + 3], "little")
        final = bytes(self._buffer[end + 4 : end + 4 + length])
        del self._buffer[: end + 4 + length]
        self.done = True
        if final[:1] == b"\xff":
            if not packets:
                pymysql.err.raise_mysql_exception(final)
            # The rows before an error still go out, as from MySQL itself.
            self._error = final
        return PacketChunk(data, packets)

    def _receive(self) -> None:
        received = self._socket.recv(_READ_SIZE)
        if not received:
            raise pymysql.err.OperationalError(
                2013, "Lost connection to server during query"
            )
        self._buffer += received

    def _read_packet(self) -> bytes:
        """One whole packet's payload, joined over continuation packets."""
        payload = b""
        while True:
            while len(self._buffer) < 4:
                self._receive()
            length = int.from_bytes(self._buffer[:3], "little")
            while len(self._buffer) < 4 + length:
                self._receive()
            payload += bytes(self._buffer[4 : 4 + length])
            del self._buffer[: 4 + length]
            if length < _MAX_PAYLOAD:
                return payload

    def _send_packets(self, payload: bytes) -> None:
        sequence = 0
        for start in range(0, len(payload) + 1, _MAX_PAYLOAD):
            part = payload[start : start + _MAX_PAYLOAD]
            header = len(part).to_bytes(3, "little") + bytes([sequence])
            self._socket.sendall(header + part)
            sequence = (sequence + 1) & 0xFF
            if len(part) < _MAX_PAYLOAD:
                return


def packet_ends(
    buffer: bytearray, continued: bool = False
) -> tuple[int, int, bool, bool]:
    """Where the whole row packets at the start of buffer end.

    Returns the offset after the last whole row packet, how many there are,
    whether an EOF or ERR packet follows them, and whether the last of them is
    continued by the next. ``continued``: the first packet continues one of the
    largest size, so its first byte is data. A row never starts like an EOF
    (0xFE, payload under 9 bytes) or an ERR (0xFF): its first byte is the
    length of its first cell, 0xFE only for a cell of 16 MiB or more.
    """
    position, packets, size = 0, 0, len(buffer)
    while position + 4 <= size:
        length = (
            buffer[position] | buffer[position + 1] << 8 | buffer[position + 2] << 16
        )
        end = position + 4 + length
        if end > size:
            break
        if not continued and length:
            kind = buffer[position + 4]
            if kind == 0xFF or (kind == 0xFE and length < 9):
                return position, packets, True, False
        continued = length == _MAX_PAYLOAD
        packets += 1
        position = end
    return position, packets, False, continued


def renumbered(data: bytes, sequence: int) -> bytes:
    """Packets with sequence numbers from sequence on, in place of their own."""
    packets = bytearray(data)
    position = 0
    while position < len(packets):
        length = int.from_bytes(packets[position : position + 3], "little")
        packets[position + 3] = sequence
        sequence = (sequence + 1) & 0xFF
        position += 4 + length
    return bytes(packets)


def _column_definition(packet: bytes) -> ColumnDefinition:
    """The name, table, type and charset of a ColumnDefinition41 packet."""
    position = 0
    texts: list[bytes] = []
    # catalog, schema, table, original table, name, original name
    for _ in range(6):
        length, position = _length_encoded(packet, position)
        texts.append(packet[position : position + length])
        position += length
    _, position = _length_encoded(packet, position)  # the fixed fields' length
    charset = int.from_bytes(packet[position : position + 2], "little")
    type_code = packet[position + 6]
    name, table = (texts[i].decode("utf-8", "replace") for i in (4, 2))
    return ColumnDefinition(name, table, type_code, charset, packet)


def _length_encoded(data: bytes, position: int) -> tuple[int, int]:
    """A length-encoded integer at position, and the offset after it."""
    first = data[position]
    if first < 0xFB:
        return first, position + 1
    width = {0xFC: 2, 0xFD: 3, 0xFE: 8}.get(first)
    if width is None:
        raise pymysql.err.InternalError(f"bad length-encoded integer {first:#x}")
    value = int.from_bytes(data[position + 1 : position + 1 + width], "little")
    return value, position + 1 + width
