"""The MySQL server: mysql-mimic with byom's fixes, sessions and login check."""

from __future__ import annotations

import logging

from mysql_mimic.server import MysqlServer

from byom.app import Byom
from byom.mysql import compat
from byom.mysql.auth import SingleUserIdentityProvider
from byom.mysql.server_status import ServerStatus
from byom.mysql.session import ByomSession

logger = logging.getLogger(__name__)


class ByomServer:
    """Listens for MySQL clients and gives each connection a ByomSession."""

    def __init__(self, app: Byom) -> None:
        compat.apply()
        self.app = app
        settings = app.settings
        status = ServerStatus()
        self._server = MysqlServer(
            session_factory=lambda: ByomSession(app, status),
            identity_provider=SingleUserIdentityProvider(
                settings.user, settings.password
            ),
            capabilities=compat.SERVER_CAPABILITIES,
        )

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
