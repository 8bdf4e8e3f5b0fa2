"""Per-peer and per-user limits on the mutating RPCs, counted in a real store."""

from pathlib import Path

import grpc
import pytest

from server.api.errors import DomainError, ErrorReason
from server.api.forwarding import parse_trusted_proxies
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


async def test_the_default_policy_limits_the_mutating_rpcs_previews_and_failed_authentications() -> None:
    policy = RateLimitPolicy()
    key_management = {"CreateSessionKey", "RevokeSessionKey"}
    assert set(policy.per_user) == {"StartGrid", "StopGrid", "RegisterAccount", *key_management}
    assert set(policy.per_peer) == {
        "StartGrid",
        "StopGrid",
        "RegisterAccount",
        "PreviewGrid",
        "BacktestGrid",
        *key_management,
    }
    assert policy.per_user["StartGrid"] == RateLimit(10, MINUTE_MS)
    assert policy.per_peer["StopGrid"] == RateLimit(60, MINUTE_MS)
    assert policy.per_peer["PreviewGrid"] == RateLimit(120, MINUTE_MS)
    assert policy.per_peer["BacktestGrid"] == RateLimit(30, MINUTE_MS)
    assert policy.auth_failures == RateLimit(30, MINUTE_MS)
    assert RateLimitPolicy.per_minute() == policy
    custom = RateLimitPolicy.per_minute(peer=5, user=2, preview=7, auth_failures=3, backtest=4)
    assert (custom.per_peer["RegisterAccount"], custom.per_user["StopGrid"]) == (RateLimit(5), RateLimit(2))
    assert (custom.per_peer["PreviewGrid"], custom.auth_failures) == (RateLimit(7), RateLimit(3))
    assert custom.per_peer["BacktestGrid"] == RateLimit(4)


async def test_an_address_past_its_failed_authentications_is_refused_until_the_window_ends(
    store: SqliteStore, clock: Clock
) -> None:
    clock.now_ms = clock.now_ms - clock.now_ms % MINUTE_MS + 20_000  # 20 s into a window
    limiter = RateLimiter(store, clock_ms=clock, policy=RateLimitPolicy(auth_failures=RateLimit(2)))
    limiter.check_auth_failures("GetGrid", "10.0.0.1")
    for _ in range(2):  # within the limit: the caller reports the failure itself
        await limiter.count_auth_failure("GetGrid", "10.0.0.1")
    error = await exceeded(limiter.count_auth_failure("GetGrid", "10.0.0.1"))
    assert (error.reason, error.retry_after_ms) == (ErrorReason.RATE_LIMIT_EXCEEDED, 40_000)
    assert "more than 2 failed authentications per 60 s from this client address" in error.message
    # Refused from now on, before anything else is looked at (no store call: a plain function) ...
    with pytest.raises(DomainError) as caught:
        limiter.check_auth_failures("ListGrids", "10.0.0.1")
    assert (caught.value.reason, caught.value.retry_after_ms) == (ErrorReason.RATE_LIMIT_EXCEEDED, 40_000)
    limiter.check_auth_failures("GetGrid", "10.0.0.2")  # ... that address only
    clock.now_ms += 40_000  # ... until its window ends
    limiter.check_auth_failures("GetGrid", "10.0.0.1")
    await limiter.count_auth_failure("GetGrid", "10.0.0.1")


async def test_failed_authentications_are_counted_in_the_store_across_instances(
    store_path: Path, clock: Clock
) -> None:
    policy = RateLimitPolicy(auth_failures=RateLimit(2))
    first, second = await SqliteStore.open(store_path), await SqliteStore.open(store_path)
    try:
        await RateLimiter(first, clock_ms=clock, policy=policy).count_auth_failure("GetGrid", "10.0.0.1")
        other = RateLimiter(second, clock_ms=clock, policy=policy)
        await other.count_auth_failure("GetGrid", "10.0.0.1")
        assert (await exceeded(other.count_auth_failure("GetGrid", "10.0.0.1"))).reason == (
            ErrorReason.RATE_LIMIT_EXCEEDED
        )
    finally:
        await first.close()
        await second.close()


async def test_no_failure_limit_counts_nothing(store: SqliteStore, clock: Clock) -> None:
    limiter = RateLimiter(store, clock_ms=clock, policy=RateLimitPolicy(auth_failures=None))
    for _ in range(100):
        await limiter.count_auth_failure("GetGrid", "10.0.0.1")
    limiter.check_auth_failures("GetGrid", "10.0.0.1")


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


SHIM_TOKEN = "per-process-secret"
FROM_SHIM = ("x-orderly-grid-proxy", SHIM_TOKEN)


@pytest.mark.parametrize(
    ("peer", "metadata", "expected"),
    [
        ("ipv4:203.0.113.9:50312", [], "203.0.113.9"),
        ("ipv6:[2001:db8::1]:50312", [], "2001:db8::1"),
        ("unix:/tmp/grid.sock", [], "unix:/tmp/grid.sock"),
        # The shim of this process (it proves itself with the secret): the address it saw connect.
        ("ipv4:127.0.0.1:40000", [("x-forwarded-for", "198.51.100.7"), FROM_SHIM], "198.51.100.7"),
        ("ipv6:[::1]:40000", [FROM_SHIM, ("x-forwarded-for", "2001:db8::7")], "2001:db8::7"),
        # A proxy appends to the list: its own entry is the last.
        ("ipv4:127.0.0.1:40000", [("x-forwarded-for", "1.2.3.4, 198.51.100.7"), FROM_SHIM], "198.51.100.7"),
        # A shim that sent no usable address is counted as itself, never as anyone named.
        ("ipv4:127.0.0.1:40000", [("x-forwarded-for", "1.1.1.1\t2"), FROM_SHIM], "127.0.0.1"),
        ("ipv4:127.0.0.1:40000", [("x-forwarded-for", "unknown"), FROM_SHIM], "127.0.0.1"),
        ("ipv4:127.0.0.1:40000", [FROM_SHIM], "127.0.0.1"),
        # Without the secret, no loopback client is believed ...
        ("ipv4:127.0.0.1:40000", [("x-forwarded-for", "198.51.100.7")], "127.0.0.1"),
        ("ipv6:[::1]:40000", [("x-forwarded-for", "198.51.100.7")], "::1"),
        # ... nor one with a wrong secret, or the secret twice (one of them the client's).
        (
            "ipv4:127.0.0.1:1",
            [("x-forwarded-for", "9.9.9.9"), ("x-orderly-grid-proxy", "guess")],
            "127.0.0.1",
        ),
        ("ipv4:127.0.0.1:1", [("x-forwarded-for", "9.9.9.9"), FROM_SHIM, FROM_SHIM], "127.0.0.1"),
        ("ipv4:203.0.113.9:1", [("x-forwarded-for", "198.51.100.7")], "203.0.113.9"),
        # A listed proxy (GRID_TRUSTED_PROXIES: an address or a network).
        ("ipv4:10.0.0.5:1", [("x-forwarded-for", "198.51.100.7")], "198.51.100.7"),
        ("ipv4:192.168.7.9:1", [("x-forwarded-for", "198.51.100.7")], "198.51.100.7"),
        ("ipv6:[::ffff:10.0.0.5]:1", [("x-forwarded-for", "198.51.100.7")], "198.51.100.7"),
        ("ipv4:10.0.0.6:1", [("x-forwarded-for", "198.51.100.7")], "10.0.0.6"),
    ],
)
def test_the_client_address_counted_is_the_peer_or_what_a_trusted_proxy_saw(
    peer: str, metadata: list[tuple[str, str]], expected: str
) -> None:
    trusted = ("10.0.0.5/32", "192.168.7.0/24")
    assert client_address(peer, metadata, trusted, SHIM_TOKEN) == expected


def test_by_default_no_proxy_is_trusted() -> None:
    assert client_address("ipv4:127.0.0.1:1", [("x-forwarded-for", "198.51.100.7")]) == "127.0.0.1"
    assert client_address("ipv4:127.0.0.1:1", [("x-forwarded-for", "198.51.100.7"), FROM_SHIM]) == "127.0.0.1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("127.0.0.1", ("127.0.0.1/32",)),
        (" 10.0.0.0/8, ::1 ,", ("10.0.0.0/8", "::1/128")),
        ("192.168.7.9/24", ("192.168.7.0/24",)),
    ],
)
def test_trusted_proxies_are_addresses_or_networks(text: str, expected: tuple[str, ...]) -> None:
    assert parse_trusted_proxies(text) == expected


@pytest.mark.parametrize("text", ["localhost", "10.0.0.0/33", "1.2.3.4.5", "*"])
def test_a_trusted_proxy_that_is_no_address_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("*", "[*]")):
        parse_trusted_proxies(f"127.0.0.1,{text}")
