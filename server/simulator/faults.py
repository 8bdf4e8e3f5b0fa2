"""Fault injection drawn from a seeded generator, replaceable at run time through /sim/faults."""

from __future__ import annotations

import random

from server.simulator.config import FaultConfig


class FaultInjector:
    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self._rng = random.Random(f"orderly-sim-faults:{seed}")

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def http_429(self) -> bool:
        return self._roll(self.config.http_429_rate)

    def http_5xx(self) -> bool:
        return self._roll(self.config.http_5xx_rate)

    def lose_push(self) -> bool:
        return self._roll(self.config.lost_push_rate)
