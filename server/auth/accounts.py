"""Per-user Orderly accounts: RegisterAccount stores a user's account id, key and secret (the secret
sealed by SecretBox), and sessions trade with `credentials_for(owner)`; users without a registered
account trade on the operator's default account (ORDERLY_* variables), as the service decides.

The plain secret lives only in the request and in the OrderlyCredentials built from it (whose repr
hides it); it is never logged, stored in clear, nor returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from server.api.errors import DomainError, ErrorReason
from server.auth.secrets import SecretBox, SecretBoxError
from server.auth.verifier import AuthenticatedUser
from server.exchange import OrderlyCredentials
from server.exchange.auth import CredentialsError
from server.logs import get_logger
from server.store.auth_records import AccountRecord
from server.store.errors import StoreError, StoreUnavailable

_log = get_logger(__name__)
_CREDENTIAL_FIELDS = ("account_id", "orderly_key", "orderly_secret")


class AccountStore(Protocol):
    async def upsert_account(self, record: AccountRecord) -> AccountRecord: ...

    async def get_account(self, user_id: str) -> AccountRecord | None: ...


@dataclass(frozen=True, slots=True)
class AccountView:
    """What RegisterAccount answers: the account without its secret (orderly_grid.v1.Account)."""

    user_id: str
    account_id: str
    orderly_key: str
    created_ms: int
    updated_ms: int


def _view(record: AccountRecord) -> AccountView:
    return AccountView(
        record.user_id, record.account_id, record.orderly_key, record.created_at_ms, record.updated_at_ms
    )


def _credentials_error(exc: CredentialsError) -> DomainError:
    field, _, rule = str(exc).partition(": ")
    if field not in _CREDENTIAL_FIELDS:
        field, rule = "orderly_secret", str(exc)
    return DomainError.invalid_field(field, rule)


def _store_error(exc: StoreError) -> DomainError:
    if isinstance(exc, StoreUnavailable):
        return DomainError(ErrorReason.STORE_UNAVAILABLE, "the store is unavailable; retry later")
    return DomainError(ErrorReason.INTERNAL, "internal error")


class AccountRegistry:
    def __init__(self, store: AccountStore, box: SecretBox | None, *, clock_ms: Callable[[], int]) -> None:
        self._store = store
        self._box = box
        self._clock_ms = clock_ms

    @property
    def enabled(self) -> bool:
        """False without GRID_MASTER_KEY: RegisterAccount is refused, everyone trades on the default."""
        return self._box is not None

    async def register(
        self, user: AuthenticatedUser, account_id: str, orderly_key: str, orderly_secret: str
    ) -> AccountView:
        """Validate and store the caller's credentials (replacing earlier ones). INVALID_ARGUMENT
        naming the field for a bad value (the key must be the secret's public key);
        ACCOUNT_REGISTRATION_DISABLED (FAILED_PRECONDITION) when the server has no master key."""
        if self._box is None:
            raise DomainError(
                ErrorReason.ACCOUNT_REGISTRATION_DISABLED,
                "RegisterAccount is disabled on this server: it has no GRID_MASTER_KEY to encrypt secrets",
            )
        if not user.user_id or user.is_operator:
            raise DomainError(ErrorReason.PERMISSION_DENIED, "only a signing wallet registers its account")
        for name, value in zip(_CREDENTIAL_FIELDS, (account_id, orderly_key, orderly_secret), strict=True):
            if not value:
                raise DomainError.invalid_field(name, "is required")
        try:
            credentials = OrderlyCredentials(account_id, orderly_key, orderly_secret)
        except CredentialsError as exc:
            raise _credentials_error(exc) from None
        now_ms = self._clock_ms()
        record = AccountRecord(
            user_id=user.user_id,
            account_id=credentials.account_id.lower(),
            orderly_key=credentials.orderly_key,
            encrypted_secret=self._box.seal(
                orderly_secret, user_id=user.user_id, account_id=credentials.account_id
            ),
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
        )
        try:
            stored = await self._store.upsert_account(record)
        except StoreError as exc:
            raise _store_error(exc) from None
        _log.info(
            "account_registered",
            user_id=user.user_id,
            account_id=stored.account_id,
            orderly_key=stored.orderly_key,
        )
        return _view(stored)

    async def get(self, user_id: str) -> AccountView | None:
        record = await self._store.get_account(user_id.lower())
        return None if record is None else _view(record)

    async def credentials_for(self, user_id: str) -> OrderlyCredentials | None:
        """The user's Orderly credentials to trade with, or None when they registered none (the
        caller then uses the operator's default account). An envelope that no longer opens (the
        master key changed) is reported as ACCOUNT_NOT_REGISTERED: the user must register again."""
        record = await self._store.get_account(user_id.lower())
        if record is None:
            return None
        if self._box is None:
            raise DomainError(
                ErrorReason.ACCOUNT_NOT_REGISTERED,
                "the registered account cannot be used: the server has no GRID_MASTER_KEY",
            )
        try:
            secret = self._box.open(
                record.encrypted_secret, user_id=record.user_id, account_id=record.account_id
            )
        except SecretBoxError:
            _log.error("account_secret_unreadable", user_id=record.user_id, account_id=record.account_id)
            raise DomainError(
                ErrorReason.ACCOUNT_NOT_REGISTERED,
                "the registered account's secret cannot be decrypted (the master key changed?); "
                "call RegisterAccount again",
            ) from None
        return OrderlyCredentials(record.account_id, record.orderly_key, secret)
