"""eth-account, imported on first use.

Importing eth-account costs about 0.4 s (it pulls in eth_keyfile and py_ecc); a process that has not
signed or verified anything yet -- a server coming up, `gridctl preview` -- should not pay it before
it can answer. Every wallet operation of the SDK and the server goes through these functions.
"""

from __future__ import annotations

from typing import Any


def sign_text(private_key: str | bytes, text: str) -> str:
    """EIP-191 personal_sign of `text`: the 65-byte signature as 0x-prefixed hex."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    signed = Account.sign_message(encode_defunct(text=text), private_key=private_key)
    return "0x" + bytes(signed.signature).hex()


def recover_text_signer(text: str, signature: str) -> str:
    """The checksummed address that signed `text` (EIP-191); raises on an unusable signature."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    address: str = Account.recover_message(encode_defunct(text=text), signature=signature)
    return address


def sign_typed_data(private_key: str | bytes, typed_data: dict[str, Any]) -> str:
    """The EIP-712 signature of `typed_data` as 0x-prefixed hex."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    signed = Account.from_key(private_key).sign_message(encode_typed_data(full_message=typed_data))
    return "0x" + bytes(signed.signature).hex()


def recover_typed_data_signer(typed_data: dict[str, Any], signature: str) -> str:
    """The checksummed address that signed `typed_data` (EIP-712); raises on an unusable signature."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    address: str = Account.recover_message(encode_typed_data(full_message=typed_data), signature=signature)
    return address


def address_of(private_key: str | bytes) -> str:
    """The checksummed address of a private key."""
    from eth_account import Account

    address: str = Account.from_key(private_key).address
    return address
