"""The wallet signature every user-acting orderly-grid request carries (`user_auth`).

One implementation, shared by the SDK, the tests and the server (which imports this module), so the
text a wallet signs and the text the server checks can never drift apart.

The signed text (EIP-191 `personal_sign`, i.e. eth-account's `encode_defunct(text=...)`) is seven
lines joined by "\\n", no trailing newline:

    orderly-grid wants you to authorize this action.
    Domain: <the service's domain, default "orderly-grid">
    Action: <RPC method name: StartGrid, StopGrid, GetGrid, ListGrids, ListGridSummaries,
             WatchFills or RegisterAccount>
    User: <user_id exactly as sent in user_auth.user_id>
    Params: <canonical_params_digest(request): 64 lower-case hex digits>
    Timestamp: <user_auth.timestamp, ms since the Unix epoch, decimal>
    Nonce: <user_auth.nonce>

Canonical parameters: the request message WITHOUT its `user_auth` field, as proto3 JSON with the
proto field names (`json_format.MessageToDict(..., preserving_proto_field_name=True)`: default values
omitted, enums by name, int64 as decimal strings, `optional` fields present when set), serialised with
`json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, encoded as UTF-8 and hashed
with SHA-256. An empty request hashes `{}`.

The signature: 65 bytes r ‖ s ‖ v as 0x + 130 hex digits, in the one form each signature has under
EIP-2: v is 27 or 28 (0 or 1 also accepted) and s is in the lower half of the curve order. The
EIP-155 forms of v (35 and up) and the high-s twin recover the same address but are refused
(`signature_form_problem`), so a signature cannot be replayed in another spelling. eth-account
signs in this form.
"""

from __future__ import annotations

import hashlib
import json
import secrets

from google.protobuf import json_format
from google.protobuf.message import Message

from orderly_grid import eth
from orderly_grid.v1 import auth_pb2

DEFAULT_DOMAIN = "orderly-grid"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SIGNATURE_V_VALUES = (27, 28, 0, 1)
MESSAGE_HEADER = "orderly-grid wants you to authorize this action."
AUTH_FIELD = "user_auth"

# The unbound message of the system orderly-grid replaces. It binds neither the action nor the
# parameters, so the server accepts it only when explicitly configured to (for migrating tooling).
LEGACY_MESSAGE_TEMPLATE = (
    "Please sign this message to confirm your identity.\nTimestamp: {timestamp}\nNonce: {nonce}"
)

ACTIONS = (
    "StartGrid",
    "StopGrid",
    "GetGrid",
    "ListGrids",
    "ListGridSummaries",
    "WatchFills",
    "RegisterAccount",
    "GetGridHistory",
)


def canonical_params_json(request: Message) -> str:
    """The canonical JSON text of `request` without its `user_auth` field (see the module doc)."""
    params = type(request)()
    params.CopyFrom(request)
    if AUTH_FIELD in params.DESCRIPTOR.fields_by_name:
        params.ClearField(AUTH_FIELD)
    as_dict = json_format.MessageToDict(params, preserving_proto_field_name=True)
    return json.dumps(as_dict, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_params_digest(request: Message) -> str:
    """SHA-256 (lower-case hex) of `canonical_params_json(request)`."""
    return hashlib.sha256(canonical_params_json(request).encode("utf-8")).hexdigest()


def build_auth_message(
    domain: str, action: str, user_id: str, params_digest: str, timestamp_ms: int, nonce: str
) -> str:
    """The text the wallet signs for one request (see the module doc for the format)."""
    return "\n".join(
        (
            MESSAGE_HEADER,
            f"Domain: {domain}",
            f"Action: {action}",
            f"User: {user_id}",
            f"Params: {params_digest}",
            f"Timestamp: {timestamp_ms}",
            f"Nonce: {nonce}",
        )
    )


def build_legacy_message(timestamp_ms: int, nonce: str) -> str:
    """The old unbound message; accepted only by servers that enable legacy auth."""
    return LEGACY_MESSAGE_TEMPLATE.format(timestamp=timestamp_ms, nonce=nonce)


def new_nonce() -> str:
    """A fresh single-use nonce: 16 random bytes as 32 hex digits."""
    return secrets.token_hex(16)


def sign_text(private_key: str | bytes, text: str) -> str:
    """EIP-191 personal_sign of `text`: the 65-byte signature as 0x-prefixed hex."""
    return eth.sign_text(private_key, text)


def signature_form_problem(signature: str) -> str | None:
    """Why a well-formed 65-byte signature (0x + 130 hex digits) is not in the accepted form, or
    None: v (the last byte) must be 27, 28, 0 or 1, and s must be at most n/2 (EIP-2 low-s)."""
    raw = bytes.fromhex(signature.removeprefix("0x"))
    if len(raw) != 65:
        return "must be 65 bytes: r, s and v"
    if raw[64] not in SIGNATURE_V_VALUES:
        return f"v (the last byte) must be 27, 28, 0 or 1, got {raw[64]}"
    if int.from_bytes(raw[32:64], "big") > SECP256K1_N // 2:
        return "must be a low-s signature (EIP-2): s at most half the secp256k1 order"
    return None


def sign_request(
    private_key: str | bytes,
    domain: str,
    action: str,
    request: Message,
    *,
    timestamp_ms: int,
    nonce: str | None = None,
) -> auth_pb2.UserAuth:
    """Sign `request` for `action` with the wallet's key and set its `user_auth` field.

    `timestamp_ms` is the signing time (ms since the epoch; the server accepts +-5 minutes around its
    clock); `nonce` defaults to a fresh random one. Returns the UserAuth that was set.
    """
    user_id = eth.address_of(private_key)
    used_nonce = new_nonce() if nonce is None else nonce
    text = build_auth_message(
        domain, action, user_id, canonical_params_digest(request), timestamp_ms, used_nonce
    )
    auth = auth_pb2.UserAuth(
        user_id=user_id, signature=sign_text(private_key, text), timestamp=timestamp_ms, nonce=used_nonce
    )
    if AUTH_FIELD in request.DESCRIPTOR.fields_by_name:
        getattr(request, AUTH_FIELD).CopyFrom(auth)
    return auth


def auth_metadata(auth: auth_pb2.UserAuth) -> tuple[tuple[str, str], ...]:
    """The same auth block as gRPC metadata, for requests sent without a `user_auth` field."""
    return (
        ("x-user-id", auth.user_id),
        ("x-user-signature", auth.signature),
        ("x-user-timestamp", str(auth.timestamp)),
        ("x-user-nonce", auth.nonce),
    )
