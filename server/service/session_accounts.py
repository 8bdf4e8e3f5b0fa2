"""Which Orderly account a session trades on.

A new session trades on its owner's registered account (server.auth.AccountRegistry), else on the
default one; the account id is recorded in the session's config (ACCOUNT_ID_KEY), so a resumed
session trades on the SAME account even if its owner registered another one meanwhile. When that
account's credentials are gone, the session cannot resume: it is recorded FAILED with the reason
(server.service.resume; its orders on that account are left to the owner, who still holds the
account's keys).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from server.api.errors import DomainError
from server.exchange import OrderlyCredentials
from server.service.exchange_pool import AccountVenue, ExchangePool
from server.store import SessionRecord

ACCOUNT_ID_KEY = "account_id"

CredentialsLookup = Callable[[str], Awaitable[OrderlyCredentials | None]]
"""`user_id -> ` the user's registered Orderly credentials, or None to trade on the default account
(server.auth.AccountRegistry.credentials_for)."""


async def no_registered_accounts(user_id: str) -> OrderlyCredentials | None:
    return None


class AccountUnavailable(Exception):
    """A stored session's account cannot be traded on any more (its credentials are gone)."""


class SessionAccounts:
    def __init__(self, pool: ExchangePool, credentials_for: CredentialsLookup) -> None:
        self.pool = pool
        self._credentials_for = credentials_for

    async def for_new_session(self, user_id: str) -> AccountVenue:
        """The account a new session of `user_id` trades on: their registered one, else the default.
        (DomainError ACCOUNT_NOT_REGISTERED when their registration cannot be read any more.)"""
        return await self.pool.venue_for(await self._credentials_for(user_id))

    async def of(self, record: SessionRecord) -> AccountVenue:
        """The account a stored session trades on: the one recorded at its start (sessions of
        earlier versions, without one, traded on the default). AccountUnavailable when that is
        neither the default, nor open already, nor the owner's currently registered account."""
        account_id = str(record.config.get(ACCOUNT_ID_KEY) or self.pool.default.account_id).lower()
        venue = self.pool.get(account_id)
        if venue is not None:
            return venue
        try:
            credentials = await self._credentials_for(record.user_id)
        except DomainError as exc:
            raise AccountUnavailable(exc.message) from None
        if credentials is None or credentials.account_id.lower() != account_id:
            raise AccountUnavailable(
                f"the session trades on Orderly account {account_id}, whose credentials the owner no "
                "longer has registered"
            )
        return await self.pool.venue_for(credentials)
