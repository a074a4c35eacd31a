"""The ``byom`` command: ``byom serve`` runs the server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from byom import __version__
from byom.app import Byom
from byom.mysql.accounts import hash_password
from byom.mysql.server import ByomServer, StartupError
from byom.settings import SETTINGS, Settings, convert, from_environment

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; its flags come from the settings table."""
    parser = argparse.ArgumentParser(
        prog="byom",
        description="A MySQL server that joins tables with models you serve.",
    )
    parser.add_argument("--version", action="version", version=f"byom {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the MySQL server",
        description="Run the byom MySQL server. Every flag can also be set with "
        "the environment variable BYOM_<NAME>.",
    )
    for setting in SETTINGS:
        flag = "--" + setting.name.replace("_", "-")
        serve.add_argument(
            flag,
            dest=setting.name,
            metavar=setting.type.__name__.upper(),
            default=None,
            help=f"{setting.help} (default: {setting.default})",
        )
    commands.add_parser(
        "hash-password",
        help="print the users-file form of a password read from stdin",
        description="Read a password (or token) from stdin and print the "
        "'*' + 40 hex digits form a users_file entry's password holds.",
    )
    return parser


def print_password_hash() -> int:
    """``byom hash-password``: a password from stdin (a prompt on a terminal)."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("byom: the password is empty", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def settings_from(args: argparse.Namespace) -> Settings:
    """Defaults, overridden by the environment, overridden by flags."""
    values: dict[str, Any] = from_environment()
    for setting in SETTINGS:
        raw = getattr(args, setting.name, None)
        if raw is not None:
            values[setting.name] = convert(setting, raw)
    return Settings().replace(**values)


async def serve(settings: Settings) -> None:
    """Run the server until SIGINT or SIGTERM, then stop it cleanly."""
    app = Byom(settings)
    server = ByomServer(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    await server.start()
    print(
        f"byom {__version__} ready for MySQL clients on "
        f"{settings.host}:{server.port} (user '{settings.user}')",
        flush=True,
    )
    await stop.wait()
    logger.info("stopping on signal")
    await server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``byom`` command."""
    args = build_parser().parse_args(argv)
    if args.command == "hash-password":
        return print_password_hash()
    try:
        settings = settings_from(args)
    except ValueError as exc:
        print(f"byom: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # mysql-mimic logs every statement's full text at DEBUG, passwords included.
    logging.getLogger("mysql_mimic").setLevel(logging.INFO)
    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        print(f"byom: cannot start: {exc}", file=sys.stderr)
        return 1
    except StartupError as exc:
        print(f"byom: cannot start: {exc}", file=sys.stderr)
        return 2
    return 0
