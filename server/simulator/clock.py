"""Wall clock or virtual clock (moves only when told to) for fast, deterministic runs."""

from __future__ import annotations

import time


class Clock:
    def __init__(self, virtual: bool, start_ms: int | None) -> None:
        self.virtual = virtual
        self._virtual_ms = start_ms if start_ms is not None else wall_ms()

    def now_ms(self) -> int:
        return self._virtual_ms if self.virtual else time.time_ns() // 1_000_000

    def accepts(self, timestamp_ms: int, window_ms: int) -> bool:
        """Whether a signed timestamp is within the window of wall time (or of the virtual time)."""
        distance = abs(wall_ms() - timestamp_ms)
        if self.virtual:
            distance = min(distance, abs(self._virtual_ms - timestamp_ms))
        return distance <= window_ms

    def advance(self, ms: int) -> int:
        if not self.virtual:
            raise ValueError("the clock is not virtual; start the simulator with virtual_clock=True")
        if ms < 0:
            raise ValueError(f"ms must be >= 0, got {ms}")
        self._virtual_ms += ms
        return self._virtual_ms


def wall_ms() -> int:
    """Real time in ms."""
    return time.time_ns() // 1_000_000
