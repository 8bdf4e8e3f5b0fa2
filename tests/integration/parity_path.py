"""The seeded price path of the parity test (tests/integration/data/parity_path.csv), and how it is
made: `python -m tests.integration.parity_path` writes it again; test_backtest_parity checks the file
is what this makes.

Around the harness grid (lines 40000..45000 step 1000, BOTH, stop-loss 39500 with close): a seeded walk
on the 0.1 tick between 39600 and 45400 that trades back and forth, a gap from above 43000 to 40100
(three buys in one step), then down through the lowest line and a final step onto the stop-loss that
fills nothing (the stop is the only thing that step does, so no fill races the stop)."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

PATH_FILE = Path(__file__).parent / "data" / "parity_path.csv"
SEED = 14
STEP_MS = 60_000


def parity_prices() -> list[Decimal]:
    rng = random.Random(SEED)
    prices = [Decimal(42500)]
    while len(prices) < 30:
        move = Decimal(rng.randint(-1300, 1300))
        prices.append(min(max(prices[-1] + move, Decimal(39600)), Decimal(45400)))
    prices += [Decimal("43150.5"), Decimal("40100"), Decimal("42050"), Decimal("39900"), Decimal(39400)]
    return prices


def parity_csv() -> str:
    rows = ["timestamp,price"] + [f"{i * STEP_MS},{price}" for i, price in enumerate(parity_prices())]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    PATH_FILE.write_text(parity_csv())
