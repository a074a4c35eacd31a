"""How a login is checked: mysql_native_password, or a clear-text token over TLS.

Accounts come from ``byom.mysql.accounts``. mysql_native_password is offered in
the handshake; an account whose plugin is mysql_clear_password is reached by an
auth switch, and only over TLS: over plain TCP the server refuses before asking,
so the client never sends the secret in clear. Every refusal is 1045; the
message says more than "Access denied" only once the password was right.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from mysql_mimic.auth import (
    AbstractClearPasswordAuthPlugin,
    AuthInfo,
    AuthPlugin,
    AuthState,
    Forbidden,
    IdentityProvider,
    NativePasswordAuthPlugin,
    Success,
    User,
)

from byom.mysql import tls
from byom.mysql.accounts import CLEAR_PASSWORD, NATIVE_PASSWORD, Account

logger = logging.getLogger(__name__)


@dataclass
class ByomUser(User):
    """Mimic's user, with the account it came from (None for an unknown name)."""

    account: Account | None = None


class ByomIdentityProvider(IdentityProvider):
    """Looks accounts up by name and says which of them may kill others' queries."""

    def __init__(self, accounts: dict[str, Account], tls_required: bool) -> None:
        self._accounts = accounts
        self._plugins: list[AuthPlugin] = [
            _NativePassword(tls_required),
            _ClearPassword(accounts),
        ]
        # Another name gets a password nobody knows rather than "no such user"
        # (3162), so a refused login never tells whether the name exists.
        self._unknown_auth_string = NativePasswordAuthPlugin.create_auth_string(
            secrets.token_hex(32)
        )

    def get_plugins(self) -> list[AuthPlugin]:
        return self._plugins

    async def get_user(self, username: str) -> User | None:
        account = self._accounts.get(username)
        if account is None:
            return ByomUser(
                name=username,
                auth_string=self._unknown_auth_string,
                auth_plugin=NATIVE_PASSWORD,
            )
        return ByomUser(
            name=username,
            auth_string=account.password_sha1_sha1,
            auth_plugin=account.plugin,
            account=account,
        )

    def is_admin(self, username: str | None) -> bool:
        """Whether username may KILL connections of other users."""
        account = self._accounts.get(username or "")
        return account is not None and account.admin


class _NativePassword(NativePasswordAuthPlugin):
    """Mimic's check of the scramble, then the TLS requirement of server and user."""

    def __init__(self, tls_required: bool) -> None:
        self._tls_required = tls_required

    async def auth(self, auth_info: AuthInfo | None = None) -> AuthState:
        inner = super().auth(auth_info)
        decision = await anext(inner)
        while isinstance(decision, bytes):
            auth_info = yield decision
            decision = await inner.asend(auth_info)
        await inner.aclose()

        if isinstance(decision, Success) and auth_info is not None:
            refusal = self._tls_refusal(auth_info.user)
            if refusal is not None:
                logger.info("login of %s refused: %s", auth_info.user.name, refusal)
                decision = Forbidden(
                    f"Access denied for user {auth_info.user.name}; {refusal}"
                )
        yield decision

    def _tls_refusal(self, user: User) -> str | None:
        if tls.active() is not None:
            return None
        if self._tls_required:
            return "this server accepts only TLS connections"
        account: Any = getattr(user, "account", None)
        if account is not None and account.require_tls:
            return "this account must connect with TLS"
        return None


class _ClearPassword(AbstractClearPasswordAuthPlugin):
    """A token sent in clear text, checked against its SHA1(SHA1) hash; TLS only."""

    name = CLEAR_PASSWORD

    def __init__(self, accounts: dict[str, Account]) -> None:
        self._accounts = accounts

    async def auth(self, auth_info: AuthInfo | None = None) -> AuthState:
        if tls.active() is None:
            # Refused before the auth switch, which would make the client send
            # its secret over plain TCP.
            logger.info("clear-text login refused over plain TCP")
            yield Forbidden()
            return
        inner = super().auth(auth_info)
        decision = await anext(inner)
        while isinstance(decision, bytes):
            decision = await inner.asend((yield decision))
        await inner.aclose()
        yield decision

    async def check(self, username: str, password: str) -> str | None:
        account = self._accounts.get(username)
        if account is None or account.plugin != CLEAR_PASSWORD:
            return None
        return username if account.matches(password) else None
