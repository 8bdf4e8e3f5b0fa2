"""Session keys: an ed25519 key the wallet authorizes once, which then signs calls in its place.

One implementation, shared by the SDK and the server (which imports this module), like
`orderly_grid.signing`:

- The wallet authorizes a key by signing EIP-712 typed data (`authorization_typed_data`): domain
  {name "orderly-grid", version "1", chainId}, primary type SessionKey with the server's auth domain,
  the wallet, the ed25519 public key, the scopes (sorted, comma-joined), the expiry, the timestamp
  and the nonce of the CreateSessionKey call.
- A call signed by a session key carries `user_auth.session_key_id` and, in `user_auth.signature`,
  the key's ed25519 signature (0x + 128 hex digits) of exactly the seven-line text the wallet would
  sign (`signing.build_auth_message`): same action, parameter digest, timestamp and nonce.
- A key's id is `sk_` + the first 32 hex digits of SHA-256 of its raw 32-byte public key, so the
  client knows it before the server answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message

from orderly_grid import eth
from orderly_grid.signing import AUTH_FIELD, build_auth_message, canonical_params_digest, new_nonce
from orderly_grid.v1 import auth_pb2, grid_service_pb2

EIP712_NAME = "orderly-grid"
EIP712_VERSION = "1"
DEFAULT_CHAIN_ID = 1
HOUR_MS = 3_600_000
DEFAULT_TTL_MS = 24 * HOUR_MS
MAX_TTL_MS = 7 * 24 * HOUR_MS
KEY_ID_PREFIX = "sk_"

SCOPE_READ = "read"
SCOPE_TRADE = "trade"
SCOPE_ACCOUNT = "account"  # reserved: RegisterAccount and key management need the wallet itself
SCOPES = (SCOPE_READ, SCOPE_TRADE, SCOPE_ACCOUNT)
# The scope each call needs when signed by a session key; a call missing here needs the wallet.
ACTION_SCOPES = {
    "GetGrid": SCOPE_READ,
    "ListGrids": SCOPE_READ,
    "ListGridSummaries": SCOPE_READ,
    "WatchFills": SCOPE_READ,
    "GetGridHistory": SCOPE_READ,
    "StartGrid": SCOPE_TRADE,
    "StopGrid": SCOPE_TRADE,
    "ModifyGrid": SCOPE_TRADE,
}
WALLET_ONLY_ACTIONS = ("RegisterAccount", "CreateSessionKey", "RevokeSessionKey")

_SESSION_KEY_TYPE = [
    {"name": "domain", "type": "string"},
    {"name": "wallet", "type": "address"},
    {"name": "publicKey", "type": "bytes32"},
    {"name": "scopes", "type": "string"},
    {"name": "expiresAt", "type": "uint64"},
    {"name": "timestamp", "type": "uint64"},
    {"name": "nonce", "type": "string"},
]


def key_id_of(public_key_hex: str) -> str:
    """The id of the key whose raw public key is `public_key_hex` (0x + 64 hex digits)."""
    raw = bytes.fromhex(public_key_hex.removeprefix("0x"))
    return KEY_ID_PREFIX + hashlib.sha256(raw).hexdigest()[:32]


def scopes_text(scopes: Iterable[str]) -> str:
    """The scopes as signed: distinct, sorted, comma-joined."""
    return ",".join(sorted(set(scopes)))


def effective_expiry_ms(expires_at_ms: int, timestamp_ms: int) -> int:
    """The expiry a CreateSessionKey call asks for: 0 means its timestamp + 24 h."""
    return expires_at_ms or timestamp_ms + DEFAULT_TTL_MS


def authorization_typed_data(
    *,
    domain: str,
    chain_id: int,
    wallet: str,
    public_key_hex: str,
    scopes: Iterable[str],
    expires_at_ms: int,
    timestamp_ms: int,
    nonce: str,
) -> dict[str, Any]:
    """The EIP-712 typed data (eth-account `full_message` form) the wallet signs to authorize a key.
    `expires_at_ms` is the effective expiry (never 0)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "SessionKey": _SESSION_KEY_TYPE,
        },
        "primaryType": "SessionKey",
        "domain": {"name": EIP712_NAME, "version": EIP712_VERSION, "chainId": chain_id},
        "message": {
            "domain": domain,
            "wallet": wallet,
            "publicKey": bytes.fromhex(public_key_hex.removeprefix("0x")),
            "scopes": scopes_text(scopes),
            "expiresAt": expires_at_ms,
            "timestamp": timestamp_ms,
            "nonce": nonce,
        },
    }


def recover_authorizer(typed_data: dict[str, Any], signature: str) -> str | None:
    """The lower-case address that signed the typed data, or None if the signature is unusable."""
    try:
        address = eth.recover_typed_data_signer(typed_data, signature)
    except Exception:  # eth-account raises assorted types for bad signatures: all mean invalid
        return None
    return address.lower()


@dataclass(frozen=True, slots=True)
class SessionKey:
    """A session key the client holds: the ed25519 private key (never printed), its authorization."""

    private_key: Ed25519PrivateKey = field(repr=False)
    user_id: str
    scopes: tuple[str, ...]
    expires_at_ms: int

    @classmethod
    def generate(cls, user_id: str, scopes: Iterable[str], expires_at_ms: int) -> SessionKey:
        return cls(Ed25519PrivateKey.generate(), user_id, tuple(sorted(set(scopes))), expires_at_ms)

    @property
    def public_key_hex(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return "0x" + raw.hex()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key_hex)

    def private_bytes(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def covers(self, action: str, now_ms: int, *, margin_ms: int = 60_000) -> bool:
        """Whether this key may sign `action` now (with `margin_ms` of validity left)."""
        scope = ACTION_SCOPES.get(action)
        return scope is not None and scope in self.scopes and now_ms + margin_ms < self.expires_at_ms


def sign_with_session_key(
    key: SessionKey,
    domain: str,
    action: str,
    request: Message,
    *,
    timestamp_ms: int,
    nonce: str | None = None,
) -> auth_pb2.UserAuth:
    """Sign `request` for `action` with the session key and set its `user_auth` field."""
    used_nonce = new_nonce() if nonce is None else nonce
    text = build_auth_message(
        domain, action, key.user_id, canonical_params_digest(request), timestamp_ms, used_nonce
    )
    signature = "0x" + key.private_key.sign(text.encode("utf-8")).hex()
    auth = auth_pb2.UserAuth(
        user_id=key.user_id,
        signature=signature,
        timestamp=timestamp_ms,
        nonce=used_nonce,
        session_key_id=key.key_id,
    )
    if AUTH_FIELD in request.DESCRIPTOR.fields_by_name:
        getattr(request, AUTH_FIELD).CopyFrom(auth)
    return auth


def authorize_session_key(
    wallet_private_key: str | bytes,
    domain: str,
    request: grid_service_pb2.CreateSessionKeyRequest,
    *,
    chain_id: int = DEFAULT_CHAIN_ID,
    timestamp_ms: int,
    nonce: str | None = None,
) -> auth_pb2.UserAuth:
    """The wallet's EIP-712 signature of a CreateSessionKeyRequest (its public_key, scopes and
    expires_at_ms), set as the request's `user_auth`."""
    wallet = eth.address_of(wallet_private_key)
    used_nonce = new_nonce() if nonce is None else nonce
    typed = authorization_typed_data(
        domain=domain,
        chain_id=chain_id,
        wallet=wallet,
        public_key_hex=request.public_key,
        scopes=request.scopes,
        expires_at_ms=effective_expiry_ms(request.expires_at_ms, timestamp_ms),
        timestamp_ms=timestamp_ms,
        nonce=used_nonce,
    )
    auth = auth_pb2.UserAuth(
        user_id=wallet,
        signature=eth.sign_typed_data(wallet_private_key, typed),
        timestamp=timestamp_ms,
        nonce=used_nonce,
    )
    request.user_auth.CopyFrom(auth)
    return auth
