"""HTTP calls to model endpoints: one pooled aiohttp session per server.

Connections are kept alive and reused (a fresh TCP connection per batch would
double the cost of small calls). Every call has a connect timeout and a total
timeout per try, carries an ``X-Request-ID`` that stays the same across its
retries (so a model's logs can tell a retry from a new call), and is retried
under a ``RetryPolicy``. Failures become ``ModelError`` subclasses that name the
URL with any credentials removed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from byom.backends.retry import RetryPolicy, parse_retry_after, retryable_status
from byom.backends.stats import note_retry
from byom.errors import ModelUnreachableError

if TYPE_CHECKING:
    from byom.backends.allowlist import UrlAllowList

logger = logging.getLogger(__name__)

# How much of an endpoint's answer an error message quotes.
ANSWER_EXCERPT_CHARS = 200

REQUEST_ID_HEADER = "X-Request-ID"


@dataclass(frozen=True)
class HttpAnswer:
    """What an endpoint answered: status, media type, raw body and Retry-After."""

    status: int
    content_type: str
    body: bytes
    retry_after: str | None = None

    def excerpt(self) -> str:
        """The start of the body as text, for error messages."""
        text = self.body[:ANSWER_EXCERPT_CHARS].decode("utf-8", "replace").strip()
        return text + ("..." if len(self.body) > ANSWER_EXCERPT_CHARS else "")


def redact_url(url: str) -> str:
    """The URL without user name, password or query string (which may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        # Shown in error messages about the URL itself, so never raise here.
        port = None
    if port:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class _TryFailed(Exception):
    """One try raised instead of answering; ``error`` is what the client sees.

    ``unsent`` is true when the request surely never reached the endpoint (the
    connection was not made), so even a call with effects may be repeated.
    """

    def __init__(
        self, error: ModelUnreachableError, reason: str, *, unsent: bool, retry: bool
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.reason = reason
        self.unsent = unsent
        self.retry = retry


class HttpClient:
    """Posts JSON bodies to model endpoints over a shared connection pool."""

    def __init__(
        self,
        connect_timeout: float,
        retry: RetryPolicy | None = None,
        limit: int = 64,
        allowed: UrlAllowList | None = None,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._retry = retry or RetryPolicy()
        self._allowed = allowed
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
        self,
        url: str,
        body: bytes,
        timeout: float | None,
        caller: str,
        *,
        repeatable: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> HttpAnswer:
        """POST body (JSON by default); the last answer whatever its status.

        ``caller`` (such as "predictor 'p'") starts every error and log line.
        ``timeout`` bounds each try; None leaves the bound to the caller (a
        training, which train_timeout bounds as a whole).
        A call that must not run twice (``repeatable=False``: a training) is
        retried only when the endpoint cannot have acted on it. ``extra_headers``
        (a predictor's own, such as Authorization) are sent but never logged;
        ``content_type`` wins over any Content-Type among them.
        """
        if self._allowed is not None:
            # Checked per call too: the setting may have narrowed since CREATE.
            self._allowed.check(url, f"{caller}: model URL")
        request_id = uuid.uuid4().hex
        headers = dict(extra_headers or {})
        headers.update({"Content-Type": content_type, REQUEST_ID_HEADER: request_id})
        tries = self._retry.tries

        for attempt in range(1, tries + 1):
            try:
                answer = await self._post_once(url, body, timeout, headers, caller)
            except _TryFailed as failed:
                worth_it = failed.retry and (repeatable or failed.unsent)
                if attempt == tries or not worth_it:
                    raise failed.error from None
                wait = self._retry.wait(attempt)
                reason = failed.reason
            else:
                if attempt == tries or not retryable_status(answer.status, repeatable):
                    return answer
                wait = self._retry.wait(attempt, parse_retry_after(answer.retry_after))
                reason = f"HTTP {answer.status}"

            note_retry()
            logger.warning(
                "%s: %s gave %s; try %d of %d in %.2f s (request %s)",
                caller,
                redact_url(url),
                reason,
                attempt + 1,
                tries,
                wait,
                request_id,
            )
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last try returns or raises")

    async def _post_once(
        self,
        url: str,
        body: bytes | None,
        timeout: float | None,
        headers: dict[str, str],
        caller: str,
        method: str = "POST",
    ) -> HttpAnswer:
        limits = aiohttp.ClientTimeout(
            total=timeout, sock_connect=self._connect_timeout
        )
        shown = redact_url(url)
        try:
            # Redirects are not followed: the allow-list vouches for this URL
            # only, and a redirect would carry the rows somewhere else.
            async with self._client().request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=limits,
                allow_redirects=False,
            ) as response:
                payload = await response.read()
                return HttpAnswer(
                    response.status,
                    response.content_type,
                    payload,
                    response.headers.get("Retry-After"),
                )
        except aiohttp.ConnectionTimeoutError:
            error = ModelUnreachableError(
                f"{caller}: cannot connect to model endpoint {shown}: no answer "
                f"within {self._connect_timeout:g} s"
            )
            raise _TryFailed(
                error, "connect timeout", unsent=True, retry=True
            ) from None
        except TimeoutError:
            # Not retried: a model too slow once is likely slow again, and each
            # try would add a whole timeout to the client's wait.
            error = ModelUnreachableError(
                f"{caller}: model endpoint {shown} did not answer within "
                f"{timeout or 0:g} s"
            )
            raise _TryFailed(error, "timeout", unsent=False, retry=False) from None
        except aiohttp.ClientConnectorError as exc:
            errno = exc.os_error.errno
            reason = os.strerror(errno) if errno else str(exc.os_error)
            error = ModelUnreachableError(
                f"{caller}: cannot connect to model endpoint {shown}: {reason}"
            )
            raise _TryFailed(error, reason, unsent=True, retry=True) from None
        except aiohttp.ClientError as exc:
            # The connection broke after the request may have been sent.
            name = type(exc).__name__
            error = ModelUnreachableError(
                f"{caller}: model endpoint {shown} failed: {name}"
            )
            raise _TryFailed(error, name, unsent=False, retry=True) from None

    async def get(
        self,
        url: str,
        timeout: float,
        caller: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
    ) -> HttpAnswer:
        """GET url (a model's metadata) once; the answer whatever its status.

        Not retried: metadata is read at CREATE, where the user sees a failure
        and can run the statement again, and once more after a restart.
        """
        if self._allowed is not None:
            self._allowed.check(url, f"{caller}: model URL")
        headers = dict(extra_headers or {})
        headers[REQUEST_ID_HEADER] = uuid.uuid4().hex
        try:
            return await self._post_once(url, None, timeout, headers, caller, "GET")
        except _TryFailed as failed:
            raise failed.error from None

    async def close(self) -> None:
        """Close pooled connections (at server shutdown)."""
        if self._session is not None:
            await self._session.close()
            # aiohttp needs a moment for SSL transports to close cleanly.
            await asyncio.sleep(0)
