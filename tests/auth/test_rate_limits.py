"""Per-peer and per-user limits on the mutating RPCs, counted in a real store."""

from pathlib import Path

import grpc
import pytest

from server.api.errors import DomainError, ErrorReason
from server.api.status import rest_error_envelope, to_status
from server.auth import RateLimit, RateLimiter, RateLimitPolicy, client_address
from server.store import SqliteStore
from tests.auth.conftest import Clock

MINUTE_MS = 60_000
POLICY = RateLimitPolicy(per_user={"StartGrid": RateLimit(2)}, per_peer={"StartGrid": RateLimit(3)})


async def exceeded(call: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_a_user_past_the_limit_gets_resource_exhausted_with_a_retry_hint(
    store: SqliteStore, clock: Clock
) -> None:
    clock.now_ms = clock.now_ms - clock.now_ms % MINUTE_MS + 15_000  # 15 s into a window
    limiter = RateLimiter(store, clock_ms=clock, policy=POLICY)
    await limiter.check_user("StartGrid", "0xAbC")
    await limiter.check_user("StartGrid", "0xabc")  # the same user, spelled otherwise
    error = await exceeded(limiter.check_user("StartGrid", "0xabc"))
    assert (error.reason, error.code) == (ErrorReason.RATE_LIMIT_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert error.retry_after_ms == 45_000
    assert "retry in 45 s" in error.message
    http_status, body = rest_error_envelope(to_status(error))
    assert (http_status, body["error_code"], body["details"]["retry_after_ms"]) == (
        429,
        "RATE_LIMIT_EXCEEDED",
        45_000,
    )
    await limiter.check_user("StartGrid", "0xdef")  # another user has their own budget
    clock.now_ms += 45_000
    await limiter.check_user("StartGrid", "0xabc")  # a new window


async def test_peers_are_limited_separately_from_users(store: SqliteStore, clock: Clock) -> None:
    limiter = RateLimiter(store, clock_ms=clock, policy=POLICY)
    for _ in range(3):
        await limiter.check_peer("StartGrid", "10.0.0.1")
    assert (
        await exceeded(limiter.check_peer("StartGrid", "10.0.0.1"))
    ).reason == ErrorReason.RATE_LIMIT_EXCEEDED
    await limiter.check_peer("StartGrid", "10.0.0.2")
    await limiter.check_user("StartGrid", "0xabc")


async def test_actions_without_a_limit_are_not_counted(store: SqliteStore, clock: Clock) -> None:
    limiter = RateLimiter(store, clock_ms=clock, policy=POLICY)
    for _ in range(10):
        await limiter.check_user("GetGrid", "0xabc")
        await limiter.check_peer("GetGrid", "10.0.0.1")


async def test_the_default_policy_limits_the_mutating_rpcs() -> None:
    policy = RateLimitPolicy()
    assert set(policy.per_user) == set(policy.per_peer) == {"StartGrid", "StopGrid", "RegisterAccount"}
    assert policy.per_user["StartGrid"] == RateLimit(10, MINUTE_MS)
    assert policy.per_peer["StopGrid"] == RateLimit(60, MINUTE_MS)


async def test_limits_hold_across_two_stores_and_a_restart(store_path: Path, clock: Clock) -> None:
    first, second = await SqliteStore.open(store_path), await SqliteStore.open(store_path)
    try:
        await RateLimiter(first, clock_ms=clock, policy=POLICY).check_user("StartGrid", "0xabc")
        await RateLimiter(second, clock_ms=clock, policy=POLICY).check_user("StartGrid", "0xabc")
    finally:
        await first.close()
        await second.close()
    reopened = await SqliteStore.open(store_path)
    try:
        limiter = RateLimiter(reopened, clock_ms=clock, policy=POLICY)
        assert (
            await exceeded(limiter.check_user("StartGrid", "0xabc"))
        ).reason == ErrorReason.RATE_LIMIT_EXCEEDED
    finally:
        await reopened.close()


@pytest.mark.parametrize(
    ("peer", "metadata", "expected"),
    [
        ("ipv4:203.0.113.9:50312", [], "203.0.113.9"),
        ("ipv6:[2001:db8::1]:50312", [], "2001:db8::1"),
        # The REST shim on loopback: the address it saw connect is the last x-forwarded-for entry.
        ("ipv4:127.0.0.1:40000", [("x-forwarded-for", "1.2.3.4, 198.51.100.7")], "198.51.100.7"),
        ("ipv6:[::1]:40000", [("x-forwarded-for", "198.51.100.7")], "198.51.100.7"),
        # A smuggled entry (REST: a Grpc-Metadata-X-Forwarded-For header) comes before the shim's own.
        (
            "ipv4:127.0.0.1:40000",
            [("x-forwarded-for", "10.9.9.9"), ("x-forwarded-for", "10.9.9.9, 198.51.100.7")],
            "198.51.100.7",
        ),
        # Anyone else's x-forwarded-for is not believed.
        ("ipv4:203.0.113.9:1", [("x-forwarded-for", "198.51.100.7")], "203.0.113.9"),
        ("ipv4:127.0.0.1:40000", [("x-forwarded-for", "not-an-address")], "127.0.0.1"),
        ("unix:/tmp/grid.sock", [], "unix:/tmp/grid.sock"),
    ],
)
def test_the_client_address_counted_is_the_peer_or_what_the_trusted_shim_saw(
    peer: str, metadata: list[tuple[str, str]], expected: str
) -> None:
    assert client_address(peer, metadata) == expected
