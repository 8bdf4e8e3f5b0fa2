"""Whatever auth block arrives (in the message or the metadata), the verifier answers with a
DomainError of a client-error code, never an internal error or an unexpected exception."""

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orderly_grid import signing
from orderly_grid.v1 import auth_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.errors import DomainError, ErrorReason
from server.auth import AuthenticatedUser, AuthVerifier
from server.store import SqliteStore
from tests.auth.conftest import ALICE, ALICE_KEY, BOB_KEY, DOMAIN, T0_MS, Clock

CLIENT_CODES = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT}
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
hex_chars = st.text("0123456789abcdefABCDEF", min_size=0, max_size=140)

user_ids = st.one_of(text, st.just(ALICE), st.just(ALICE.lower()), hex_chars.map(lambda h: "0x" + h))
signatures = st.one_of(
    text,
    hex_chars.map(lambda h: "0x" + h),
    st.binary(min_size=65, max_size=65).map(lambda b: "0x" + b.hex()),
    st.sampled_from(
        [
            signing.sign_text(ALICE_KEY, "something else"),
            signing.sign_text(BOB_KEY, "something else"),
            # v = 0, 1, 29, 255 and r = s = 0: shapes eth-keys refuses outright
            "0x" + "11" * 64 + "00",
            "0x" + "11" * 64 + "01",
            "0x" + "11" * 64 + "1d",
            "0x" + "11" * 64 + "ff",
            "0x" + "00" * 65,
        ]
    ),
)
timestamps = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=T0_MS - 400_000, max_value=T0_MS + 400_000),
)
nonces = st.one_of(text, st.from_regex(r"[A-Za-z0-9_-]{8,64}", fullmatch=True))
metadata_values = st.one_of(text, st.binary(max_size=40), st.integers().map(str))


def outcome_of(
    loop: asyncio.AbstractEventLoop, call: Coroutine[Any, Any, AuthenticatedUser]
) -> AuthenticatedUser | DomainError:
    """The call's result or its DomainError; any other exception fails the test as it is."""
    try:
        return loop.run_until_complete(call)
    except DomainError as error:
        return error


def run_example(
    loop: asyncio.AbstractEventLoop,
    verifier: AuthVerifier,
    action: str,
    request: Message,
    metadata: list[tuple[str, str | bytes]] | None,
) -> None:
    outcome = outcome_of(loop, verifier.verify(action, request, metadata))
    # Only a genuine signature of this very request could be accepted; none is generated.
    assert isinstance(outcome, DomainError), f"an arbitrary auth block was accepted: {request}"
    assert outcome.code in CLIENT_CODES, outcome
    assert outcome.http_status in (400, 401)


def test_arbitrary_auth_blocks_never_produce_internal_errors(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    store = loop.run_until_complete(SqliteStore.open(tmp_path / "fuzz.sqlite3"))
    verifier = AuthVerifier(store, clock_ms=Clock(), domain=DOMAIN, legacy_enabled=True)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        action=st.sampled_from([*signing.ACTIONS, "", "Bogus"]),
        user_id=user_ids,
        signature=signatures,
        timestamp=timestamps,
        nonce=nonces,
    )
    def in_the_message(action: str, user_id: str, signature: str, timestamp: int, nonce: str) -> None:
        request = pb.StopGridRequest(session_id="s1")
        request.user_auth.CopyFrom(
            auth_pb2.UserAuth(user_id=user_id, signature=signature, timestamp=timestamp, nonce=nonce)
        )
        run_example(loop, verifier, action, request, None)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        metadata=st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "x-user-id",
                        "x-user-signature",
                        "x-user-timestamp",
                        "x-user-nonce",
                        "authorization",
                        "X-User-Id",
                    ]
                ),
                metadata_values,
            ),
            max_size=6,
        ),
        allow_operator=st.booleans(),
    )
    def in_the_metadata(metadata: list[tuple[str, str | bytes]], allow_operator: bool) -> None:
        request = pb.ListGridsRequest()
        outcome = outcome_of(
            loop, verifier.verify("ListGrids", request, metadata, allow_operator=allow_operator)
        )
        assert isinstance(outcome, DomainError), f"arbitrary metadata was accepted: {metadata}"
        assert outcome.code in CLIENT_CODES, outcome

    try:
        in_the_message()
        in_the_metadata()
    finally:
        loop.run_until_complete(store.close())
        loop.close()


decimal_texts = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False).map(str)
FIELD_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "ticker": st.sampled_from(["BTCUSDT", "ETHUSDT", "PERP_BTC_USDC"]),
    "current_price": decimal_texts,
    "upper_bound": decimal_texts,
    "lower_bound": decimal_texts,
    "grid_levels": st.integers(min_value=0, max_value=500),
    "total_margin": decimal_texts,
    "leverage": st.integers(min_value=0, max_value=50),
    "close_position_on_stop": st.booleans(),
}
start_fields = st.fixed_dictionaries(FIELD_STRATEGIES)


def test_a_signed_request_verifies_and_any_changed_parameter_breaks_the_signature(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    store = loop.run_until_complete(SqliteStore.open(tmp_path / "params.sqlite3"))
    verifier = AuthVerifier(store, clock_ms=Clock(), domain=DOMAIN)

    @settings(max_examples=60, deadline=None)
    @given(fields=start_fields, changed=st.sampled_from(sorted(FIELD_STRATEGIES)), data=st.data())
    def example(fields: dict[str, Any], changed: str, data: st.DataObject) -> None:
        signed_request = pb.StartGridRequest(**fields)
        signing.sign_request(ALICE_KEY, DOMAIN, "StartGrid", signed_request, timestamp_ms=T0_MS)
        tampered = pb.StartGridRequest()
        tampered.CopyFrom(signed_request)
        new_value = data.draw(FIELD_STRATEGIES[changed].filter(lambda v: v != fields[changed]))
        setattr(tampered, changed, new_value)
        outcome = outcome_of(loop, verifier.verify("StartGrid", tampered))
        assert isinstance(outcome, DomainError)
        assert outcome.reason == ErrorReason.INVALID_SIGNATURE
        assert outcome_of(loop, verifier.verify("StartGrid", signed_request)) == AuthenticatedUser(
            ALICE.lower(), "signature"
        )

    try:
        example()
    finally:
        loop.run_until_complete(store.close())
        loop.close()
