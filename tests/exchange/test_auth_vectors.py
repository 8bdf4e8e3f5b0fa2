"""Signing pinned to the fixed vectors of orderly-wire-reference.md section 2.2 (injected clock)."""

from __future__ import annotations

import base58
import pytest

from server.exchange.auth import (
    CredentialsError,
    OrderlyCredentials,
    OrderlySigner,
    SignatureEncoding,
    parse_secret,
    public_key_of,
)

SECRET = "1thX6LZfHDZZKUs92febYZhYRcXddmzfzF2NvTkPNE"  # base58 of bytes 0x00..0x1f
KEY = "ed25519:FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
ACCOUNT_ID = "0x" + "ab" * 32
TS = 1649920583000

ORDER_BODY = (
    '{"symbol":"PERP_ETH_USDC","order_type":"LIMIT","order_price":1521.03,"order_quantity":2.11,"side":"BUY"}'
)
POST_SIG = "sUVWilZGRYTk9DSE24sskLkHQnyOiMSCgBc78nOr7dzGeD8m7YvWrmk7xFf5XNxw2lmJCPiXYsY4NR50Drb5Bw=="
GET_SIG_STD = "z5P0YSjTibBFs4UPoEOuH7suJvtjYUd+0hseOdLeNGyhefIn3mzn6fgS3yKpYYJaXWSEeEh+9BEhgoZDT3OrCg=="
GET_SIG_URL = "z5P0YSjTibBFs4UPoEOuH7suJvtjYUd-0hseOdLeNGyhefIn3mzn6fgS3yKpYYJaXWSEeEh-9BEhgoZDT3OrCg=="
DELETE_SIG_STD = "hyGWZ2EmjbboUH0S/ncimXihHelicm7b4t4rGP67SUTJscNtfeiAksT6uoc8dNjT16mQCCCDtbw114SDeE4SAw=="
WS_SIG_STD = "weE5JOIKfjb9HmfiZcw6R5kOHUMhcXyG1tk9KYdJqaZXJhQ1+2z7JMUuQ/+I4EpMudHA1xzyt6R8vsBkXhIIAw=="
WS_SIG_URL = "weE5JOIKfjb9HmfiZcw6R5kOHUMhcXyG1tk9KYdJqaZXJhQ1-2z7JMUuQ_-I4EpMudHA1xzyt6R8vsBkXhIIAw=="


def _signer(encoding: SignatureEncoding = SignatureEncoding.BASE64URL) -> OrderlySigner:
    return OrderlySigner(OrderlyCredentials(ACCOUNT_ID, KEY, SECRET), now_ms=lambda: TS, encoding=encoding)


def test_secret_of_bytes_0_to_31_derives_the_documented_orderly_key() -> None:
    assert public_key_of(parse_secret(SECRET)) == KEY


def test_post_order_headers_match_the_fixed_vector() -> None:
    headers = _signer().headers("POST", "/v1/order", ORDER_BODY)
    assert headers == {
        "orderly-timestamp": "1649920583000",
        "orderly-account-id": ACCOUNT_ID,
        "orderly-key": KEY,
        "orderly-signature": POST_SIG,
        "Content-Type": "application/json",
    }


def test_get_with_query_signs_path_and_query_in_base64url_by_default() -> None:
    headers = _signer().headers("GET", "/v1/orders?symbol=PERP_BTC_USDC&status=INCOMPLETE")
    assert headers["orderly-signature"] == GET_SIG_URL
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_standard_base64_encoding_gives_the_standard_vector() -> None:
    signer = _signer(SignatureEncoding.BASE64)
    assert signer.headers("GET", "/v1/orders?symbol=PERP_BTC_USDC&status=INCOMPLETE")[
        "orderly-signature"
    ] == (GET_SIG_STD)
    assert signer.headers("DELETE", "/v1/order?order_id=13&symbol=PERP_BTC_USDC")["orderly-signature"] == (
        DELETE_SIG_STD
    )


def test_unpadded_base64url_strips_only_the_padding() -> None:
    signature = _signer(SignatureEncoding.BASE64URL_NO_PADDING).sign(str(TS))
    assert signature == WS_SIG_URL.rstrip("=")


def test_websocket_auth_signs_the_timestamp_alone() -> None:
    params = _signer(SignatureEncoding.BASE64).ws_auth_params()
    assert params == {"orderly_key": KEY, "sign": WS_SIG_STD, "timestamp": TS}
    assert _signer().ws_auth_params()["sign"] == WS_SIG_URL


def test_clock_is_read_per_request() -> None:
    ticks = iter([TS, TS + 1])
    signer = OrderlySigner(OrderlyCredentials(ACCOUNT_ID, KEY, SECRET), now_ms=lambda: next(ticks))
    assert signer.headers("GET", "/v1/positions")["orderly-timestamp"] == str(TS)
    assert signer.headers("GET", "/v1/positions")["orderly-timestamp"] == str(TS + 1)


@pytest.mark.parametrize(
    "secret",
    [
        SECRET,
        "ed25519:" + SECRET,
        base58.b58encode(bytes(range(32)) + bytes(32)).decode(),  # 64 bytes: first 32 are the seed
    ],
)
def test_secret_accepts_prefixed_bare_and_64_byte_forms(secret: str) -> None:
    assert OrderlySigner(OrderlyCredentials(ACCOUNT_ID, KEY, secret), now_ms=lambda: TS).sign("x") == (
        _signer().sign("x")
    )


def test_key_without_prefix_is_normalised_and_empty_key_is_derived() -> None:
    assert OrderlyCredentials(ACCOUNT_ID, KEY.removeprefix("ed25519:"), SECRET).orderly_key == KEY
    assert OrderlyCredentials(ACCOUNT_ID, "", SECRET).orderly_key == KEY


def test_repr_and_str_never_show_the_secret() -> None:
    credentials = OrderlyCredentials(ACCOUNT_ID, KEY, SECRET)
    for text in (repr(credentials), str(credentials), f"{credentials}"):
        assert SECRET not in text
        assert "***" in text


@pytest.mark.parametrize(
    ("account_id", "key", "secret", "field"),
    [
        ("0x1234", KEY, SECRET, "account_id"),
        (ACCOUNT_ID, KEY, "not-base58-0OIl", "orderly_secret"),
        (ACCOUNT_ID, KEY, base58.b58encode(bytes(16)).decode(), "orderly_secret"),
        (ACCOUNT_ID, "ed25519:" + base58.b58encode(bytes(32)).decode(), SECRET, "orderly_key"),
    ],
)
def test_bad_credentials_name_the_field(account_id: str, key: str, secret: str, field: str) -> None:
    with pytest.raises(CredentialsError, match=field):
        OrderlyCredentials(account_id, key, secret)
