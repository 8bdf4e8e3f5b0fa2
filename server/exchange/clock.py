"""The adapter's clocks, in ms: wall time (signing timestamps, the venue's clock) and monotonic time
(intervals, cache ages)."""

from __future__ import annotations

import time


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000
