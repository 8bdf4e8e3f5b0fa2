"""The client-side signing module: the documented text, the canonical digest, and signatures that the
server's recovery accepts. The server imports these same functions, so the SDK cannot drift."""

import hashlib

from eth_account import Account
from eth_account.messages import encode_defunct
from orderly_grid import signing
from orderly_grid.v1 import auth_pb2, grid_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.auth import verifier as server_verifier
from tests.auth.conftest import ALICE, ALICE_KEY, DOMAIN, start_request


def test_the_signed_text_is_the_documented_seven_lines() -> None:
    text = signing.build_auth_message(
        "orderly-grid", "StopGrid", ALICE, "ab" * 32, 1764000000000, "n0nce-123"
    )
    assert text == (
        "orderly-grid wants you to authorize this action.\n"
        "Domain: orderly-grid\n"
        "Action: StopGrid\n"
        f"User: {ALICE}\n"
        f"Params: {'ab' * 32}\n"
        "Timestamp: 1764000000000\n"
        "Nonce: n0nce-123"
    )


def test_canonical_params_are_sorted_proto_json_without_user_auth_or_defaults() -> None:
    request = pb.StopGridRequest(session_id="0xabc_PERP_BTC_USDC", close_position=False)
    request.user_auth.CopyFrom(auth_pb2.UserAuth(user_id=ALICE, nonce="ignored-nonce"))
    expected = '{"close_position":false,"session_id":"0xabc_PERP_BTC_USDC"}'
    assert signing.canonical_params_json(request) == expected
    assert signing.canonical_params_digest(request) == hashlib.sha256(expected.encode()).hexdigest()
    assert request.user_auth.user_id == ALICE  # the caller's message is left untouched


def test_canonical_params_spell_enums_by_name_and_int64_as_strings() -> None:
    summaries = pb.ListGridSummariesRequest(status=grid_pb2.GRID_STATUS_RUNNING, start_time=1764000000000)
    assert signing.canonical_params_json(summaries) == (
        '{"start_time":"1764000000000","status":"GRID_STATUS_RUNNING"}'
    )
    assert signing.canonical_params_json(pb.ListGridsRequest()) == "{}"


def test_the_digest_changes_with_any_parameter() -> None:
    base = signing.canonical_params_digest(start_request())
    assert signing.canonical_params_digest(start_request(total_margin="1000")) != base
    assert signing.canonical_params_digest(start_request(grid_levels=7)) != base
    assert signing.canonical_params_digest(start_request()) == base


def test_sign_request_fills_user_auth_with_a_signature_that_recovers_to_the_wallet() -> None:
    request = start_request()
    auth = signing.sign_request(ALICE_KEY, DOMAIN, "StartGrid", request, timestamp_ms=1764000000000)
    assert request.user_auth == auth
    assert (auth.user_id, auth.timestamp) == (ALICE, 1764000000000)
    assert len(auth.nonce) == 32
    text = signing.build_auth_message(
        DOMAIN, "StartGrid", ALICE, signing.canonical_params_digest(request), auth.timestamp, auth.nonce
    )
    assert Account.recover_message(encode_defunct(text=text), signature=auth.signature) == ALICE
    assert server_verifier.recover_signer(text, auth.signature) == ALICE.lower()


def test_fresh_nonces_differ_and_fit_the_server_rule() -> None:
    nonces = {signing.new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(server_verifier._NONCE.fullmatch(n) for n in nonces)


def test_auth_metadata_carries_the_same_block() -> None:
    auth = auth_pb2.UserAuth(user_id=ALICE, signature="0x" + "00" * 65, timestamp=5, nonce="abcdefgh")
    assert dict(signing.auth_metadata(auth)) == {
        "x-user-id": ALICE,
        "x-user-signature": "0x" + "00" * 65,
        "x-user-timestamp": "5",
        "x-user-nonce": "abcdefgh",
    }


def test_the_readme_test_vector_is_reproduced() -> None:
    """The vector the README publishes, so SDKs in other languages can check themselves against it."""
    request = pb.GetGridRequest(session_id="0x5d5c99edf529335160ff180fa141dd4967fc00d2_PERP_BTC_USDC")
    auth = signing.sign_request(
        ALICE_KEY, "orderly-grid", "GetGrid", request, timestamp_ms=1764000000000, nonce="0123456789abcdef"
    )
    assert signing.canonical_params_digest(request) == (
        "0c4e80230225dfbe6da16e4cc7b5d75a8cc85d1e22273deded6c36f8c203e265"
    )
    assert auth.user_id == "0x5d5c99EdF529335160FF180fA141Dd4967fc00D2"
    assert auth.signature == (
        "0x36585e0a07f77771e13ac3ff4f2bad3f77d8c90f11a114f8adf433ff44c8493f"
        "355c9bc61c543b6b0de7661255fd94cf4b7450c4aa54da842c86cf943a3b4f471b"
    )
