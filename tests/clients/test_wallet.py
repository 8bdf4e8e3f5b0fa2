"""Where the signing key comes from: the environment or an encrypted keystore, never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from orderly_grid.wallet import (
    KEY_ENV,
    KEYSTORE_ENV,
    KEYSTORE_PASSWORD_ENV,
    Wallet,
    WalletError,
    as_wallet,
    load_wallet,
)

from tests.clients.conftest import WALLET_KEY

ADDRESS = Account.from_key(WALLET_KEY).address


def _keystore(tmp_path: Path, password: str) -> Path:
    path = tmp_path / "wallet.json"
    encrypted = Account.encrypt(WALLET_KEY, password, kdf="pbkdf2", iterations=1024)
    path.write_text(json.dumps(encrypted))
    return path


def _no_prompt(text: str) -> str:
    raise AssertionError(f"prompted: {text}")


def test_key_from_environment_gives_the_wallet_address() -> None:
    wallet = load_wallet(environ={KEY_ENV: WALLET_KEY}, prompt=_no_prompt)
    assert wallet.address == ADDRESS
    assert WALLET_KEY.removeprefix("0x") not in repr(wallet)
    assert repr(wallet) == f"Wallet({ADDRESS})"


def test_keystore_is_decrypted_with_the_password_from_the_environment(tmp_path: Path) -> None:
    path = _keystore(tmp_path, "s3cret")
    env = {KEYSTORE_ENV: str(path), KEYSTORE_PASSWORD_ENV: "s3cret"}
    assert load_wallet(environ=env, prompt=_no_prompt).address == ADDRESS
    # An explicit keystore path wins over a key in the environment.
    other = {KEY_ENV: "0x" + "59" * 32, KEYSTORE_PASSWORD_ENV: "s3cret"}
    assert load_wallet(keystore=path, environ=other, prompt=_no_prompt).address == ADDRESS


def test_keystore_password_is_prompted_for_when_not_in_the_environment(tmp_path: Path) -> None:
    path = _keystore(tmp_path, "typed")
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return "typed"

    assert load_wallet(keystore=path, environ={}, prompt=prompt).address == ADDRESS
    assert prompts == [f"Password for keystore {path}: "]


def test_wrong_password_missing_key_and_malformed_key_are_clear_errors(tmp_path: Path) -> None:
    path = _keystore(tmp_path, "right")
    with pytest.raises(WalletError, match="wrong password"):
        load_wallet(keystore=path, environ={KEYSTORE_PASSWORD_ENV: "wrong"})
    with pytest.raises(WalletError, match=KEY_ENV):
        load_wallet(environ={}, prompt=_no_prompt)
    with pytest.raises(WalletError, match="prompting is disabled"):
        load_wallet(keystore=path, environ={}, prompt=None)
    with pytest.raises(WalletError, match="64 hex digits") as bad:
        load_wallet(environ={KEY_ENV: "0x1234zz"})
    assert bad.value.__cause__ is None  # the underlying error may quote the key: not chained


def test_accepted_key_forms_name_the_same_wallet() -> None:
    account = Account.from_key(WALLET_KEY)
    forms = [WALLET_KEY, bytes.fromhex(WALLET_KEY[2:]), account, Wallet.from_key(WALLET_KEY)]
    assert {as_wallet(form).address for form in forms} == {ADDRESS}
