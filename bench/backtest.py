"""Backtest speed against the goals of issue 14; prints one table.

    .venv/bin/python bench/backtest.py [--seed N]

Rows: one year of 1-minute bars (525,600 bars, a seeded GBM walk with wicks) through a 50-line BOTH grid
over the year's range; 10 million raw ticks of a walk that mostly stays inside one cell; and a
200-configuration sweep over the same year of bars (5 lower x 5 upper bounds relative to the first
price x 4 line counts x LONG/BOTH) on a local process pool of every core (server.backtest.sweep).
Times cover building the bar path, the numpy pre-scan, the engine steps and the result (equity curve
and statistics); not CSV parsing (generated arrays go straight in). One core, wall clock (the sweep:
every core, its pool's start-up included).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from decimal import Decimal
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

from engine import Direction, GridConfig, MarketRules  # noqa: E402
from server.backtest import BarOrder, config_at_start, path_for, run_backtest  # noqa: E402
from server.backtest.prices import PriceSeries  # noqa: E402
from server.backtest.run import BacktestOptions  # noqa: E402
from server.backtest.sweep import SweepJob, SweepSpace, local_pool, sweep  # noqa: E402

RULES = MarketRules(
    "PERP_BTC_USDC", Decimal("0.1"), Decimal("0.00001"), Decimal("0.00001"), Decimal("20"), Decimal("10")
)
BARS_PER_YEAR = 525_600
RAW_TICKS = 10_000_000


def _grid(lower: int, upper: int, start: int, lines: int = 50) -> GridConfig:
    return GridConfig(
        "bench", "PERP_BTC_USDC", Direction.BOTH, Decimal(lower), Decimal(upper), lines, Decimal(start),
        Decimal(100_000),
    )  # fmt: skip


def year_of_bars(seed: int) -> PriceSeries:
    rng = np.random.default_rng(seed)
    closes = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.0006, BARS_PER_YEAR)))
    opens = np.concatenate(([40_000.0], closes[:-1]))
    wicks = np.abs(rng.normal(0, 0.0004, (BARS_PER_YEAR, 2))) * closes[:, None]
    highs = np.maximum(opens, closes) + wicks[:, 0]
    lows = np.minimum(opens, closes) - wicks[:, 1]
    units = np.round(np.stack([opens, highs, lows, closes], axis=1) * 10).astype(np.int64)
    stamps = np.repeat(np.arange(BARS_PER_YEAR, dtype=np.int64) * 60_000, 4)
    return PriceSeries(stamps, units.reshape(-1), 1, bars=BARS_PER_YEAR)


def _bars_row(seed: int) -> tuple[str, ...]:
    bars = year_of_bars(seed)
    low, high = int(bars.prices.min()) // 10, int(bars.prices.max()) // 10 + 1
    config = _grid(low, high, 40_000)
    began = time.perf_counter()
    path = path_for(bars, True, config, BarOrder.NEAREST)
    result = run_backtest(config_at_start(config, path, RULES), RULES, path)
    seconds = time.perf_counter() - began
    rate = BARS_PER_YEAR / seconds
    verdict = "met" if seconds <= 1.0 else "NOT met"
    detail = f"{result.steps:,} steps, {len(result.fills):,} fills"
    return (
        "1 year of 1-min bars, 50 lines",
        f"{seconds:.2f} s",
        f"{rate:,.0f} bars/s",
        "<= 1 s",
        verdict,
        detail,
    )


def _ticks_row(seed: int) -> tuple[str, ...]:
    rng = np.random.default_rng(seed)
    # A walk in 0.1 steps, mean-reverting to 42,050: it stays inside the 42,000..42,100 cell mostly.
    steps = rng.integers(-3, 4, RAW_TICKS)
    units = 420_500 + np.cumsum(steps) % 2_000 - 1_000
    path = PriceSeries(np.arange(RAW_TICKS, dtype=np.int64) * 100, units.astype(np.int64), 1)
    config = _grid(40_000, 45_000, int(path.price(0)))
    began = time.perf_counter()
    result = run_backtest(config_at_start(config, path, RULES), RULES, path)
    seconds = time.perf_counter() - began
    rate = RAW_TICKS / seconds
    verdict = "met" if rate >= 5_000_000 else "NOT met"
    detail = f"{result.steps:,} of {RAW_TICKS:,} ticks stepped"
    return (
        "10M raw ticks, 50 lines",
        f"{seconds:.2f} s",
        f"{rate:,.0f} ticks/s",
        ">= 5M ticks/s",
        verdict,
        detail,
    )


def _sweep_row(seed: int) -> tuple[str, ...]:
    bars = year_of_bars(seed)
    space = SweepSpace(
        lower=("-10%", "-15%", "-20%", "-25%", "-30%"),
        upper=("+10%", "+15%", "+20%", "+25%", "+30%"),
        levels=(20, 30, 40, 50),
        direction=(Direction.BOTH, Direction.LONG),
    )
    points = space.points()
    job = SweepJob(_grid(30_000, 50_000, 40_000), RULES, BacktestOptions(resolution=2))
    began = time.perf_counter()  # the pool's start-up and the path's hand-over to it included
    with local_pool(bars, True) as (run_chunks, workers):
        rows = sweep(job, points, run_chunks, (0, BARS_PER_YEAR), "total", workers)
    seconds = time.perf_counter() - began
    verdict = "met" if seconds <= 60.0 else "NOT met"
    failed = sum(1 for row in rows if row.error)
    return (
        f"{len(points)}-config sweep, 1 year bars",
        f"{seconds:.2f} s",
        f"{len(points) / seconds:.1f} configs/s",
        "<= 60 s on 2 cores",
        verdict,
        f"{workers} processes, {failed} refused configs",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows = [
        ("case", "time", "rate", "goal", "result", "detail"),
        _bars_row(args.seed),
        _ticks_row(args.seed),
        _sweep_row(args.seed),
    ]
    print(
        f"backtest speed ({platform.python_implementation()} {platform.python_version()}, "
        f"numpy {np.__version__})"
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
