"""Counters one server shares between its sessions: SHOW STATUS and COM_STATISTICS.

Stock mysql-mimic answers SHOW STATUS with no rows and refuses COM_STATISTICS
(the mariadb CLI's ``status``), so monitoring tools and scripts that read
``Uptime`` or ``Threads_connected`` got nothing. byom keeps the few counters it
can state truthfully; the rest are absent rather than made up.
"""

from __future__ import annotations

import time
from typing import Any

from byom.mysql.processes import SessionRegistry, open_connections
from byom.types import SqlType

STATUS_COLUMNS = [("Variable_name", SqlType.VAR_STRING), ("Value", SqlType.VAR_STRING)]


class ServerStatus:
    """When the server started, what it has been asked, and who is connected."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.questions = 0
        self.connections = 0
        self.sessions = SessionRegistry()

    def uptime(self) -> int:
        """Whole seconds since the server started."""
        return int(time.monotonic() - self.started)

    def status_rows(self, session: Any) -> list[tuple[str, str]]:
        """SHOW STATUS rows as seen from session, sorted by name as MySQL does."""
        connections = open_connections(session, self.sessions)
        running = sum(
            getattr(c.session, "activity", None) is not None
            and c.session.activity.command != "Sleep"
            for c in connections
        )
        tls = _tls_object(session)
        uptime = self.uptime()
        rows = {
            "Connections": self.connections,
            "Questions": self.questions,
            "Queries": self.questions,
            "Slow_queries": 0,
            "Ssl_cipher": tls.cipher()[0] if tls is not None else "",
            "Ssl_version": tls.version() if tls is not None else "",
            "Threads_connected": len(connections),
            "Threads_running": running,
            "Uptime": uptime,
            "Uptime_since_flush_status": uptime,
        }
        return [(name, str(value)) for name, value in sorted(rows.items())]

    def statistics(self, session: Any) -> str:
        """The text a COM_STATISTICS answer carries, in MySQL's own format."""
        uptime = self.uptime()
        threads = len(open_connections(session, self.sessions))
        per_second = self.questions / uptime if uptime else 0.0
        return (
            f"Uptime: {uptime}  Threads: {threads}  Questions: {self.questions}  "
            "Slow queries: 0  Opens: 0  Flush tables: 1  Open tables: 0  "
            f"Queries per second avg: {per_second:.3f}"
        )


def _tls_object(session: Any) -> Any:
    writer = session.connection.stream.writer
    return writer.get_extra_info("ssl_object")
