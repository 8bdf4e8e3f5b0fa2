"""Session keys on the server: creating and revoking them, and verifying a call a key signed.

A wallet authorizes an ed25519 key once (CreateSessionKey, EIP-712: orderly_grid.session_keys);
the key then signs the same seven-line text a wallet would. Verifying such a call is a cache hit
plus one ed25519 verify plus an in-memory nonce check (server.auth.session_nonces); nothing is
written to the store on the call's path, except the nonce of a trade-scope call (StartGrid,
StopGrid), which is consumed in the store synchronously, as a wallet's would be.

Revocation: on the process that revokes, at once (its cached keys of the wallet are dropped).
Other processes cache a key for at most `cache_ms` (default 5 s) after reading it from the
store, so they refuse a revoked key at most `cache_ms` after the revocation was written.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from orderly_grid.session_keys import (
    ACTION_SCOPES,
    MAX_TTL_MS,
    SCOPE_TRADE,
    SCOPES,
    authorization_typed_data,
    effective_expiry_ms,
    key_id_of,
)
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.errors import DomainError, ErrorReason
from server.auth.session_nonces import SessionNonceLedger
from server.store.errors import StoreUnavailable
from server.store.key_records import SessionKeyRecord

DEFAULT_CACHE_MS = 5_000
T = TypeVar("T")
_PUBLIC_KEY = re.compile(r"0x[0-9a-fA-F]{64}")
KEY_ID = re.compile(r"sk_[0-9a-f]{32}")


class SessionKeyStore(Protocol):
    async def create_session_key(self, record: SessionKeyRecord) -> bool: ...

    async def get_session_key(self, key_id: str) -> SessionKeyRecord | None: ...

    async def revoke_session_keys(self, user_id: str, *, key_id: str | None, now_ms: int) -> int: ...

    async def consume_nonce(self, user_id: str, nonce: str, *, expires_at_ms: int, now_ms: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Cached:
    record: SessionKeyRecord
    public_key: Ed25519PublicKey
    fetched_at_ms: int


def _invalid(field: str, rule: str) -> DomainError:
    return DomainError.invalid_field(field, rule)


def checked_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if not scopes:
        raise _invalid("scopes", f"is required: one or more of {', '.join(SCOPES)}")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise _invalid("scopes", f"{unknown[0]!r} is not a scope; use {', '.join(SCOPES)}")
    return tuple(sorted(set(scopes)))


def authorization_of(
    request: pb.CreateSessionKeyRequest,
    *,
    domain: str,
    chain_id: int,
    user_id: str,
    timestamp_ms: int,
    nonce: str,
) -> dict[str, object]:
    """The typed data a CreateSessionKey request's wallet signature must cover; INVALID_ARGUMENT
    naming the field when the request breaks a rule (checked before the signature)."""
    if not _PUBLIC_KEY.fullmatch(request.public_key):
        raise _invalid("public_key", "must be an ed25519 public key: 0x followed by 64 hex digits")
    scopes = checked_scopes(list(request.scopes))
    expires_at_ms = effective_expiry_ms(request.expires_at_ms, timestamp_ms)
    if expires_at_ms <= timestamp_ms:
        raise _invalid("expires_at_ms", "must be later than user_auth.timestamp (or 0 for 24 h)")
    if expires_at_ms > timestamp_ms + MAX_TTL_MS:
        raise _invalid("expires_at_ms", "must be at most 7 days after user_auth.timestamp")
    return authorization_typed_data(
        domain=domain,
        chain_id=chain_id,
        wallet=user_id,
        public_key_hex=request.public_key,
        scopes=scopes,
        expires_at_ms=expires_at_ms,
        timestamp_ms=timestamp_ms,
        nonce=nonce,
    )


class SessionKeyRegistry:
    def __init__(
        self,
        store: SessionKeyStore,
        ledger: SessionNonceLedger,
        *,
        clock_ms: Callable[[], int],
        cache_ms: int = DEFAULT_CACHE_MS,
    ) -> None:
        self._store = store
        self.ledger = ledger
        self._clock_ms = clock_ms
        self._cache_ms = cache_ms
        self._cache: dict[str, _Cached] = {}

    # -- key management (the wallet itself signed these calls) -----------------------------------

    async def create(self, user_id: str, request: pb.CreateSessionKeyRequest) -> SessionKeyRecord:
        """Store the key the (verified) wallet `user_id` authorized; ALREADY_EXISTS-like
        INVALID_ARGUMENT if that public key was authorized before."""
        timestamp_ms = request.user_auth.timestamp
        record = SessionKeyRecord(
            key_id=key_id_of(request.public_key),
            user_id=user_id,
            public_key=request.public_key.lower(),
            scopes=checked_scopes(list(request.scopes)),
            created_at_ms=self._clock_ms(),
            expires_at_ms=effective_expiry_ms(request.expires_at_ms, timestamp_ms),
        )
        if not await self._unavailable_as_domain(self._store.create_session_key(record)):
            raise _invalid("public_key", "is already a session key; generate a new key pair for each one")
        return record

    async def revoke(self, user_id: str, key_id: str | None) -> int:
        """Revoke one of the wallet's keys (or all: None); this process refuses them at once."""
        for cached_id in [k for k, c in self._cache.items() if c.record.user_id == user_id]:
            del self._cache[cached_id]
        return await self._unavailable_as_domain(
            self._store.revoke_session_keys(user_id, key_id=key_id, now_ms=self._clock_ms())
        )

    # -- a call signed by a session key ----------------------------------------------------------

    async def verify_call(
        self,
        action: str,
        user_id: str,
        key_id: str,
        text: str,
        signature: str,
        nonce: str,
        expires_at_ms: int,
    ) -> None:
        """Check a session-key call whose auth block is well-formed and whose timestamp is in the
        window: the key (of `user_id`), its signature of `text`, its state, its scope, the nonce."""
        scope = ACTION_SCOPES.get(action)
        if scope is None:
            raise DomainError(
                ErrorReason.PERMISSION_DENIED,
                f"{action}: needs the wallet's own signature; a session key cannot sign it",
            )
        now_ms = self._clock_ms()
        cached = await self._lookup(key_id, now_ms)
        if cached is None or cached.record.user_id != user_id:
            raise DomainError.invalid_field(
                "user_auth.session_key_id",
                "is not a session key of user_id (create one with CreateSessionKey)",
                ErrorReason.SESSION_KEY_INVALID,
            )
        try:
            cached.public_key.verify(bytes.fromhex(signature[2:]), text.encode("utf-8"))
        except InvalidSignature:
            raise DomainError.invalid_field(
                "user_auth.signature",
                "does not verify: it must be the session key's ed25519 signature of this request's "
                "auth message",
                ErrorReason.INVALID_SIGNATURE,
            ) from None
        record = cached.record
        if record.revoked_at_ms:
            raise DomainError.invalid_field(
                "user_auth.session_key_id", "was revoked by its wallet", ErrorReason.SESSION_KEY_REVOKED
            )
        if now_ms >= record.expires_at_ms:
            raise DomainError.invalid_field(
                "user_auth.session_key_id",
                "has expired; authorize a new session key with the wallet",
                ErrorReason.SESSION_KEY_EXPIRED,
            )
        if scope not in record.scopes:
            raise DomainError(
                ErrorReason.PERMISSION_DENIED,
                f"{action}: needs a session key with the {scope!r} scope; "
                f"this key has {', '.join(record.scopes)}",
            )
        if scope == SCOPE_TRADE:  # state-changing: consumed durably before it acts, as a wallet's
            fresh = await self._unavailable_as_domain(
                self._store.consume_nonce(key_id, nonce, expires_at_ms=expires_at_ms, now_ms=now_ms)
            )
        else:
            fresh = await self._unavailable_as_domain(
                self.ledger.consume(key_id, nonce, expires_at_ms=expires_at_ms)
            )
        if not fresh:
            raise DomainError.invalid_field(
                "user_auth.nonce", "was already used; sign again with a new nonce", ErrorReason.NONCE_REPLAYED
            )

    async def _lookup(self, key_id: str, now_ms: int) -> _Cached | None:
        cached = self._cache.get(key_id)
        if cached is not None and now_ms - cached.fetched_at_ms < self._cache_ms:
            return cached
        record = await self._unavailable_as_domain(self._store.get_session_key(key_id))
        if record is None:
            self._cache.pop(key_id, None)
            return None
        public_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(record.public_key[2:]))
        cached = _Cached(record, public_key, now_ms)
        self._cache[key_id] = cached
        return cached

    async def close(self) -> None:
        await self.ledger.close()

    @staticmethod
    async def _unavailable_as_domain(pending: Awaitable[T]) -> T:
        try:
            return await pending
        except StoreUnavailable:
            raise DomainError(
                ErrorReason.STORE_UNAVAILABLE, "the store is unavailable; retry later"
            ) from None
