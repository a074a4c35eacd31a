"""Who may log in: one configured user, checked with mysql_native_password."""

from __future__ import annotations

import secrets

from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin, User


class SingleUserIdentityProvider(IdentityProvider):
    """Accepts exactly one user name, with its password (empty by default)."""

    def __init__(self, user: str, password: str) -> None:
        self._user = user
        # The native plugin stores SHA1(SHA1(password)); an empty password must
        # have no auth string at all, or an empty login would be refused.
        self._auth_string = (
            NativePasswordAuthPlugin.create_auth_string(password) if password else None
        )
        # Another name gets a password nobody knows rather than "no such user"
        # (3162), so a refused login never tells whether the name exists.
        self._unknown_auth_string = NativePasswordAuthPlugin.create_auth_string(
            secrets.token_hex(32)
        )

    async def get_user(self, username: str) -> User | None:
        known = username == self._user
        return User(
            name=username,
            auth_string=self._auth_string if known else self._unknown_auth_string,
            auth_plugin=NativePasswordAuthPlugin.name,
        )
