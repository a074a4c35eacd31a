"""The MySQL server: mysql-mimic with byom's fixes, sessions and login check."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from mysql_mimic.server import MysqlServer

from byom.app import Byom
from byom.mysql import compat, tls
from byom.mysql.accounts import Account, load_accounts, single_account
from byom.mysql.auth import ByomIdentityProvider
from byom.mysql.server_status import ServerStatus
from byom.mysql.session import ByomSession
from byom.settings import Settings

logger = logging.getLogger(__name__)


class StartupError(Exception):
    """The settings describe a server byom refuses to run; the message says why."""


class ByomServer:
    """Listens for MySQL clients and gives each connection a ByomSession."""

    def __init__(self, app: Byom) -> None:
        compat.apply()
        self.app = app
        settings = app.settings
        status = ServerStatus()
        try:
            accounts = _accounts(settings)
            context = tls.server_context(settings)
        except ValueError as exc:
            raise StartupError(str(exc)) from None
        required = tls.effective_mode(settings) == "required"
        self._server = MysqlServer(
            session_factory=lambda: ByomSession(app, status),
            identity_provider=ByomIdentityProvider(accounts, tls_required=required),
            capabilities=compat.SERVER_CAPABILITIES,
            ssl=context,
        )
        logger.info("TLS %s, %d user(s)", tls.effective_mode(settings), len(accounts))

    async def start(self) -> None:
        """Prepare the catalog and start accepting connections."""
        self.app.start()
        settings = self.app.settings
        await self._server.start_server(host=settings.host, port=settings.port)
        logger.info("byom listening on %s:%d", settings.host, self.port)

    @property
    def port(self) -> int:
        """The port actually bound (useful when started on port 0)."""
        sockets = self._server.sockets()
        port: int = sockets[0].getsockname()[1] if sockets else 0
        return port

    async def stop(self) -> None:
        """Stop accepting connections and release the catalog and pools."""
        self._server.close()
        await self._server.wait_closed()
        await self.app.close()
        logger.info("byom stopped")


def _accounts(settings: Settings) -> dict[str, Account]:
    if settings.users_file:
        return load_accounts(Path(settings.users_file))
    if not settings.password and not _is_loopback(settings.host):
        raise ValueError(
            f"host {settings.host!r} is reachable from other machines, and user "
            f"{settings.user!r} has no password: set password (BYOM_PASSWORD) or "
            "users_file, or listen on 127.0.0.1"
        )
    return single_account(settings.user, settings.password)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
