"""Who may log in: the users file, or the one user of the ``user`` setting.

The users file (setting ``users_file``) is TOML, one table per user::

    [users.alice]
    password = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"   # byom hash-password
    admin = true          # may KILL other users' connections

    [users.etl]
    password = "*..."
    require_tls = true    # refused (1045) over plain TCP

    [users.ci]
    password = "*..."     # the hash of a token
    plugin = "mysql_clear_password"   # sent in clear, so accepted only over TLS

``password`` holds MySQL's own stored form, ``*`` and the upper-case hex of
SHA1(SHA1(password)), so the file never holds a password. A file always
replaces the ``user`` and ``password`` settings: keeping the default
``mindsdb`` user with its empty password beside it would leave a door open.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NATIVE_PASSWORD = "mysql_native_password"
CLEAR_PASSWORD = "mysql_clear_password"

_HASH = re.compile(r"\*[0-9A-Fa-f]{40}")
_KEYS = {"password", "plugin", "require_tls", "admin"}


@dataclass(frozen=True)
class Account:
    """One user: the SHA1(SHA1(password)) hex digest (None: no password) and rights."""

    name: str
    password_sha1_sha1: str | None
    plugin: str = NATIVE_PASSWORD
    require_tls: bool = False
    admin: bool = False

    def matches(self, password: str) -> bool:
        """Whether a clear-text password (a token) is this account's."""
        if self.password_sha1_sha1 is None:
            return password == ""
        return hmac.compare_digest(_sha1_sha1(password).hex(), self.password_sha1_sha1)


def hash_password(password: str) -> str:
    """The form ``password`` takes in the users file (as MySQL's PASSWORD() shows)."""
    return "*" + _sha1_sha1(password).hex().upper()


def single_account(user: str, password: str) -> dict[str, Account]:
    """The accounts of a server without a users file: its one configured user.

    Every connection then belongs to that user, who is the server's operator.
    """
    digest = _sha1_sha1(password).hex() if password else None
    return {user: Account(user, digest, admin=True)}


def load_accounts(path: Path) -> dict[str, Account]:
    """Read a users file; raises ValueError naming the file, user and key at fault."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"users_file {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"users_file {str(path)!r} is not TOML: {exc}") from None

    users = document.get("users")
    if not isinstance(users, dict) or not users:
        raise ValueError(f"users_file {str(path)!r} defines no [users.<name>] table")
    unknown = set(document) - {"users"}
    if unknown:
        raise ValueError(f"users_file {str(path)!r}: unknown table {min(unknown)!r}")
    return {name: _account(path, name, entry) for name, entry in users.items()}


def _account(path: Path, name: str, entry: Any) -> Account:
    where = f"users_file {str(path)!r}, user {name!r}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a table of settings")
    unknown = set(entry) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key {min(unknown)!r}")

    password = entry.get("password")
    if not isinstance(password, str) or not _HASH.fullmatch(password):
        raise ValueError(
            f"{where}: password must be '*' and 40 hex digits, as printed by "
            "`byom hash-password`"
        )
    plugin = entry.get("plugin", NATIVE_PASSWORD)
    if plugin not in (NATIVE_PASSWORD, CLEAR_PASSWORD):
        raise ValueError(
            f"{where}: plugin must be {NATIVE_PASSWORD!r} or {CLEAR_PASSWORD!r}"
        )
    flags = {key: entry.get(key, False) for key in ("require_tls", "admin")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {key} must be true or false")

    return Account(
        name=name,
        password_sha1_sha1=password[1:].lower(),
        plugin=plugin,
        # A clear-text secret must never cross plain TCP.
        require_tls=flags["require_tls"] or plugin == CLEAR_PASSWORD,
        admin=flags["admin"],
    )


def _sha1_sha1(password: str) -> bytes:
    return hashlib.sha1(hashlib.sha1(password.encode()).digest()).digest()
