"""The wallet key that signs requests, loaded from the environment or an encrypted keystore file.

Keys never come from command-line arguments (they would show in `ps` and shell history) and never
appear in `repr` or logs.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # eth-account is imported on first use (see orderly_grid.eth)
    from eth_account.signers.local import LocalAccount

KEY_ENV = "ORDERLY_GRID_WALLET_KEY"
KEYSTORE_ENV = "ORDERLY_GRID_KEYSTORE"
KEYSTORE_PASSWORD_ENV = "ORDERLY_GRID_KEYSTORE_PASSWORD"


class WalletError(ValueError):
    """No usable key: nothing configured, a malformed key, an unreadable keystore or a wrong password."""


class Wallet:
    """An EVM private key and its address. The key is kept private and never printed."""

    __slots__ = ("_account",)

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @classmethod
    def from_key(cls, private_key: str | bytes) -> Wallet:
        from eth_account import Account

        try:
            return cls(Account.from_key(private_key))
        except (ValueError, TypeError):
            # The message of eth-account's error may quote the key: do not chain it.
            raise WalletError("the wallet key must be 32 bytes as 64 hex digits (0x optional)") from None

    @classmethod
    def from_keystore(cls, path: str | Path, password: str) -> Wallet:
        """Decrypt an Ethereum keystore (Web3 Secret Storage JSON) file."""
        from eth_account import Account

        try:
            keyfile = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WalletError(
                f"keystore {path}: cannot read a JSON keystore ({exc.__class__.__name__})"
            ) from None
        try:
            key = Account.decrypt(keyfile, password)
        except (ValueError, KeyError, TypeError):
            raise WalletError(f"keystore {path}: wrong password or not a keystore file") from None
        return cls.from_key(bytes(key))

    @property
    def address(self) -> str:
        """The checksummed 0x address: the `user_id` the server sees."""
        return str(self._account.address)

    @property
    def private_key(self) -> bytes:
        return bytes(self._account.key)

    def __repr__(self) -> str:
        return f"Wallet({self.address})"


def load_wallet(
    *,
    keystore: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = getpass.getpass,
) -> Wallet:
    """The wallet from, in order: the `keystore` path given, ORDERLY_GRID_WALLET_KEY, or the keystore
    named by ORDERLY_GRID_KEYSTORE. A keystore's password comes from ORDERLY_GRID_KEYSTORE_PASSWORD,
    else from `prompt` (getpass by default; None forbids prompting)."""
    env = os.environ if environ is None else environ
    if keystore is None:
        key = env.get(KEY_ENV, "").strip()
        if key:
            return Wallet.from_key(key)
        keystore = env.get(KEYSTORE_ENV, "").strip() or None
    if keystore is None:
        raise WalletError(
            f"no wallet key: set {KEY_ENV} or give a keystore file ({KEYSTORE_ENV} or --keystore)"
        )
    password = env.get(KEYSTORE_PASSWORD_ENV)
    if password is None:
        if prompt is None:
            raise WalletError(f"keystore {keystore}: set {KEYSTORE_PASSWORD_ENV} (prompting is disabled)")
        try:
            password = prompt(f"Password for keystore {keystore}: ")
        except EOFError:
            raise WalletError(f"keystore {keystore}: no password given") from None
    return Wallet.from_keystore(keystore, password)


def as_wallet(key: Wallet | LocalAccount | str | bytes) -> Wallet:
    """Accept the forms callers hold a key in."""
    from eth_account.signers.local import LocalAccount

    if isinstance(key, Wallet):
        return key
    if isinstance(key, LocalAccount):
        return Wallet(key)
    return Wallet.from_key(key)
