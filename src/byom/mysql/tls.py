"""TLS for MySQL connections: the server's context, its certificate, the upgrade.

A client asks for TLS in the middle of the handshake (an SSLRequest packet) and
sends its TLS ClientHello right behind it. Stock mysql-mimic 3.0.5 hands the
socket to ``loop.start_tls``, which never sees the ClientHello bytes asyncio's
StreamReader has often already buffered: the handshake stalls and is aborted
after a minute (10-30% of PyMySQL connects). ``install`` replaces
``MysqlStream.start_tls`` with a version that gives those bytes to the TLS
protocol first. CPython fixed the same loss in ``StreamWriter.start_tls`` for
3.13 (gh-142352); mimic calls the loop directly, so byom needs this on 3.11.

The TLS mode comes from the ``tls`` setting::

    auto      on when tls_cert is given, otherwise off (the default)
    off       plain TCP only; CLIENT_SSL is not offered
    on        TLS offered; clients may still log in without it
    required  TLS offered; a login over plain TCP is refused (1045)

With ``on`` or ``required`` and no ``tls_cert``, a self-signed certificate is
generated into ``<data_dir>/tls`` once (``tls_self_signed``) and reused.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess
import sys
from asyncio import sslproto
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast

from mysql_mimic.stream import MysqlStream

from byom.mysql.patching import replace_methods
from byom.settings import Settings

logger = logging.getLogger(__name__)

MODES = ("auto", "off", "on", "required")
CERT_NAME = "server-cert.pem"
KEY_NAME = "server-key.pem"
# Days a generated certificate is valid: the longest lifetime clients that check
# self-signed certificates (Apple's, browsers') still accept.
_SELF_SIGNED_DAYS = 825

# The private asyncio.sslproto API used below (SSLProtocol's constructor and
# its _app_transport) and StreamReader._buffer were read in CPython 3.11.7.
# Another minor version may differ, so the fix refuses to run on one.
_CHECKED_PYTHON = (3, 11)

# The TLS session of the connection whose task is running, set once its
# upgrade is done. Authentication reads it: mimic's plugins are not told which
# connection they check, but they run in that connection's task.
_SESSION: ContextVar[ssl.SSLObject | None] = ContextVar("byom_tls", default=None)


class ServerContext(ssl.SSLContext):
    """The server's SSLContext, carrying how long a client may take to shake hands."""

    handshake_timeout: float = 10.0


def effective_mode(settings: Settings) -> str:
    """``off``, ``on`` or ``required``: the ``tls`` setting with ``auto`` resolved."""
    if settings.tls == "auto":
        return "on" if settings.tls_cert else "off"
    return settings.tls


def server_context(settings: Settings) -> ServerContext | None:
    """The context TLS connections use, or None when TLS is off.

    Raises ValueError naming the file when the certificate or key cannot be used.
    """
    if effective_mode(settings) == "off":
        return None
    cert, key = Path(settings.tls_cert), Path(settings.tls_key)
    if not settings.tls_cert:
        cert, key = self_signed_certificate(settings.data_dir / "tls")

    context = ServerContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.handshake_timeout = settings.tls_handshake_timeout
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"tls_cert {str(cert)!r} / tls_key {str(key)!r} cannot be used: {exc}"
        ) from None
    return context


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 in directory, made on first use.

    Uses the openssl command (the cryptography package is not a dependency).
    """
    cert, key = directory / CERT_NAME, directory / KEY_NAME
    if cert.exists() and key.exists():
        return cert, key

    directory.mkdir(parents=True, exist_ok=True)
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-sha256",
        "-days",
        str(_SELF_SIGNED_DAYS),
        "-subj",
        "/CN=byom",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        "-keyout",
        str(key),
        "-out",
        str(cert),
    ]
    try:
        subprocess.run(command, capture_output=True, check=True, timeout=60)
    except FileNotFoundError:
        raise ValueError(
            "TLS is on without tls_cert, and the openssl command needed to make a "
            "self-signed certificate is not installed; set tls_cert and tls_key"
        ) from None
    except subprocess.CalledProcessError as exc:
        raise ValueError(
            f"openssl could not make a certificate: {exc.stderr.decode()[:200]}"
        ) from None
    key.chmod(0o600)
    logger.info("generated a self-signed TLS certificate: %s", cert)
    return cert, key


def active() -> ssl.SSLObject | None:
    """The running connection's TLS session, or None over plain TCP."""
    return _SESSION.get()


def install() -> None:
    """Replace mimic's racy ``MysqlStream.start_tls`` (see the module docstring)."""
    if sys.version_info[:2] != _CHECKED_PYTHON:
        raise RuntimeError(
            "byom's TLS upgrade relies on asyncio internals checked on Python "
            f"{_CHECKED_PYTHON[0]}.{_CHECKED_PYTHON[1]}; check asyncio.sslproto "
            "and StreamReader on this version before running it"
        )
    replace_methods(MysqlStream, start_tls=_start_tls)


async def _start_tls(self: Any, context: ssl.SSLContext) -> None:
    reader, writer = self.reader, self.writer
    transport = writer.transport
    app_protocol = transport.get_protocol()
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    tls_protocol = sslproto.SSLProtocol(
        loop,
        app_protocol,
        context,
        waiter,
        server_side=True,
        call_connection_made=False,
        ssl_handshake_timeout=getattr(context, "handshake_timeout", None),
    )

    # The ClientHello may already sit in the reader's buffer: take it out
    # before anything else can read from the socket.
    transport.pause_reading()
    early = bytes(reader._buffer)
    reader._buffer.clear()
    transport.set_protocol(tls_protocol)
    tls_protocol.connection_made(transport)
    _feed(tls_protocol, early)
    transport.resume_reading()

    try:
        await waiter
    except BaseException:
        transport.close()
        raise

    # Mimic's reader and writer go on working over the TLS transport, as
    # StreamWriter.start_tls leaves them.
    tls_transport = tls_protocol._app_transport
    writer._transport = tls_transport
    reader._transport = tls_transport
    app_protocol._replace_writer(writer)
    _SESSION.set(cast(ssl.SSLObject, tls_transport.get_extra_info("ssl_object")))


def _feed(protocol: sslproto.SSLProtocol, data: bytes) -> None:
    # The BufferedProtocol interface, as the transport itself delivers bytes.
    while data:
        buffer = protocol.get_buffer(len(data))
        size = min(len(buffer), len(data))
        buffer[:size] = data[:size]
        protocol.buffer_updated(size)
        data = data[size:]
