"""Who is connected and what each connection is doing (SHOW PROCESSLIST).

The rows come from mysql-mimic's connection registry: its ``LocalControl`` keeps
every open connection, those still logging in included. A ``Control`` without
such a registry (one shared by several processes) falls back to the sessions
this server tracks itself, which are only the logged-in ones.

As in MySQL without the PROCESS privilege, a user who is not ``admin`` sees only
the connections logged in as that user (``visible_connections``).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mysql_mimic.control import LocalControl

from byom.types import SqlType

PROCESSLIST_COLUMNS = [
    ("Id", SqlType.LONGLONG),
    ("User", SqlType.VAR_STRING),
    ("Host", SqlType.VAR_STRING),
    ("db", SqlType.VAR_STRING),
    ("Command", SqlType.VAR_STRING),
    ("Time", SqlType.LONGLONG),
    ("State", SqlType.VAR_STRING),
    ("Info", SqlType.VAR_STRING),
]

# MySQL cuts Info to 100 characters unless the client asks for SHOW FULL.
_SHORT_INFO = 100


@dataclass
class Activity:
    """What one connection is doing: its command, since when, and its statement."""

    command: str = "Sleep"
    since: float = field(default_factory=time.monotonic)
    info: str | None = None

    def begin(self, command: str) -> None:
        """A command packet arrived."""
        self.command, self.since, self.info = command, time.monotonic(), None

    def end(self) -> None:
        """The answer to the command has been written."""
        self.command, self.since, self.info = "Sleep", time.monotonic(), None


class SessionRegistry:
    """The logged-in sessions of one server (weakly held: a closed one drops out)."""

    def __init__(self) -> None:
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()

    def add(self, session: Any) -> None:
        self._sessions.add(session)

    def discard(self, session: Any) -> None:
        self._sessions.discard(session)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._sessions))

    def __len__(self) -> int:
        return len(self._sessions)


def open_connections(session: Any, registry: SessionRegistry) -> list[Any]:
    """mysql-mimic's connections of this server, or the tracked sessions' ones."""
    control = session.connection.control
    connections = getattr(control, "_connections", None)
    if isinstance(control, LocalControl) and isinstance(connections, dict):
        return list(connections.values())
    return [s.connection for s in registry if s._connection is not None]


def visible_connections(
    connections: list[Any], username: str | None, privileged: bool
) -> list[Any]:
    """The connections a user may see: all when privileged, else only their own."""
    if privileged:
        return connections
    return [c for c in connections if c.session.username == username]


def process_rows(connections: list[Any], full: bool) -> list[tuple[Any, ...]]:
    """One SHOW PROCESSLIST row per connection, ordered by id."""
    now = time.monotonic()
    rows = []
    for connection in sorted(connections, key=lambda c: c.connection_id):
        session = connection.session
        activity: Activity = getattr(session, "activity", None) or Activity()
        info = activity.info
        if info is not None and not full:
            info = info[:_SHORT_INFO]
        if session.username is None:
            user, command, database = "unauthenticated user", "Connect", None
        else:
            user, command, database = (
                session.username,
                activity.command,
                session.database,
            )
        rows.append(
            (
                connection.connection_id,
                user,
                _host(connection),
                database,
                command,
                int(now - activity.since),
                "" if command == "Sleep" else "executing",
                info,
            )
        )
    return rows


def client_host(connection: Any) -> str:
    """The client's address as MySQL names it in USER(): its IP, or localhost."""
    peer = connection.stream.writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0])
    return "localhost"


def _host(connection: Any) -> str:
    # The processlist adds the client's port, as MySQL does.
    peer = connection.stream.writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "localhost"
