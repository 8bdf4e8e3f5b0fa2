"""AuthVerifier against real eth-account signatures and a real SQLite store."""

import io
import json
import sqlite3
from pathlib import Path

import grpc
import pytest
from google.protobuf.message import Message
from orderly_grid import eth, signing
from orderly_grid.v1 import auth_pb2
from orderly_grid.v1 import grid_service_pb2 as pb

from server.api.errors import DomainError, ErrorReason
from server.auth import AuthenticatedUser, AuthVerifier
from server.store import SqliteStore
from tests.auth.conftest import ALICE, ALICE_KEY, BOB_KEY, DOMAIN, T0_MS, Clock, start_request

WINDOW_MS = 300_000


def signed(
    request: Message,
    action: str,
    *,
    key: str = ALICE_KEY,
    timestamp_ms: int = T0_MS,
    nonce: str | None = None,
    domain: str = DOMAIN,
) -> Message:
    signing.sign_request(key, domain, action, request, timestamp_ms=timestamp_ms, nonce=nonce)
    return request


async def rejected(verifier: AuthVerifier, action: str, request: Message, **kwargs: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await verifier.verify(action, request, **kwargs)  # type: ignore[arg-type]
    return caught.value


async def test_a_valid_signature_authenticates_the_lower_case_wallet(verifier: AuthVerifier) -> None:
    user = await verifier.verify("StartGrid", signed(start_request(), "StartGrid"))
    assert user == AuthenticatedUser(ALICE.lower(), "signature")


async def test_a_lower_case_user_id_verifies_when_the_wallet_signed_that_spelling(
    verifier: AuthVerifier,
) -> None:
    request = pb.GetGridRequest(session_id="s1")
    nonce = signing.new_nonce()
    digest = signing.canonical_params_digest(request)
    text = signing.build_auth_message(DOMAIN, "GetGrid", ALICE.lower(), digest, T0_MS, nonce)
    request.user_auth.CopyFrom(
        auth_pb2.UserAuth(
            user_id=ALICE.lower(), signature=signing.sign_text(ALICE_KEY, text), timestamp=T0_MS, nonce=nonce
        )
    )
    assert (await verifier.verify("GetGrid", request)).user_id == ALICE.lower()


async def test_a_forged_signature_is_rejected(verifier: AuthVerifier) -> None:
    request = signed(start_request(), "StartGrid")
    sig = request.user_auth.signature  # type: ignore[attr-defined]
    request.user_auth.signature = sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]  # type: ignore[attr-defined]
    error = await rejected(verifier, "StartGrid", request)
    assert error.reason == ErrorReason.INVALID_SIGNATURE
    assert error.code == grpc.StatusCode.UNAUTHENTICATED
    assert error.field_violations[0].field == "user_auth.signature"


async def test_garbage_of_the_right_shape_is_an_invalid_signature_not_an_internal_error(
    verifier: AuthVerifier,
) -> None:
    request = signed(start_request(), "StartGrid")
    # r beyond the curve order, a low s and v = 27: the accepted form, but no signature at all.
    request.user_auth.signature = "0x" + "ff" * 32 + "7f" * 32 + "1b"  # type: ignore[attr-defined]
    assert (await rejected(verifier, "StartGrid", request)).reason == ErrorReason.INVALID_SIGNATURE
    # All ones is not even the accepted form (v = 255, high s): refused before recovery.
    request.user_auth.signature = "0x" + "ff" * 65  # type: ignore[attr-defined]
    error = await rejected(verifier, "StartGrid", request)
    assert (error.reason, error.field_violations[0].field) == (
        ErrorReason.UNAUTHENTICATED,
        "user_auth.signature",
    )


async def test_a_signature_by_another_wallet_is_rejected_without_revealing_the_signer(
    verifier: AuthVerifier,
) -> None:
    request = signed(start_request(), "StartGrid", key=BOB_KEY)
    request.user_auth.user_id = ALICE  # type: ignore[attr-defined]  # Bob claims to be Alice
    error = await rejected(verifier, "StartGrid", request)
    assert error.reason == ErrorReason.INVALID_SIGNATURE
    bob = eth.address_of(BOB_KEY)
    assert bob.lower() not in str(error).lower()


async def test_a_signature_for_another_action_is_rejected(verifier: AuthVerifier) -> None:
    request = signed(pb.GetGridRequest(session_id="s1"), "GetGrid")
    stop = pb.StopGridRequest(session_id="s1")
    stop.user_auth.CopyFrom(request.user_auth)  # type: ignore[attr-defined]
    assert (await rejected(verifier, "StopGrid", stop)).reason == ErrorReason.INVALID_SIGNATURE


async def test_a_signature_for_other_parameters_is_rejected(verifier: AuthVerifier) -> None:
    request = signed(start_request(), "StartGrid")
    request.total_margin = "100000"  # type: ignore[attr-defined]
    assert (await rejected(verifier, "StartGrid", request)).reason == ErrorReason.INVALID_SIGNATURE


async def test_a_signature_for_another_domain_is_rejected(verifier: AuthVerifier) -> None:
    request = signed(start_request(), "StartGrid", domain="other-service.example")
    assert (await rejected(verifier, "StartGrid", request)).reason == ErrorReason.INVALID_SIGNATURE


async def test_a_replayed_nonce_is_rejected(verifier: AuthVerifier) -> None:
    request = signed(pb.StopGridRequest(session_id="s1"), "StopGrid")
    await verifier.verify("StopGrid", request)
    error = await rejected(verifier, "StopGrid", request)
    assert (error.reason, error.code) == (ErrorReason.NONCE_REPLAYED, grpc.StatusCode.UNAUTHENTICATED)


async def test_a_replayed_nonce_is_rejected_after_a_restart(store_path: Path, clock: Clock) -> None:
    request = signed(pb.StopGridRequest(session_id="s1"), "StopGrid")
    first = await SqliteStore.open(store_path)
    try:
        await AuthVerifier(first, clock_ms=clock, domain=DOMAIN).verify("StopGrid", request)
    finally:
        await first.close()
    clock.now_ms += 60_000
    reopened = await SqliteStore.open(store_path)
    try:
        error = await rejected(AuthVerifier(reopened, clock_ms=clock, domain=DOMAIN), "StopGrid", request)
    finally:
        await reopened.close()
    assert error.reason == ErrorReason.NONCE_REPLAYED


async def test_a_failed_signature_does_not_burn_the_nonce(verifier: AuthVerifier) -> None:
    forged = signed(pb.StopGridRequest(session_id="s1"), "StopGrid", key=BOB_KEY, nonce="shared-nonce-1")
    forged.user_auth.user_id = ALICE  # type: ignore[attr-defined]
    assert (await rejected(verifier, "StopGrid", forged)).reason == ErrorReason.INVALID_SIGNATURE
    genuine = signed(pb.StopGridRequest(session_id="s1"), "StopGrid", nonce="shared-nonce-1")
    assert (await verifier.verify("StopGrid", genuine)).user_id == ALICE.lower()


@pytest.mark.parametrize("offset_ms", [-301_000, 301_000, -WINDOW_MS - 1, WINDOW_MS + 1])
async def test_stale_and_future_timestamps_are_rejected(
    verifier: AuthVerifier, clock: Clock, offset_ms: int
) -> None:
    request = signed(pb.GetGridRequest(session_id="s1"), "GetGrid", timestamp_ms=T0_MS + offset_ms)
    error = await rejected(verifier, "GetGrid", request)
    assert (error.reason, error.code) == (ErrorReason.SIGNATURE_EXPIRED, grpc.StatusCode.UNAUTHENTICATED)
    assert error.field_violations[0].field == "user_auth.timestamp"


@pytest.mark.parametrize("offset_ms", [-299_000, 299_000, -WINDOW_MS, WINDOW_MS])
async def test_timestamps_inside_the_window_are_accepted(verifier: AuthVerifier, offset_ms: int) -> None:
    request = signed(pb.GetGridRequest(session_id="s1"), "GetGrid", timestamp_ms=T0_MS + offset_ms)
    assert (await verifier.verify("GetGrid", request)).user_id == ALICE.lower()


async def test_a_nonce_stays_consumed_for_as_long_as_its_timestamp_is_acceptable(
    verifier: AuthVerifier, clock: Clock
) -> None:
    request = signed(pb.GetGridRequest(session_id="s1"), "GetGrid", timestamp_ms=T0_MS)
    await verifier.verify("GetGrid", request)
    clock.now_ms = T0_MS + WINDOW_MS  # the last instant this timestamp is still inside the window
    assert (await rejected(verifier, "GetGrid", request)).reason == ErrorReason.NONCE_REPLAYED
    clock.now_ms += 1
    assert (await rejected(verifier, "GetGrid", request)).reason == ErrorReason.SIGNATURE_EXPIRED


def legacy_request(key: str = ALICE_KEY, nonce: str = "legacy-nonce-1") -> pb.StopGridRequest:
    request = pb.StopGridRequest(session_id="s1")
    signature = signing.sign_text(key, signing.build_legacy_message(T0_MS, nonce))
    address = eth.address_of(key)
    request.user_auth.CopyFrom(
        auth_pb2.UserAuth(user_id=address, signature=signature, timestamp=T0_MS, nonce=nonce)
    )
    return request


async def test_the_legacy_message_is_refused_by_default(verifier: AuthVerifier) -> None:
    assert (await rejected(verifier, "StopGrid", legacy_request())).reason == ErrorReason.INVALID_SIGNATURE


async def test_the_legacy_message_is_accepted_when_enabled_and_logs_a_warning_without_the_signature(
    store: SqliteStore, clock: Clock, log_output: io.StringIO
) -> None:
    verifier = AuthVerifier(store, clock_ms=clock, domain=DOMAIN, legacy_enabled=True)
    request = legacy_request()
    user = await verifier.verify("StopGrid", request)
    assert user == AuthenticatedUser(ALICE.lower(), "legacy")
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    warnings = [line for line in lines if line["event"] == "legacy_auth_message_accepted"]
    assert len(warnings) == 1
    assert (warnings[0]["level"], warnings[0]["action"], warnings[0]["user_id"]) == (
        "warning",
        "StopGrid",
        ALICE.lower(),
    )
    assert request.user_auth.signature[2:] not in log_output.getvalue()
    assert (await rejected(verifier, "StopGrid", request)).reason == ErrorReason.NONCE_REPLAYED


async def test_the_auth_block_is_accepted_from_grpc_metadata(verifier: AuthVerifier) -> None:
    request = pb.GetGridRequest(session_id="s1")
    auth = signing.sign_request(ALICE_KEY, DOMAIN, "GetGrid", request, timestamp_ms=T0_MS)
    request.ClearField("user_auth")
    user = await verifier.verify("GetGrid", request, signing.auth_metadata(auth))
    assert user.user_id == ALICE.lower()


async def test_without_any_auth_block_the_call_is_unauthenticated(verifier: AuthVerifier) -> None:
    error = await rejected(verifier, "GetGrid", pb.GetGridRequest(session_id="s1"))
    assert (error.reason, error.code) == (ErrorReason.UNAUTHENTICATED, grpc.StatusCode.UNAUTHENTICATED)
    assert "user_auth" in error.message


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("user_id", "", "is required"),
        ("user_id", "0x1234", "EVM address"),
        ("signature", "", "is required"),
        ("signature", "0xabc", "130 hex"),
        ("timestamp", 0, "positive integer"),
        ("timestamp", -5, "positive integer"),
        ("nonce", "", "is required"),
        ("nonce", "short", "8 to 64"),
        ("nonce", "has spaces in it", "8 to 64"),
        ("nonce", "n" * 65, "8 to 64"),
    ],
)
async def test_a_malformed_auth_field_is_named(
    verifier: AuthVerifier, field: str, value: object, rule: str
) -> None:
    request = signed(pb.GetGridRequest(session_id="s1"), "GetGrid")
    setattr(request.user_auth, field, value)  # type: ignore[attr-defined]
    error = await rejected(verifier, "GetGrid", request)
    assert error.reason == ErrorReason.UNAUTHENTICATED
    assert error.field_violations[0].field == f"user_auth.{field}"
    assert rule in error.field_violations[0].description


async def test_a_metadata_timestamp_that_is_not_ascii_digits_is_named(verifier: AuthVerifier) -> None:
    request = pb.GetGridRequest(session_id="s1")
    auth = signing.sign_request(ALICE_KEY, DOMAIN, "GetGrid", request, timestamp_ms=T0_MS)
    request.ClearField("user_auth")
    metadata = [(k, "١٧٦٤" if k == "x-user-timestamp" else v) for k, v in signing.auth_metadata(auth)]
    error = await rejected(verifier, "GetGrid", request, metadata=metadata)
    assert error.field_violations[0].field == "user_auth.timestamp"


async def test_the_operator_token_lists_everything_only_where_allowed(
    store: SqliteStore, clock: Clock
) -> None:
    verifier = AuthVerifier(store, clock_ms=clock, domain=DOMAIN, operator_token="s3cret-operator-token")
    bearer = [("authorization", "Bearer s3cret-operator-token")]
    user = await verifier.verify("ListGrids", pb.ListGridsRequest(), bearer, allow_operator=True)
    assert user == AuthenticatedUser("", "operator")
    assert user.is_operator
    # The token is no signature: where the operator is not allowed it is ignored.
    error = await rejected(verifier, "StopGrid", pb.StopGridRequest(session_id="s1"), metadata=bearer)
    assert error.reason == ErrorReason.UNAUTHENTICATED
    wrong = [("authorization", "Bearer s3cret-operator-tokeN")]
    error = await rejected(verifier, "ListGrids", pb.ListGridsRequest(), metadata=wrong, allow_operator=True)
    assert error.reason == ErrorReason.UNAUTHENTICATED
    assert "s3cret" not in error.message


async def test_no_operator_token_is_accepted_when_none_is_configured(verifier: AuthVerifier) -> None:
    bearer = [("authorization", "Bearer ")]
    error = await rejected(verifier, "ListGrids", pb.ListGridsRequest(), metadata=bearer, allow_operator=True)
    assert error.reason == ErrorReason.UNAUTHENTICATED


async def test_a_signing_user_may_still_list_where_the_operator_is_allowed(verifier: AuthVerifier) -> None:
    request = signed(pb.ListGridsRequest(), "ListGrids")
    user = await verifier.verify("ListGrids", request, allow_operator=True)
    assert user == AuthenticatedUser(ALICE.lower(), "signature")


async def test_a_locked_store_is_store_unavailable_and_not_an_internal_error(
    store_path: Path, clock: Clock
) -> None:
    impatient = await SqliteStore.open(store_path, busy_timeout_ms=50)
    holder = sqlite3.connect(store_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        verifier = AuthVerifier(impatient, clock_ms=clock, domain=DOMAIN)
        error = await rejected(verifier, "GetGrid", signed(pb.GetGridRequest(session_id="s1"), "GetGrid"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await impatient.close()
    assert (error.reason, error.code) == (ErrorReason.STORE_UNAVAILABLE, grpc.StatusCode.UNAVAILABLE)
