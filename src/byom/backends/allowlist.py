"""Which model URLs byom may call: the ``allowed_model_urls`` setting.

A predictor's URLs come from whoever can run CREATE PREDICTOR, and byom then
posts database rows to them. Without a limit, any client could make the server
send data to any host its network reaches. The default allows loopback only;
an operator opens more with entries such as::

    loopback                          127.0.0.0/8, ::1 and localhost, any port
    https://models.internal           that scheme and host, any port and path
    http://10.0.0.5:8000/serve/       that origin, paths under /serve/
    *                                 any http or https URL

An entry matches on the parsed URL (scheme, host, port, path prefix at a ``/``
boundary), never on the text, so ``http://127.0.0.1.evil.net`` is not loopback
and ``/serve`` does not cover ``/server``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from byom.backends.http import redact_url
from byom.errors import ModelUrlNotAllowedError

LOOPBACK = "loopback"
ANY = "*"
_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class _Entry:
    scheme: str
    host: str
    port: int | None
    path: str

    def covers(self, scheme: str, host: str, port: int | None, path: str) -> bool:
        if (scheme, host) != (self.scheme, self.host):
            return False
        if self.port is not None and port != self.port:
            return False
        prefix = self.path.rstrip("/")
        return path == prefix or path.startswith(prefix + "/")


class UrlAllowList:
    """The parsed ``allowed_model_urls`` setting."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._any = False
        self._loopback = False
        self._entries: list[_Entry] = []
        for raw in (part.strip() for part in spec.split(",")):
            if raw:
                self._add(raw)

    def _add(self, raw: str) -> None:
        if raw == ANY:
            self._any = True
            return
        if raw.lower() == LOOPBACK:
            self._loopback = True
            return

        parts = urlsplit(raw)
        if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
            raise ValueError(
                f"allowed_model_urls entry {raw!r} is not '{LOOPBACK}', '{ANY}' "
                "or an http(s) URL with a host"
            )
        self._entries.append(
            _Entry(parts.scheme.lower(), parts.hostname, parts.port, parts.path)
        )

    def allows(self, url: str) -> bool:
        """Whether byom may call url."""
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
        if scheme not in _SCHEMES or not host:
            return False
        try:
            port = parts.port
        except ValueError:
            return False

        if self._any or (self._loopback and _is_loopback(host)):
            return True
        return any(e.covers(scheme, host, port, parts.path) for e in self._entries)

    def check(self, url: str, what: str) -> None:
        """Refuse url unless allowed; ``what`` names it ("USING url.predict")."""
        if not self.allows(url):
            raise ModelUrlNotAllowedError(
                f"{what} {redact_url(url)} is not allowed: model URLs must match "
                f"the allowed_model_urls setting ({self.spec!r})"
            )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
