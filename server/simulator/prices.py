"""The price path: a seeded random walk and/or a CSV replay of `timestamp_ms,price[,symbol]` rows."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

from server.simulator.catalog import CATALOG
from server.simulator.config import SimulatorConfig


@dataclass(frozen=True)
class PricePoint:
    offset_ms: int  # from the start of the replay
    symbol: str
    price: Decimal


def load_price_csv(path: str, default_symbol: str) -> list[PricePoint]:
    """Rows `timestamp_ms,price[,symbol]`; a header row is skipped; times are made relative to the first."""
    points: list[tuple[int, str, Decimal]] = []
    with Path(path).open(newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].strip().startswith("#"):
                continue
            try:
                timestamp_ms = int(row[0].strip())
                price = Decimal(row[1].strip())
            except (ValueError, IndexError, InvalidOperation) as exc:
                if line_no == 1:
                    continue  # header
                raise ValueError(f"{path}:{line_no}: expected 'timestamp_ms,price[,symbol]'") from exc
            symbol = row[2].strip() if len(row) > 2 and row[2].strip() else default_symbol
            if symbol not in CATALOG:
                raise ValueError(f"{path}:{line_no}: unknown symbol {symbol}")
            if price <= 0:
                raise ValueError(f"{path}:{line_no}: price must be positive")
            points.append((timestamp_ms, symbol, price))
    if not points:
        raise ValueError(f"{path}: no price rows")
    points.sort(key=lambda p: p[0])
    start = points[0][0]
    return [PricePoint(ts - start, symbol, price) for ts, symbol, price in points]


class PricePath:
    """Decides which prices are due at a given elapsed time; the caller applies them to the venue."""

    def __init__(self, config: SimulatorConfig, start_ms: int) -> None:
        self._config = config
        self._start_ms = start_ms
        self._rng = random.Random(f"orderly-sim-walk:{config.seed}")
        self._replay = load_price_csv(config.prices_csv, config.csv_symbol) if config.prices_csv else []
        self._replay_index = 0
        self._walk_steps = 0

    def due(self, now_ms: int, marks: dict[str, Decimal]) -> list[tuple[str, Decimal]]:
        """Every price update due by `now_ms`, in time order (walk steps and replay rows interleaved)."""
        elapsed = now_ms - self._start_ms
        updates: list[tuple[int, str, Decimal]] = []
        while (
            self._replay_index < len(self._replay) and self._replay[self._replay_index].offset_ms <= elapsed
        ):
            point = self._replay[self._replay_index]
            updates.append((point.offset_ms, point.symbol, point.price))
            self._replay_index += 1
        interval = self._config.walk_interval_ms
        if interval > 0:
            walked = dict(marks)
            walk_updates: list[tuple[int, str, Decimal]] = []
            while (self._walk_steps + 1) * interval <= elapsed:
                self._walk_steps += 1
                for symbol in sorted(self._config.initial_prices):
                    walked[symbol] = self._step(symbol, walked[symbol])
                    walk_updates.append((self._walk_steps * interval, symbol, walked[symbol]))
            updates.extend(walk_updates)
        updates.sort(key=lambda u: u[0])
        return [(symbol, price) for _, symbol, price in updates]

    def next_due_ms(self) -> int | None:
        """Absolute time of the next update, for the real-time driver."""
        candidates: list[int] = []
        if self._replay_index < len(self._replay):
            candidates.append(self._start_ms + self._replay[self._replay_index].offset_ms)
        if self._config.walk_interval_ms > 0:
            candidates.append(self._start_ms + (self._walk_steps + 1) * self._config.walk_interval_ms)
        return min(candidates) if candidates else None

    def _step(self, symbol: str, price: Decimal) -> Decimal:
        tick = CATALOG[symbol].quote_tick
        move = Decimal(repr(self._rng.gauss(0.0, 1.0))) * self._config.walk_volatility
        stepped = (price * (1 + move) / tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * tick
        return max(stepped, tick)
