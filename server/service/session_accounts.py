"""Which Orderly account a session trades on.

A new session trades on its owner's registered account (server.auth.AccountRegistry), else on the
default one; the account id is recorded in the session's config (ACCOUNT_ID_KEY), and which of the
two it was (ACCOUNT_SOURCE_KEY), so a resumed session trades on the SAME account even if its owner
registered another one meanwhile. When the owner replaced or removed that registration, the session
cannot resume: it is recorded FAILED with the reason (server.service.resume; its orders on that account
are left to the owner, who still holds the account's keys). A session of the operator's default
account of ANOTHER configuration (other or missing ORDERLY_* credentials) is a misconfiguration, not
the user's doing: it stays unfinished and resumes once the service runs with that account again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from server.api.errors import DomainError, ErrorReason
from server.exchange import AuthError, OrderlyCredentials
from server.service.exchange_pool import AccountVenue, ExchangePool
from server.store import SessionRecord

ACCOUNT_ID_KEY = "account_id"
# "default" (the operator's account of the process that started it) or "registered" (the owner's).
ACCOUNT_SOURCE_KEY = "account_source"
DEFAULT_SOURCE = "default"
REGISTERED_SOURCE = "registered"

CredentialsLookup = Callable[[str], Awaitable[OrderlyCredentials | None]]
"""`user_id -> ` the user's registered Orderly credentials, or None to trade on the default account
(server.auth.AccountRegistry.credentials_for)."""


async def no_registered_accounts(user_id: str) -> OrderlyCredentials | None:
    return None


class AccountUnavailable(Exception):
    """A stored session's account cannot be traded on any more: its owner replaced or removed the
    registration of that account."""


class AccountNotOnThisServer(Exception):
    """A stored session's account cannot be opened by this process's configuration (the default
    account of another configuration, or a registration this server cannot decrypt): not this
    process's to run, nor to end."""


def account_of(record: SessionRecord, default_account_id: str) -> str:
    """The (lower-case) account a stored session trades on; sessions of earlier versions, without
    one recorded, traded on the default."""
    return str(record.config.get(ACCOUNT_ID_KEY) or default_account_id).lower()


def account_source(record: SessionRecord, default_account_id: str) -> str:
    """DEFAULT_SOURCE or REGISTERED_SOURCE as recorded; sessions of earlier versions, without it,
    traded on the default account when theirs is the current default."""
    source = record.config.get(ACCOUNT_SOURCE_KEY)
    if source in (DEFAULT_SOURCE, REGISTERED_SOURCE):
        return str(source)
    same = account_of(record, default_account_id) == default_account_id.lower()
    return DEFAULT_SOURCE if same else REGISTERED_SOURCE


class SessionAccounts:
    def __init__(self, pool: ExchangePool, credentials_for: CredentialsLookup) -> None:
        self.pool = pool
        self._credentials_for = credentials_for

    async def for_new_session(self, user_id: str) -> tuple[AccountVenue, str]:
        """The account a new session of `user_id` trades on: their registered one, else the default,
        and which of the two it is (DEFAULT_SOURCE, REGISTERED_SOURCE). (DomainError
        ACCOUNT_NOT_REGISTERED when their registration cannot be read any more.)"""
        credentials = await self._credentials_for(user_id)
        if credentials is None:
            return await self.pool.venue_for(None), DEFAULT_SOURCE
        try:
            return await self.pool.venue_for(credentials), REGISTERED_SOURCE
        except AuthError as exc:  # the venue's final word on these keys: not worth a retry
            raise DomainError(
                ErrorReason.ACCOUNT_CREDENTIALS_REJECTED,
                f"the venue refuses the registered Orderly account {credentials.account_id}: {exc.message};"
                " register the account again (RegisterAccount) with a key the venue knows for it",
                metadata={"account_id": credentials.account_id},
            ) from None

    async def of(self, record: SessionRecord) -> AccountVenue:
        """The account a stored session trades on: the one recorded at its start. When that is
        neither the default nor open already: AccountNotOnThisServer for a session of another
        configuration's default account (or when the owner's registration cannot be read here),
        AccountUnavailable when it is not the owner's currently
        registered account, ExchangeError when the venue fails while opening it (transient)."""
        default_id = self.pool.default.account_id
        account_id = account_of(record, default_id)
        venue = self.pool.get(account_id)
        if venue is not None:
            return venue
        if account_source(record, default_id) == DEFAULT_SOURCE:
            raise AccountNotOnThisServer(
                f"the session traded on default account {account_id}, this process's default is "
                f"{default_id or '(none)'}; it resumes when the service runs with that account's credentials"
            )
        try:
            credentials = await self._credentials_for(record.user_id)
        except DomainError as exc:  # no or another GRID_MASTER_KEY: the operator's to fix
            raise AccountNotOnThisServer(exc.message) from None
        if credentials is None or credentials.account_id.lower() != account_id:
            raise AccountUnavailable(
                f"the session trades on Orderly account {account_id}, whose credentials the owner no "
                "longer has registered"
            )
        return await self.pool.venue_for(credentials)
