"""A bare MySQL protocol client, for what real drivers hide from a test.

Drivers close their socket after a refused login, so only a raw client can show
whether the server would still run a query on it.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

CLIENT_LONG_PASSWORD = 0x1
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_DEPRECATE_EOF = 0x1000000


@dataclass
class Handshake:
    """The parts of the server's greeting a test looks at."""

    server_version: str
    capabilities: int
    auth_plugin: str


class RawClient:
    """Speaks just enough of the protocol to log in and send COM_QUERY."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=10)

    def close(self) -> None:
        self.sock.close()

    def read_packet(self) -> bytes | None:
        """One packet's payload, or None when the server closed the connection."""
        header = self._read_exactly(4)
        if header is None:
            return None
        length = header[0] | header[1] << 8 | header[2] << 16
        return self._read_exactly(length)

    def _read_exactly(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            try:
                chunk = self.sock.recv(size - len(data))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def send_packet(self, payload: bytes, seq: int) -> None:
        header = struct.pack("<I", len(payload))[:3] + bytes([seq])
        self.sock.sendall(header + payload)

    def handshake(self) -> Handshake:
        """Read the server greeting."""
        payload = self.read_packet()
        assert payload is not None and payload[0] == 10
        end = payload.index(b"\x00", 1)
        version = payload[1:end].decode()
        pos = end + 1 + 4 + 8 + 1
        low = struct.unpack_from("<H", payload, pos)[0]
        high = struct.unpack_from("<H", payload, pos + 5)[0]
        data_len = payload[pos + 7]
        pos += 8 + 10 + max(13, data_len - 8)
        plugin = payload[pos:].split(b"\x00")[0].decode()
        return Handshake(version, low | high << 16, plugin)

    def login(self, user: str, scramble: bytes) -> bytes | None:
        """Send a login answer with the given scramble; return the server's reply."""
        capabilities = (
            CLIENT_LONG_PASSWORD
            | CLIENT_PROTOCOL_41
            | CLIENT_SECURE_CONNECTION
            | CLIENT_PLUGIN_AUTH
        )
        payload = (
            struct.pack("<IIB", capabilities, 1 << 24, 45)
            + b"\x00" * 23
            + user.encode()
            + b"\x00"
            + bytes([len(scramble)])
            + scramble
            + b"mysql_native_password\x00"
        )
        self.send_packet(payload, seq=1)
        return self.read_packet()

    def query(self, sql: str) -> bytes | None:
        """Send COM_QUERY; return the first packet of the answer (None: closed)."""
        try:
            self.send_packet(b"\x03" + sql.encode(), seq=0)
        except (BrokenPipeError, ConnectionResetError):
            return None
        return self.read_packet()
