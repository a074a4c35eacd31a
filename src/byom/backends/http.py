"""HTTP calls to model endpoints: one pooled aiohttp session per server.

Connections are kept alive and reused (a fresh TCP connection per batch would
double the cost of small calls). Every call has a connect timeout and a total
timeout; failures become ``ModelError`` subclasses that name the URL with any
credentials removed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from byom.errors import ModelUnreachableError

logger = logging.getLogger(__name__)

# How much of an endpoint's answer an error message quotes.
ANSWER_EXCERPT_CHARS = 200


@dataclass(frozen=True)
class HttpAnswer:
    """What an endpoint answered: status, media type and raw body."""

    status: int
    content_type: str
    body: bytes

    def excerpt(self) -> str:
        """The start of the body as text, for error messages."""
        text = self.body[:ANSWER_EXCERPT_CHARS].decode("utf-8", "replace").strip()
        return text + ("..." if len(self.body) > ANSWER_EXCERPT_CHARS else "")


def redact_url(url: str) -> str:
    """The URL without user name, password or query string (which may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class HttpClient:
    """Posts JSON bodies to model endpoints over a shared connection pool."""

    def __init__(self, connect_timeout: float, limit: int = 64) -> None:
        self._connect_timeout = connect_timeout
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use so it binds to the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                raise_for_status=False,
            )
        return self._session

    async def post_json(
        self, url: str, body: bytes, timeout: float, caller: str
    ) -> HttpAnswer:
        """POST body as application/json; the answer whatever its status.

        ``caller`` (such as "predictor 'p'") starts every error message.
        """
        limits = aiohttp.ClientTimeout(
            total=timeout, sock_connect=self._connect_timeout
        )
        headers = {"Content-Type": "application/json"}
        try:
            async with self._client().post(
                url, data=body, headers=headers, timeout=limits
            ) as response:
                payload = await response.read()
                return HttpAnswer(response.status, response.content_type, payload)
        except TimeoutError:
            raise ModelUnreachableError(
                f"{caller}: model endpoint {redact_url(url)} did not answer within "
                f"{timeout:g} s"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            errno = exc.os_error.errno
            reason = os.strerror(errno) if errno else str(exc.os_error)
            raise ModelUnreachableError(
                f"{caller}: cannot connect to model endpoint {redact_url(url)}: "
                f"{reason}"
            ) from None
        except aiohttp.ClientError as exc:
            raise ModelUnreachableError(
                f"{caller}: model endpoint {redact_url(url)} failed: "
                f"{type(exc).__name__}"
            ) from None

    async def close(self) -> None:
        """Close pooled connections (at server shutdown)."""
        if self._session is not None:
            await self._session.close()
            # aiohttp needs a moment for SSL transports to close cleanly.
            await asyncio.sleep(0)
