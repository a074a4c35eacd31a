"""The server status flags of OK and EOF packets: autocommit, transaction, more results.

mysql-mimic writes ``Connection.status_flags`` into the greeting and every OK and
EOF packet, and that attribute is set to 0 once, when the connection is made,
and never changed.
Clients read these flags instead of asking: JDBC drivers take
SERVER_STATUS_AUTOCOMMIT for ``getAutoCommit()`` and SERVER_STATUS_IN_TRANS to
decide whether a pooled connection needs a ROLLBACK, and a multi-statement
client reads SERVER_MORE_RESULTS_EXISTS to know that another result follows.
byom computes the flags each time a packet is built:

    SERVER_STATUS_AUTOCOMMIT    the session's ``autocommit`` is on
    SERVER_STATUS_IN_TRANS      after BEGIN or START TRANSACTION, until COMMIT,
                                ROLLBACK or turning autocommit on (byom has no
                                transactions; the flag only says what MySQL's
                                would)
    SERVER_MORE_RESULTS_EXISTS  while a statement of a multi-statement query that
                                is not the last one is answered
"""

from __future__ import annotations

from typing import Any

from mysql_mimic import connection as mimic_connection
from mysql_mimic import packets
from mysql_mimic.types import ServerStatus
from sqlglot import exp

from byom.mysql.patching import replace_methods


def install() -> None:
    """Make mimic's greeting, OK and EOF packets carry the flags computed here."""
    greet = mimic_connection.Connection.connection_phase

    async def connection_phase(self: Any) -> None:
        # The greeting carries the flags too: PyMySQL's autocommit=False at
        # connect sends nothing when the greeting says autocommit is off.
        self.status_flags = status_flags(self)
        await greet(self)

    replace_methods(
        mimic_connection.Connection,
        connection_phase=connection_phase,
        ok=_ok,
        eof=_eof,
    )


def status_flags(connection: Any) -> ServerStatus:
    """The flags for the next OK or EOF packet of connection."""
    flags = ServerStatus(0)
    session = connection.session
    if session.variables.get("autocommit"):
        flags |= ServerStatus.SERVER_STATUS_AUTOCOMMIT
    if getattr(session, "in_transaction", False):
        flags |= ServerStatus.SERVER_STATUS_IN_TRANS
    if getattr(connection, "more_results", False):
        flags |= ServerStatus.SERVER_MORE_RESULTS_EXISTS
    return flags


def set_more_results(connection: Any, more: bool) -> None:
    """Say whether another result follows the one connection is about to send."""
    connection.more_results = more


def in_transaction_after(
    statement: exp.Expression,
    was_in_transaction: bool,
    autocommit_before: bool,
    autocommit_after: bool,
) -> bool:
    """Whether MySQL would have a transaction open after statement succeeded.

    BEGIN -> True; COMMIT -> False; COMMIT AND CHAIN -> True; SET autocommit = 1
    when it was 0 -> False (MySQL commits then); anything else keeps the state.
    """
    if isinstance(statement, exp.Transaction):
        return True
    if isinstance(statement, exp.Commit | exp.Rollback):
        return bool(statement.args.get("chain"))
    if autocommit_after and not autocommit_before:
        return False
    return was_in_transaction


def _ok(self: Any, **kwargs: Any) -> bytes:
    return packets.make_ok(
        capabilities=self.capabilities, status_flags=status_flags(self), **kwargs
    )


def _eof(self: Any, **kwargs: Any) -> bytes:
    return packets.make_eof(
        capabilities=self.capabilities, status_flags=status_flags(self), **kwargs
    )
