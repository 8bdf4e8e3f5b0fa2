"""Client-side rate limiter: keeps every request group under Orderly's per-key limits.

Each group is a sliding window log ("at most N in any window of W ms", plus a safety margin for
network jitter). That is stricter than a token bucket of capacity N refilling N per W, and than a
fixed window, so whichever of these the venue uses, a burst of placements never draws a 429.
A request that spends several groups (a batch: one batch request plus one create per order) waits
until all of them have room and then records in all at once; asyncio makes check-and-record atomic.
The clock and the sleep are injected so tests run without real time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

from server.exchange.clock import monotonic_ms
from server.exchange.constants import RATE_LIMITS, RateLimit


async def _sleep_ms(ms: int) -> None:
    await asyncio.sleep(ms / 1000)


class _Window:
    __slots__ = ("limit", "sent_ms", "window_ms")

    def __init__(self, rule: RateLimit, margin_ms: int) -> None:
        self.limit = rule.limit
        self.window_ms = rule.window_ms + margin_ms
        self.sent_ms: deque[int] = deque()

    def wait_ms(self, cost: int, now_ms: int) -> int:
        """How long until `cost` more requests fit in the window (0 = now)."""
        if cost > self.limit:
            raise ValueError(f"cost: {cost} exceeds the group limit {self.limit}")
        while self.sent_ms and self.sent_ms[0] <= now_ms - self.window_ms:
            self.sent_ms.popleft()
        overflow = len(self.sent_ms) + cost - self.limit
        if overflow <= 0:
            return 0
        # The overflow-th oldest entry must leave the window first.
        return self.sent_ms[overflow - 1] + self.window_ms - now_ms

    def record(self, cost: int, now_ms: int) -> None:
        self.sent_ms.extend([now_ms] * cost)


class RateLimiter:
    def __init__(
        self,
        limits: Mapping[str, RateLimit] = RATE_LIMITS,
        *,
        margin_ms: int = 50,
        now_ms: Callable[[], int] = monotonic_ms,
        sleep_ms: Callable[[int], Awaitable[None]] = _sleep_ms,
    ) -> None:
        self._windows = {group: _Window(rule, margin_ms) for group, rule in limits.items()}
        self._now_ms = now_ms
        self._sleep_ms = sleep_ms
        self.waited_ms = 0  # total time callers spent waiting: a figure for the benchmark

    def _window(self, group: str) -> _Window:
        try:
            return self._windows[group]
        except KeyError:
            raise ValueError(f"group: unknown rate-limit group {group!r}") from None

    async def acquire(self, costs: Mapping[str, int]) -> None:
        """Wait until every group in `costs` has room, then spend it."""
        windows = [(self._window(group), cost) for group, cost in costs.items() if cost > 0]
        while True:
            now = self._now_ms()
            wait = max((window.wait_ms(cost, now) for window, cost in windows), default=0)
            if wait <= 0:
                for window, cost in windows:
                    window.record(cost, now)
                return
            self.waited_ms += wait
            await self._sleep_ms(wait)
