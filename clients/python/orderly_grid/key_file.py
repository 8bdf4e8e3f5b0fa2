"""Where gridctl keeps the session key `gridctl login` made: encrypted, in the user's config folder.

File: `$XDG_CONFIG_HOME/orderly-grid/session-<wallet address, lower case>.json` (XDG_CONFIG_HOME
defaults to ~/.config), mode 0600, folder 0700. The ed25519 private key is sealed with AES-256-GCM
under a key derived with scrypt (n=2**14, r=8, p=1, a random 16-byte salt) from the wallet's private
key, and the file's other fields (wallet, key id, scopes, expiry) are its associated data: the file
is useless without the wallet key and cannot be edited unnoticed. Nothing secret is ever printed.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from orderly_grid.session_keys import SessionKey
from orderly_grid.wallet import Wallet

FORMAT = "orderly-grid-session-key-v1"


class KeyFileError(ValueError):
    """The stored key cannot be used (unreadable, tampered with, or another wallet's)."""


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "orderly-grid"


def key_path(wallet: Wallet, environ: Mapping[str, str] | None = None) -> Path:
    return config_dir(environ) / f"session-{wallet.address.lower()}.json"


def _cipher(wallet: Wallet, salt: bytes) -> AESGCM:
    return AESGCM(Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(wallet.private_key))


def _associated(fields: Mapping[str, object]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def save(wallet: Wallet, key: SessionKey, environ: Mapping[str, str] | None = None) -> Path:
    path = key_path(wallet, environ)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fields = {
        "format": FORMAT,
        "user_id": key.user_id,
        "key_id": key.key_id,
        "scopes": list(key.scopes),
        "expires_at_ms": key.expires_at_ms,
    }
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = _cipher(wallet, salt).encrypt(nonce, key.private_bytes(), _associated(fields))
    document = {**fields, "sealed": base64.b64encode(salt + nonce + sealed).decode()}
    # Created 0600 from the start: the secret is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(document, file)
    os.chmod(path, 0o600)
    return path


def load(wallet: Wallet, environ: Mapping[str, str] | None = None) -> SessionKey | None:
    """The wallet's stored key, or None if there is none."""
    path = key_path(wallet, environ)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: cannot read the session key ({type(exc).__name__})") from None
    try:
        fields = {name: document[name] for name in ("format", "user_id", "key_id", "scopes", "expires_at_ms")}
        raw = base64.b64decode(document["sealed"])
        secret = _cipher(wallet, raw[:16]).decrypt(raw[16:28], raw[28:], _associated(fields))
    except (KeyError, ValueError, InvalidTag):
        raise KeyFileError(f"{path}: not this wallet's session key, or altered; run gridctl login") from None
    key = SessionKey(
        Ed25519PrivateKey.from_private_bytes(secret),
        str(fields["user_id"]),
        tuple(fields["scopes"]),
        int(fields["expires_at_ms"]),
    )
    if key.key_id != fields["key_id"]:
        raise KeyFileError(f"{path}: the key does not match its id; run gridctl login")
    return key


def remove(wallet: Wallet, environ: Mapping[str, str] | None = None) -> bool:
    try:
        key_path(wallet, environ).unlink()
    except FileNotFoundError:
        return False
    return True
