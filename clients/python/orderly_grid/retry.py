"""When the SDK retries, and how long it waits between attempts.

Only idempotent reads are retried (GetGrid, ListGrids, ListGridSummaries, GetGridHistory,
PreviewGrid), and only on UNAVAILABLE and DEADLINE_EXCEEDED: the server may not have seen the call,
or its answer was lost,
and asking again changes nothing. StartGrid, StopGrid and RegisterAccount are never retried: a
timeout does not prove the server did nothing, and a second attempt (which needs a fresh nonce
anyway) could act twice. After such a failure, read the state (GetGrid) and decide.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import grpc

RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits a random time up to
    min(max_s, initial_s * multiplier**n); a server's RetryInfo delay, when longer, wins."""

    initial_s: float = 0.1
    max_s: float = 3.0
    multiplier: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        ceiling = min(self.max_s, self.initial_s * self.multiplier ** max(0, attempt))
        delay = ceiling * (0.5 + 0.5 * self.rng.random())
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return delay
