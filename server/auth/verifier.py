"""Who a request acts for: verifies the wallet signature of `user_auth` (EIP-191 personal_sign).

The checks run in this order, each failing with a DomainError that names the field:
1. the auth block is present (in the message's `user_auth`, else in the `x-user-*` gRPC metadata)
   and well-formed, the signature in its one accepted form (v 27/28 or 0/1, low s as EIP-2 has it):
   UNAUTHENTICATED;
2. `timestamp` within +-window of the server's clock (stale and future alike): SIGNATURE_EXPIRED;
3. the address recovered from the signature over the text `orderly_grid.signing.build_auth_message`
   builds (action, domain, user, digest of the request's parameters, timestamp, nonce) equals
   `user_id`, compared case-insensitively: INVALID_SIGNATURE otherwise (the recovered address is
   not revealed). With legacy auth enabled, the old unbound text is tried too, with a warning logged;
4. only then the nonce is consumed in the store (per user, for as long as the timestamp could still
   be accepted): NONCE_REPLAYED if it was used before, also before a restart.
A nonce is consumed only by a request whose signature verified, so nobody can burn another user's
nonces. Anything eth-account cannot parse is an invalid signature, never an internal error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from google.protobuf.message import Message
from orderly_grid import eth
from orderly_grid.session_keys import DEFAULT_CHAIN_ID, recover_authorizer
from orderly_grid.signing import (
    AUTH_FIELD,
    DEFAULT_DOMAIN,
    build_auth_message,
    build_legacy_message,
    canonical_params_digest,
    signature_form_problem,
)

from server.api.errors import DomainError, ErrorReason
from server.auth.operator import bearer_token, operator_token_matches
from server.auth.session_keys import KEY_ID, SessionKeyRegistry, authorization_of
from server.logs import get_logger
from server.recursion_guard import restore_recursion_limit
from server.store.errors import StoreUnavailable

DEFAULT_WINDOW_MS = 300_000
METADATA_KEYS = {
    "user_id": "x-user-id",
    "signature": "x-user-signature",
    "timestamp": "x-user-timestamp",
    "nonce": "x-user-nonce",
    "session_key_id": "x-user-session-key-id",
}
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_ED25519_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{128}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_DIGITS = re.compile(r"[0-9]{1,19}")
MAX_TIMESTAMP_MS = 2**63 - 1

Metadata = Iterable[tuple[str, str | bytes]]
AuthVia = Literal["signature", "legacy", "operator", "session_key"]
# The call whose wallet signature is EIP-712 typed data (the key's authorization), not the text.
CREATE_SESSION_KEY = "CreateSessionKey"

_log = get_logger(__name__)


class NonceStore(Protocol):
    async def consume_nonce(self, user_id: str, nonce: str, *, expires_at_ms: int, now_ms: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    """The verified caller. `user_id` is the lower-case wallet address ("" for the operator)."""

    user_id: str
    via: AuthVia

    @property
    def is_operator(self) -> bool:
        return self.via == "operator"


@dataclass(frozen=True, slots=True)
class AuthBlock:
    """A well-formed user_auth, wherever it came from."""

    user_id: str
    signature: str
    timestamp_ms: int
    nonce: str
    session_key_id: str = ""  # set: `signature` is that session key's ed25519 signature


def _unauthenticated(field: str, rule: str) -> DomainError:
    return DomainError.invalid_field(f"user_auth.{field}", rule, ErrorReason.UNAUTHENTICATED)


def _metadata_value(metadata: Metadata | None, key: str) -> str | None:
    for name, value in metadata or ():
        if name.lower() == key:
            return value if isinstance(value, str) else None
    return None


def _raw_block(request: Message, metadata: Metadata | None) -> tuple[str, str, int | str, str, str]:
    fields = request.DESCRIPTOR.fields_by_name
    if AUTH_FIELD in fields and request.HasField(AUTH_FIELD):
        auth = getattr(request, AUTH_FIELD)
        return auth.user_id, auth.signature, auth.timestamp, auth.nonce, auth.session_key_id
    values = {name: _metadata_value(metadata, key) for name, key in METADATA_KEYS.items()}
    if all(value is None for value in values.values()):
        raise DomainError(
            ErrorReason.UNAUTHENTICATED,
            "user_auth: is required (a wallet signature over this request; see the README)",
        )
    return (
        values["user_id"] or "",
        values["signature"] or "",
        values["timestamp"] or "",
        values["nonce"] or "",
        values["session_key_id"] or "",
    )


def parse_auth_block(request: Message, metadata: Metadata | None = None) -> AuthBlock:
    """The request's auth block checked for form only (no signature check): UNAUTHENTICATED naming
    the first missing or malformed field."""
    user_id, signature, timestamp, nonce, session_key_id = _raw_block(request, metadata)
    if not user_id:
        raise _unauthenticated("user_id", "is required (the wallet address the request acts for)")
    if not _ADDRESS.fullmatch(user_id):
        raise _unauthenticated("user_id", "must be an EVM address: 0x followed by 40 hex digits")
    if not signature:
        raise _unauthenticated("signature", "is required")
    if session_key_id:
        if not KEY_ID.fullmatch(session_key_id):
            raise _unauthenticated("session_key_id", "must be sk_ followed by 32 lower-case hex digits")
        if not _ED25519_SIGNATURE.fullmatch(signature):
            raise _unauthenticated(
                "signature", "must be 0x followed by 128 hex digits (a 64-byte ed25519 signature)"
            )
    elif not _SIGNATURE.fullmatch(signature):
        raise _unauthenticated("signature", "must be 0x followed by 130 hex digits (65 bytes)")
    problem = None if session_key_id else signature_form_problem(signature)
    if problem is not None:  # the other spellings of a valid signature (EIP-155 v, high s)
        raise _unauthenticated("signature", problem)
    if isinstance(timestamp, str):
        if not _DIGITS.fullmatch(timestamp):
            raise _unauthenticated("timestamp", "must be an integer of ms since the Unix epoch")
        timestamp = int(timestamp)
    if timestamp <= 0 or timestamp > MAX_TIMESTAMP_MS:
        raise _unauthenticated("timestamp", "is required: a positive integer of ms since the Unix epoch")
    if not nonce:
        raise _unauthenticated("nonce", "is required (a single-use token)")
    if not _NONCE.fullmatch(nonce):
        raise _unauthenticated("nonce", "must be 8 to 64 characters of A-Z, a-z, 0-9, '_' or '-'")
    return AuthBlock(user_id, signature, timestamp, nonce, session_key_id)


def recover_signer(text: str, signature: str) -> str | None:
    """The lower-case address that signed `text` (EIP-191), or None if the signature is unusable."""
    try:
        address = eth.recover_text_signer(text, signature)
    except Exception:  # eth-account/eth-keys raise assorted types for bad signatures: all mean invalid
        return None
    finally:
        restore_recursion_limit()  # in case this was eth-account's first import (server.recursion_guard)
    return address.lower()


class AuthVerifier:
    def __init__(
        self,
        store: NonceStore,
        *,
        clock_ms: Callable[[], int],
        domain: str = DEFAULT_DOMAIN,
        window_ms: int = DEFAULT_WINDOW_MS,
        legacy_enabled: bool = False,
        operator_token: str | None = None,
        session_keys: SessionKeyRegistry | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
    ) -> None:
        if window_ms <= 0:
            raise ValueError("window_ms must be positive")
        self._store = store
        self._clock_ms = clock_ms
        self._domain = domain
        self._window_ms = window_ms
        self._legacy_enabled = legacy_enabled
        self._operator_token = operator_token or None
        self._session_keys = session_keys
        self._chain_id = chain_id

    @property
    def domain(self) -> str:
        return self._domain

    async def verify(
        self,
        action: str,
        request: Message,
        metadata: Metadata | None = None,
        *,
        allow_operator: bool = False,
    ) -> AuthenticatedUser:
        """The caller of `action` (the RPC method name) with `request`, or a DomainError.

        `metadata` is the call's invocation metadata: the x-user-* form of the auth block (used when
        the message has no user_auth) and, where `allow_operator` (the read-only listings), the
        operator's `authorization: Bearer <token>`. A wrong operator token is UNAUTHENTICATED.
        """
        if allow_operator:
            token = bearer_token(metadata)
            if token is not None:
                if not operator_token_matches(self._operator_token, token):
                    raise DomainError(
                        ErrorReason.UNAUTHENTICATED, "authorization: the operator token is not valid"
                    )
                return AuthenticatedUser("", "operator")
        block = parse_auth_block(request, metadata)
        now_ms = self._clock_ms()
        skew_ms = block.timestamp_ms - now_ms
        if abs(skew_ms) > self._window_ms:
            raise DomainError.invalid_field(
                "user_auth.timestamp",
                f"is {skew_ms / 1000:+.0f} s from the server's clock; it must be within "
                f"+-{self._window_ms // 1000} s (sign again with the current time)",
                ErrorReason.SIGNATURE_EXPIRED,
            )
        if block.session_key_id:
            return await self._verify_session_key(action, request, block)
        via = self._check_signature(action, request, block)
        user_id = block.user_id.lower()
        try:
            fresh = await self._store.consume_nonce(
                user_id, block.nonce, expires_at_ms=block.timestamp_ms + self._window_ms + 1, now_ms=now_ms
            )
        except StoreUnavailable:
            raise DomainError(
                ErrorReason.STORE_UNAVAILABLE, "the store is unavailable; retry later"
            ) from None
        if not fresh:
            raise DomainError.invalid_field(
                "user_auth.nonce", "was already used; sign again with a new nonce", ErrorReason.NONCE_REPLAYED
            )
        return AuthenticatedUser(user_id, via)

    async def _verify_session_key(self, action: str, request: Message, block: AuthBlock) -> AuthenticatedUser:
        """A call signed by a session key (server.auth.session_keys): no wallet recovery and, for
        reads, no store write; the nonce is refused in memory and persisted in batches."""
        if self._session_keys is None:
            raise _unauthenticated("session_key_id", "session keys are not enabled on this server")
        if block.timestamp_ms < self._session_keys.ledger.not_before_ms:
            # The nonces an earlier process accepted may not all have been written before it
            # stopped; refusing what was signed before this one started rules out their replay.
            raise DomainError.invalid_field(
                "user_auth.timestamp",
                "is earlier than this server's start; sign again with the current time",
                ErrorReason.SIGNATURE_EXPIRED,
            )
        text = self._auth_text(action, request, block)
        user_id = block.user_id.lower()
        await self._session_keys.verify_call(
            action,
            user_id,
            block.session_key_id,
            text,
            block.signature,
            block.nonce,
            block.timestamp_ms + self._window_ms + 1,
        )
        return AuthenticatedUser(user_id, "session_key")

    def _auth_text(self, action: str, request: Message, block: AuthBlock) -> str:
        """The seven-line text a wallet (or a session key) signs for this request."""
        digest = canonical_params_digest(request)
        return build_auth_message(
            self._domain, action, block.user_id, digest, block.timestamp_ms, block.nonce
        )

    def _check_signature(self, action: str, request: Message, block: AuthBlock) -> AuthVia:
        if action == CREATE_SESSION_KEY:  # the wallet signed EIP-712 typed data, not the text
            typed = authorization_of(
                request,  # type: ignore[arg-type]
                domain=self._domain,
                chain_id=self._chain_id,
                user_id=block.user_id,
                timestamp_ms=block.timestamp_ms,
                nonce=block.nonce,
            )
            authorizer = recover_authorizer(typed, block.signature)
            restore_recursion_limit()  # in case this was eth-account's first import
            if authorizer == block.user_id.lower():
                return "signature"
            raise DomainError.invalid_field(
                "user_auth.signature",
                "does not verify: it must be user_id's EIP-712 signature of the SessionKey authorization "
                "(see the README)",
                ErrorReason.INVALID_SIGNATURE,
            )
        text = self._auth_text(action, request, block)
        expected = block.user_id.lower()
        if recover_signer(text, block.signature) == expected:
            return "signature"
        if self._legacy_enabled:
            legacy = build_legacy_message(block.timestamp_ms, block.nonce)
            if recover_signer(legacy, block.signature) == expected:
                _log.warning(
                    "legacy_auth_message_accepted",
                    user_id=expected,
                    action=action,
                    hint="this message binds neither the action nor its parameters; move to the v1 format",
                )
                return "legacy"
        raise DomainError.invalid_field(
            "user_auth.signature",
            "does not verify: it must be user_id's EIP-191 signature of this request's auth message",
            ErrorReason.INVALID_SIGNATURE,
        )
