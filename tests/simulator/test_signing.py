"""Signature checks pinned to the fixed vectors of orderly-wire-reference.md section 2.2."""

from __future__ import annotations

import json
from dataclasses import replace

import aiohttp
import pytest

from server.simulator import RunningSimulator, SimulatorControl, run_simulator
from server.simulator.signing import (
    SignatureFormatError,
    decode_orderly_key,
    decode_signature,
    keypair_from_seed,
    request_messages,
    sign,
    verify,
)
from tests.simulator.conftest import QUIET
from tests.simulator.sim_client import RestClient, now_ms

SECRET = "1thX6LZfHDZZKUs92febYZhYRcXddmzfzF2NvTkPNE"
KEY = "ed25519:FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
ORDER_MSG = (
    '1649920583000POST/v1/order{"symbol":"PERP_ETH_USDC","order_type":"LIMIT","order_price":1521.03,'
    '"order_quantity":2.11,"side":"BUY"}'
)
ORDER_SIG = "sUVWilZGRYTk9DSE24sskLkHQnyOiMSCgBc78nOr7dzGeD8m7YvWrmk7xFf5XNxw2lmJCPiXYsY4NR50Drb5Bw=="
GET_MSG = "1649920583000GET/v1/orders?symbol=PERP_BTC_USDC&status=INCOMPLETE"
GET_SIG_STD = "z5P0YSjTibBFs4UPoEOuH7suJvtjYUd+0hseOdLeNGyhefIn3mzn6fgS3yKpYYJaXWSEeEh+9BEhgoZDT3OrCg=="
GET_SIG_URL = "z5P0YSjTibBFs4UPoEOuH7suJvtjYUd-0hseOdLeNGyhefIn3mzn6fgS3yKpYYJaXWSEeEh-9BEhgoZDT3OrCg=="
DELETE_MSG = "1649920583000DELETE/v1/order?order_id=13&symbol=PERP_BTC_USDC"
DELETE_SIG = "hyGWZ2EmjbboUH0S/ncimXihHelicm7b4t4rGP67SUTJscNtfeiAksT6uoc8dNjT16mQCCCDtbw114SDeE4SAw=="
WS_MSG = "1649920583000"
WS_SIG_URL = "weE5JOIKfjb9HmfiZcw6R5kOHUMhcXyG1tk9KYdJqaZXJhQ1-2z7JMUuQ_-I4EpMudHA1xzyt6R8vsBkXhIIAw=="


def test_the_vector_secret_derives_the_vector_key() -> None:
    pair = keypair_from_seed(bytes(range(32)))
    assert pair.orderly_key == KEY
    assert pair.orderly_secret == f"ed25519:{SECRET}"


@pytest.mark.parametrize(
    ("message", "signature"),
    [(ORDER_MSG, ORDER_SIG), (GET_MSG, GET_SIG_STD), (DELETE_MSG, DELETE_SIG), (WS_MSG, WS_SIG_URL)],
)
def test_vectors_sign_identically(message: str, signature: str) -> None:
    expected = decode_signature(signature)
    assert decode_signature(sign(SECRET, message)) == expected
    assert sign(f"ed25519:{SECRET}", message) == sign(SECRET, message)


@pytest.mark.parametrize("signature", [GET_SIG_STD, GET_SIG_URL, GET_SIG_URL.rstrip("=")])
def test_all_three_base64_variants_verify(signature: str) -> None:
    assert verify(decode_orderly_key(KEY), decode_signature(signature), GET_MSG)


def test_a_signature_over_another_message_does_not_verify() -> None:
    assert not verify(decode_orderly_key(KEY), decode_signature(GET_SIG_STD), DELETE_MSG)


@pytest.mark.parametrize(
    "key", ["FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF", "ed25519:0OIl", "ed25519:abc"]
)
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(SignatureFormatError):
        decode_orderly_key(key)


def test_double_slash_and_percent_encoded_queries_are_candidates() -> None:
    messages = request_messages("1", "DELETE", "//v1/batch-order?order_ids=1%2C2", b"")
    assert "1DELETE/v1/batch-order?order_ids=1,2" in messages
    assert messages[0] == "1DELETE//v1/batch-order?order_ids=1%2C2"


@pytest.mark.parametrize("encoding", ["std", "url", "url-nopad"])
async def test_signed_get_is_accepted_in_every_encoding(rest: RestClient, encoding: str) -> None:
    status, payload = await rest.call(
        "GET", "/v1/orders?symbol=PERP_BTC_USDC&status=INCOMPLETE", encoding=encoding
    )
    assert status == 200, payload
    assert payload["success"] is True
    assert payload["data"]["rows"] == []


async def test_post_body_signed_with_spaces_is_verified_against_the_raw_bytes(rest: RestClient) -> None:
    body = json.dumps(
        {
            "symbol": "PERP_BTC_USDC",
            "order_type": "LIMIT",
            "side": "BUY",
            "order_price": 42000,
            "order_quantity": "0.001",
        }
    )
    status, payload = await rest.call("POST", "/v1/order", body_text=body)
    assert status == 200, payload
    assert payload["data"]["error_message"] == "none"


async def test_stale_timestamp_is_rejected(rest: RestClient) -> None:
    status, payload = await rest.call("GET", "/v1/positions", timestamp_ms=now_ms() - 301_000)
    assert status == 401
    assert payload["success"] is False
    assert payload["code"] == -1002


async def test_signature_made_with_another_secret_is_rejected(
    rest: RestClient, sim: RunningSimulator
) -> None:
    impostor = sim.context.accounts.create(sim.context.config.initial_collateral)
    forged = type(sim.account)(sim.account.account_id, sim.account.orderly_key, impostor.orderly_secret)
    status, payload = await rest.call("GET", "/v1/positions", account=forged)
    assert (status, payload["code"]) == (401, -1001)


async def test_key_of_another_account_is_rejected(rest: RestClient, sim: RunningSimulator) -> None:
    other = sim.context.accounts.create(sim.context.config.initial_collateral)
    borrowed = type(sim.account)(sim.account.account_id, other.orderly_key, other.orderly_secret)
    status, payload = await rest.call("GET", "/v1/positions", account=borrowed)
    assert (status, payload["code"]) == (401, -1002)


async def test_missing_account_id_header_gets_orderlys_exact_answer(rest: RestClient) -> None:
    status, payload = await rest.call("GET", "/v1/positions", headers={"orderly-account-id": ""})
    assert status == 401
    assert payload == {"success": False, "code": -1002, "message": "orderly-account-id header is empty"}


async def test_unsigned_private_request_is_refused(rest: RestClient) -> None:
    status, payload = await rest.call("GET", "/v1/client/holding", signed=False)
    assert (status, payload["code"]) == (401, -1002)


async def test_read_only_key_cannot_trade(rest: RestClient, sim: RunningSimulator) -> None:
    reader = sim.context.accounts.create(sim.context.config.initial_collateral, scope="read")
    status, _ = await rest.call("GET", "/v1/client/holding", account=reader)
    assert status == 200
    status, payload = await rest.call("DELETE", "/v1/orders", account=reader)
    assert (status, payload["code"]) == (401, -1002)


async def test_double_slash_path_signed_with_single_slash_is_accepted(rest: RestClient) -> None:
    timestamp = str(now_ms())
    signature = sign(rest.account.orderly_secret, f"{timestamp}GET/v1/client/holding")
    headers = {
        "orderly-timestamp": timestamp,
        "orderly-account-id": rest.account.account_id,
        "orderly-key": rest.account.orderly_key,
        "orderly-signature": signature,
        "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
    }
    async with rest.session.get(rest.rest_url + "//v1/client/holding", headers=headers) as response:
        assert response.status == 200, await response.text()


async def test_virtual_clock_accepts_wall_time_and_virtual_time_signatures() -> None:
    config = replace(QUIET, virtual_clock=True)
    async with (
        run_simulator(config) as sim,
        SimulatorControl(sim.rest_url) as control,
        aiohttp.ClientSession() as session,
    ):
        rest = RestClient(session, sim.rest_url, sim.account)
        virtual_now = await control.advance_clock(3_600_000)
        for timestamp_ms in (now_ms(), virtual_now):
            status, _ = await rest.call("GET", "/v1/client/holding", timestamp_ms=timestamp_ms)
            assert status == 200
        status, payload = await rest.call("GET", "/v1/client/holding", timestamp_ms=virtual_now + 1_800_000)
        assert (status, payload["code"]) == (401, -1002)
