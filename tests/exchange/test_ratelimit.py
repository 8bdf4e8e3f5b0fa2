"""The client-side limiter, on a fake clock: sleeping advances time, nothing really waits."""

from __future__ import annotations

import pytest

from server.exchange import constants as c
from server.exchange.constants import RateLimit
from server.exchange.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000
        self.sleeps: list[int] = []

    def now_ms(self) -> int:
        return self.now

    async def sleep_ms(self, ms: int) -> None:
        self.sleeps.append(ms)
        self.now += ms


def _limiter(clock: FakeClock, margin_ms: int = 0) -> RateLimiter:
    return RateLimiter(margin_ms=margin_ms, now_ms=clock.now_ms, sleep_ms=clock.sleep_ms)


def _max_in_any_window(times: list[int], window_ms: int) -> int:
    return max(sum(1 for t in times if start <= t < start + window_ms) for start in times)


async def test_ten_creates_pass_at_once_and_the_eleventh_waits_a_full_window() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for _ in range(10):
        await limiter.acquire({c.ORDER_CREATE: 1})
    assert clock.sleeps == []
    await limiter.acquire({c.ORDER_CREATE: 1})
    assert clock.sleeps == [1000]


async def test_a_burst_of_100_creates_never_exceeds_10_in_any_second() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    sent: list[int] = []
    for _ in range(100):
        await limiter.acquire({c.ORDER_CREATE: 1})
        sent.append(clock.now)
    assert _max_in_any_window(sent, 1000) == 10
    assert sent[-1] - sent[0] == 9000  # no slower than the limit allows either


async def test_batch_spends_one_batch_request_and_one_create_per_order() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    await limiter.acquire({c.BATCH_CREATE: 1, c.ORDER_CREATE: 10})
    assert clock.sleeps == []
    # The create bucket is now full: a single create must wait for the batch's orders to age out.
    await limiter.acquire({c.ORDER_CREATE: 1})
    assert clock.sleeps == [1000]


async def test_second_batch_within_a_second_waits_even_when_creates_have_room() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    await limiter.acquire({c.BATCH_CREATE: 1, c.ORDER_CREATE: 2})
    clock.now += 400
    await limiter.acquire({c.BATCH_CREATE: 1, c.ORDER_CREATE: 2})
    assert clock.sleeps == [600]


async def test_groups_are_independent() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for _ in range(10):
        await limiter.acquire({c.ORDER_CREATE: 1})
    await limiter.acquire({c.ORDER_CANCEL: 1})
    await limiter.acquire({c.ORDER_READ: 1})
    assert clock.sleeps == []


async def test_margin_widens_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(
        {"g": RateLimit(1, 1000)}, margin_ms=50, now_ms=clock.now_ms, sleep_ms=clock.sleep_ms
    )
    await limiter.acquire({"g": 1})
    await limiter.acquire({"g": 1})
    assert clock.sleeps == [1050]
    assert limiter.waited_ms == 1050


async def test_positions_allow_30_per_10_seconds() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for _ in range(30):
        await limiter.acquire({c.POSITION_READ: 1})
    assert clock.sleeps == []
    await limiter.acquire({c.POSITION_READ: 1})
    assert clock.sleeps == [10_000]


async def test_unknown_group_and_oversized_cost_are_refused() -> None:
    limiter = _limiter(FakeClock())
    with pytest.raises(ValueError, match="group"):
        await limiter.acquire({"nope": 1})
    with pytest.raises(ValueError, match="cost"):
        await limiter.acquire({c.ORDER_CREATE: 11})
