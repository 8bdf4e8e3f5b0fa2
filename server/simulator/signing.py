"""Ed25519 "orderly key" checks as Orderly's servers do them (an implementation independent of the adapter).

The signed message is `timestamp + METHOD + path?query + raw body`; the signature travels as standard
base64, base64url with padding, or base64url without padding, and all three are accepted."""

from __future__ import annotations

import base64
import binascii
import random
from dataclasses import dataclass
from urllib.parse import unquote

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_PREFIX = "ed25519:"


class SignatureFormatError(ValueError):
    """A key or signature that cannot even be decoded."""


def decode_orderly_key(orderly_key: str) -> Ed25519PublicKey:
    """`ed25519:<base58 of the 32-byte public key>`; the prefix is required, as on Orderly."""
    if not orderly_key.startswith(KEY_PREFIX):
        raise SignatureFormatError("orderly-key must start with 'ed25519:'")
    try:
        raw = base58.b58decode(orderly_key[len(KEY_PREFIX) :])
    except ValueError as exc:
        raise SignatureFormatError("orderly-key is not base58") from exc
    if len(raw) != 32:
        raise SignatureFormatError("orderly-key must decode to 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def decode_signature(signature: str) -> bytes:
    """Standard base64 or base64url, padded or not -> the 64 raw signature bytes."""
    text = signature.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureFormatError("orderly-signature is not base64") from exc
    if len(raw) != 64:
        raise SignatureFormatError("orderly-signature must decode to 64 bytes")
    return raw


def verify(public_key: Ed25519PublicKey, signature: bytes, message: str) -> bool:
    try:
        public_key.verify(signature, message.encode("utf-8"))
    except InvalidSignature:
        return False
    return True


def request_messages(timestamp: str, method: str, raw_path_qs: str, body: bytes) -> list[str]:
    """Candidate signed messages for one request, most literal first.

    Clients differ: some percent-encode the query they send but sign it raw, and one official connector
    sends `//v1/...` while signing `/v1/...`; each candidate is a form a real client signs."""
    body_text = body.decode("utf-8", errors="replace")
    paths = [raw_path_qs]
    merged = _merge_leading_slashes(raw_path_qs)
    for candidate in (merged, unquote(raw_path_qs), unquote(merged)):
        if candidate not in paths:
            paths.append(candidate)
    return [f"{timestamp}{method.upper()}{path}{body_text}" for path in paths]


def _merge_leading_slashes(path: str) -> str:
    while path.startswith("//"):
        path = path[1:]
    return path


@dataclass(frozen=True)
class KeyPair:
    orderly_key: str
    orderly_secret: str


def keypair_from_seed(seed: bytes) -> KeyPair:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    public_raw = private.public_key().public_bytes_raw()
    return KeyPair(
        orderly_key=KEY_PREFIX + base58.b58encode(public_raw).decode("ascii"),
        orderly_secret=KEY_PREFIX + base58.b58encode(seed).decode("ascii"),
    )


def generate_keypair(rng: random.Random) -> KeyPair:
    return keypair_from_seed(rng.randbytes(32))


def sign(orderly_secret: str, message: str) -> str:
    """Standard-base64 signature of `message` (for tests and tools driving the simulator)."""
    secret = orderly_secret.removeprefix(KEY_PREFIX)
    seed = base58.b58decode(secret)[:32]
    signature = Ed25519PrivateKey.from_private_bytes(seed).sign(message.encode("utf-8"))
    return base64.b64encode(signature).decode("ascii")
