"""Per-orderly-key token buckets with the documented Orderly limits (section 5 of the wire reference)."""

from __future__ import annotations

import time
from dataclasses import dataclass

# bucket name -> (requests, window_ms)
LIMITS: dict[str, tuple[int, int]] = {
    "create": (10, 1_000),
    "batch_create": (1, 1_000),
    "edit": (10, 1_000),
    "cancel": (10, 1_000),
    "cancel_batch": (10, 1_000),
    "cancel_all": (10, 1_000),
    "orders": (10, 1_000),
    "trades": (10, 1_000),
    "positions": (30, 10_000),
    "holding": (10, 1_000),
    "client_info": (10, 60_000),
}


@dataclass
class TokenBucket:
    capacity: float
    refill_per_ms: float
    tokens: float
    updated: float  # monotonic seconds

    def take(self, count: int, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * 1000 * self.refill_per_ms)
        self.updated = now
        if self.tokens < count:
            return False
        self.tokens -= count
        return True


class RateLimiter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def allow(self, orderly_key: str, bucket: str, count: int = 1) -> bool:
        """Takes `count` tokens from the key's bucket; False (nothing taken) when they are not there."""
        if not self.enabled:
            return True
        now = time.monotonic()
        state = self._buckets.get((orderly_key, bucket))
        if state is None:
            requests, window_ms = LIMITS[bucket]
            state = TokenBucket(requests, requests / window_ms, requests, now)
            self._buckets[(orderly_key, bucket)] = state
        return state.take(count, now)

    def peek(self, orderly_key: str, bucket: str, count: int) -> bool:
        """Whether `count` tokens are available, without taking them."""
        if not self.enabled:
            return True
        state = self._buckets.get((orderly_key, bucket))
        if state is None:
            return LIMITS[bucket][0] >= count
        now = time.monotonic()
        available = min(state.capacity, state.tokens + (now - state.updated) * 1000 * state.refill_per_ms)
        return available >= count
