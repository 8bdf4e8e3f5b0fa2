"""Encryption at rest of users' Orderly secrets: AES-256-GCM under a master key from the environment.

Envelope: "v1:" + base64(nonce(12) || ciphertext || tag(16)). Each seal draws a fresh random 96-bit
nonce. The associated data binds the envelope to its user and account, so an envelope copied onto
another user's record (or account) does not open. The master key is GRID_MASTER_KEY, the base64 of
32 random bytes (`python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"`).
Without it the server has no SecretBox and refuses RegisterAccount: an ephemeral key would make
every stored secret unreadable after a restart, and the sessions using it unable to trade.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENVELOPE_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
MASTER_KEY_ENV = "GRID_MASTER_KEY"


class SecretBoxError(ValueError):
    """A master key or envelope that cannot be used. Messages never contain key or secret material."""


def parse_master_key(value: str) -> bytes:
    """The 32-byte key a GRID_MASTER_KEY value (standard base64) encodes; SecretBoxError otherwise."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretBoxError(f"{MASTER_KEY_ENV}: must be standard base64 (of 32 random bytes)") from None
    if len(key) != KEY_BYTES:
        raise SecretBoxError(f"{MASTER_KEY_ENV}: must decode to {KEY_BYTES} bytes, got {len(key)}")
    return key


def _associated_data(user_id: str, account_id: str) -> bytes:
    return f"orderly-grid/orderly-secret/{ENVELOPE_VERSION}\n{user_id.lower()}\n{account_id.lower()}".encode()


class SecretBox:
    """Seals and opens secrets for one (user_id, account_id). Holds the key; shows nothing of it."""

    __slots__ = ("_aead",)

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise SecretBoxError(f"master key: must be {KEY_BYTES} bytes, got {len(master_key)}")
        self._aead = AESGCM(master_key)

    @classmethod
    def from_setting(cls, value: str | None) -> SecretBox | None:
        """The box for a GRID_MASTER_KEY value; None when it is unset or empty (accounts disabled)."""
        if value is None or not value.strip():
            return None
        return cls(parse_master_key(value))

    def seal(self, secret: str, *, user_id: str, account_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), _associated_data(user_id, account_id))
        return f"{ENVELOPE_VERSION}:" + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, envelope: str, *, user_id: str, account_id: str) -> str:
        """The secret sealed in `envelope` for this user and account; SecretBoxError if the envelope
        is malformed, was tampered with, belongs to another user/account or another master key."""
        version, _, body = envelope.partition(":")
        if version != ENVELOPE_VERSION:
            raise SecretBoxError(f"envelope: unknown version {version[:8]!r}, this build reads v1")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise SecretBoxError("envelope: body is not base64") from None
        if len(raw) < NONCE_BYTES + 16:
            raise SecretBoxError("envelope: too short")
        try:
            plain = self._aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated_data(user_id, account_id)
            )
        except InvalidTag:
            raise SecretBoxError(
                "envelope: does not authenticate (tampered, another user/account, or another master key)"
            ) from None
        return plain.decode("utf-8")

    def __repr__(self) -> str:
        return "SecretBox(key=***)"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("SecretBox cannot be pickled (it holds the master key)")
