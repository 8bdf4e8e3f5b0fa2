"""Orderly request signing with the account's ed25519 "orderly key".

The signed message is `str(timestamp_ms) + METHOD + path_with_query + body`; the WebSocket auth frame
signs the timestamp string alone. The clock is injected so signatures are testable against fixed
vectors.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.exchange.clock import wall_clock_ms

KEY_PREFIX = "ed25519:"
_ACCOUNT_ID_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")


class CredentialsError(ValueError):
    """A credential string that cannot be used; the message names the field and the rule."""


class SignatureEncoding(StrEnum):
    BASE64URL = "base64url"  # with padding: what Orderly's own web front ends send
    BASE64URL_NO_PADDING = "base64url_nopad"
    BASE64 = "base64"


def _decode_base58(value: str, field: str) -> bytes:
    text = value.strip()
    if text.startswith(KEY_PREFIX):
        text = text[len(KEY_PREFIX) :]
    if not text:
        raise CredentialsError(f"{field}: must be base58, optionally prefixed with 'ed25519:'; got empty")
    try:
        return base58.b58decode(text)
    except ValueError as exc:
        raise CredentialsError(f"{field}: must be base58 (optionally 'ed25519:'-prefixed)") from exc


def parse_secret(secret: str) -> Ed25519PrivateKey:
    """Accept `ed25519:<base58>` or bare base58; a 64-byte value (seed || public key) uses its first 32."""
    raw = _decode_base58(secret, "orderly_secret")
    if len(raw) == 64:
        raw = raw[:32]
    if len(raw) != 32:
        raise CredentialsError(f"orderly_secret: must decode to 32 (or 64) bytes, got {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_of(private_key: Ed25519PrivateKey) -> str:
    return KEY_PREFIX + base58.b58encode(private_key.public_key().public_bytes_raw()).decode("ascii")


def normalize_key(orderly_key: str) -> str:
    raw = _decode_base58(orderly_key, "orderly_key")
    if len(raw) != 32:
        raise CredentialsError(f"orderly_key: must decode to 32 bytes, got {len(raw)}")
    return KEY_PREFIX + base58.b58encode(raw).decode("ascii")


def encode_signature(signature: bytes, encoding: SignatureEncoding) -> str:
    if encoding is SignatureEncoding.BASE64:
        return base64.b64encode(signature).decode("ascii")
    text = base64.urlsafe_b64encode(signature).decode("ascii")
    return text.rstrip("=") if encoding is SignatureEncoding.BASE64URL_NO_PADDING else text


class OrderlyCredentials:
    """Account id, public key and the private key. The secret never appears in repr/str or logs."""

    __slots__ = ("_private_key", "account_id", "orderly_key")

    def __init__(self, account_id: str, orderly_key: str, orderly_secret: str) -> None:
        if not _ACCOUNT_ID_RE.match(account_id):
            raise CredentialsError("account_id: must be '0x' followed by 64 hex digits")
        self._private_key = parse_secret(orderly_secret)
        derived = public_key_of(self._private_key)
        key = normalize_key(orderly_key) if orderly_key else derived
        if key != derived:
            raise CredentialsError("orderly_key: does not match the public key of orderly_secret")
        self.account_id = account_id
        self.orderly_key = key

    @property
    def private_key(self) -> Ed25519PrivateKey:
        return self._private_key

    def __repr__(self) -> str:
        key = self.orderly_key
        return f"OrderlyCredentials(account_id={self.account_id!r}, orderly_key={key!r}, secret=***)"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("OrderlyCredentials cannot be pickled (it holds a secret)")


class OrderlySigner:
    """Signs REST requests and WebSocket auth frames; `now_ms` is injected for deterministic tests."""

    def __init__(
        self,
        credentials: OrderlyCredentials,
        now_ms: Callable[[], int] = wall_clock_ms,
        encoding: SignatureEncoding = SignatureEncoding.BASE64URL,
    ) -> None:
        self.credentials = credentials
        self._now_ms = now_ms
        self._encoding = encoding

    def sign(self, message: str) -> str:
        return encode_signature(self.credentials.private_key.sign(message.encode("utf-8")), self._encoding)

    def headers(self, method: str, path_with_query: str, body: str = "") -> dict[str, str]:
        """Headers for one signed request. `body` must be the exact text sent ("" for GET/DELETE)."""
        method = method.upper()
        timestamp_ms = self._now_ms()
        content_type = (
            "application/json" if method in ("POST", "PUT") else "application/x-www-form-urlencoded"
        )
        return {
            "orderly-timestamp": str(timestamp_ms),
            "orderly-account-id": self.credentials.account_id,
            "orderly-key": self.credentials.orderly_key,
            "orderly-signature": self.sign(f"{timestamp_ms}{method}{path_with_query}{body}"),
            "Content-Type": content_type,
        }

    def ws_auth_params(self) -> dict[str, Any]:
        timestamp_ms = self._now_ms()
        return {
            "orderly_key": self.credentials.orderly_key,
            "sign": self.sign(str(timestamp_ms)),
            "timestamp": timestamp_ms,
        }
