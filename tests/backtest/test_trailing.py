"""The backtester runs trailing grids (engine.trailing) with the same engine, and its pre-scan wakes
the engine at every shift's trigger price, however the levels move."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Direction, GridType
from server.backtest import BacktestOptions, config_at_start, parse_csv, path_for, run_backtest
from server.backtest.prices import series_from_arrays
from tests.backtest.support import RULES, csv_ticks, grid


def test_a_rising_path_shifts_the_grid_up_and_it_keeps_trading() -> None:
    series, is_bars = parse_csv(csv_ticks("42500", "46000", "47000", "48100", "46900", "48000"))
    config = grid(trailing_up=True)
    path = path_for(series, is_bars, config, BacktestOptions().bar_order)
    result = run_backtest(config_at_start(config, path, RULES), RULES, path)
    # 46000, 47000 and 48000 each shift one cell; the new cells buy at 45000, 46000, 47000; the
    # dip to 46900 fills the 47000 buy, and 48000 sells it: a round trip above the first range.
    assert result.lines[-1] >= Decimal(48000)
    assert result.pnl.round_trips >= 1
    assert any(f.price == Decimal(47000) for f in result.fills)
    assert result.anomalies == 0


_moves = st.lists(st.integers(min_value=36_000, max_value=50_000), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(
    moves=_moves,
    direction=st.sampled_from(list(Direction)),
    geometric=st.booleans(),
    up=st.booleans(),
    down=st.booleans(),
    close=st.booleans(),
)
def test_the_prescan_of_a_trailing_grid_skips_nothing(
    moves: list[int], direction: Direction, geometric: bool, up: bool, down: bool, close: bool
) -> None:
    """Stepping only the pre-scan's points gives exactly what stepping every point does."""
    prices = np.array([42_500, *moves], dtype=np.int64) * 10
    path = series_from_arrays(np.arange(len(prices), dtype=np.int64) * 1000, prices, 1)
    config = grid(
        direction=direction,
        grid_type=GridType.GEOMETRIC if geometric else GridType.ARITHMETIC,
        grid_ratio=Decimal("0.02") if geometric else None,
        grid_levels=10,
        total_margin=Decimal(5000),
        trailing_up=up or not down,
        trailing_down=down,
        trailing_close=close,
    )
    config = config_at_start(config, path, RULES)
    fast = run_backtest(config, RULES, path)
    slow = run_backtest(config, RULES, path, BacktestOptions(prescan=False))
    assert fast.fills == slow.fills
    assert fast.pnl == slow.pnl
    assert fast.lines == slow.lines
    assert fast.equity_curve == slow.equity_curve


def test_scanning_in_small_chunks_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from server.backtest import trailing_scan

    prices = np.array(
        [42_500, 44_000, 46_100, 45_000, 47_300, 44_900, 39_000, 36_500, 41_000], dtype=np.int64
    )
    path = series_from_arrays(np.arange(len(prices), dtype=np.int64) * 1000, prices * 10, 1)
    config = config_at_start(grid(trailing_up=True, trailing_down=True), path, RULES)
    whole = run_backtest(config, RULES, path)
    monkeypatch.setattr(trailing_scan, "CHUNK_POINTS", 2)
    chunked = run_backtest(config, RULES, path)
    slow = run_backtest(config, RULES, path, BacktestOptions(prescan=False))
    assert whole.fills == chunked.fills == slow.fills
    assert whole.pnl == chunked.pnl == slow.pnl
