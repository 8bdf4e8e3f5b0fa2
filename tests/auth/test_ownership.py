"""A user reaches only their own sessions; other users' sessions look as if they did not exist."""

import grpc
import pytest

from server.api.errors import DomainError, ErrorReason
from server.auth import AuthenticatedUser, listing_user_filter, require_session_owner
from tests.store import factories as make

ALICE = AuthenticatedUser("0x" + "aa" * 20, "signature")
BOB = AuthenticatedUser("0x" + "bb" * 20, "signature")
OPERATOR = AuthenticatedUser("", "operator")
ALICE_SESSION = make.session("alice_PERP_BTC_USDC", user_id="0x" + "AA" * 20)


def test_the_owner_gets_the_session_whatever_the_address_case() -> None:
    assert require_session_owner(ALICE, ALICE_SESSION, ALICE_SESSION.session_id) is ALICE_SESSION


@pytest.mark.parametrize("caller", [BOB, OPERATOR])
def test_another_users_session_is_not_found_exactly_like_a_missing_one(caller: AuthenticatedUser) -> None:
    with pytest.raises(DomainError) as other:
        require_session_owner(caller, ALICE_SESSION, "alice_PERP_BTC_USDC")
    with pytest.raises(DomainError) as missing:
        require_session_owner(caller, None, "alice_PERP_BTC_USDC")
    assert (other.value.reason, other.value.code) == (
        ErrorReason.SESSION_NOT_FOUND,
        grpc.StatusCode.NOT_FOUND,
    )
    assert (other.value.message, other.value.metadata) == (missing.value.message, missing.value.metadata)


def test_a_user_lists_their_own_sessions_only() -> None:
    assert listing_user_filter(ALICE, "") == ALICE.user_id
    assert listing_user_filter(ALICE, ALICE.user_id.upper().replace("0X", "0x")) == ALICE.user_id
    with pytest.raises(DomainError) as caught:
        listing_user_filter(ALICE, BOB.user_id)
    assert (caught.value.reason, caught.value.http_status) == (ErrorReason.PERMISSION_DENIED, 403)
    assert caught.value.field_violations[0].field == "user_id"


def test_the_operator_lists_everyone_or_one_user() -> None:
    assert listing_user_filter(OPERATOR, "") is None
    assert listing_user_filter(OPERATOR, BOB.user_id) == BOB.user_id
