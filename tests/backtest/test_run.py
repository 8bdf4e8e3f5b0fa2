from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Direction, GridConfigError, GridType, Side
from server.backtest import BacktestOptions, BarOrder, config_at_start, parse_csv, path_for, run_backtest
from server.backtest.prices import series_from_arrays
from tests.backtest.support import RULES, csv_ticks, grid


def _run(rows: list[str], options: BacktestOptions | None = None, **overrides: object):  # type: ignore[no-untyped-def]
    series, is_bars = parse_csv(rows)
    config = grid(**overrides)
    path = path_for(series, is_bars, config, (options or BacktestOptions()).bar_order)
    return run_backtest(config_at_start(config, path, RULES), RULES, path, options)


def test_a_gap_over_three_lines_fills_each_at_its_own_price_with_the_maker_fee() -> None:
    result = _run(csv_ticks("42500", "39900"))
    assert [(f.side, f.price, f.cell_index) for f in result.fills] == [
        (Side.BUY, Decimal(42000), 2),
        (Side.BUY, Decimal(41000), 1),
        (Side.BUY, Decimal(40000), 0),
    ]
    assert all(f.fee == f.quantity * f.price * Decimal("0.0002") for f in result.fills)
    assert result.pnl.position == sum(f.quantity for f in result.fills)


def test_a_round_trip_books_grid_profit_net_of_both_fees() -> None:
    result = _run(csv_ticks("42500", "41900", "43000"))
    buy, sell = result.fills
    assert (buy.price, sell.price, sell.side) == (Decimal(42000), Decimal(43000), Side.SELL)
    assert result.pnl.round_trips == 1
    assert result.pnl.grid_profit == buy.quantity * 1000 - buy.fee - sell.fee
    assert result.pnl.total == result.pnl.realized + result.pnl.unrealized + result.pnl.funding


def test_stop_loss_with_close_sells_at_the_stop_point_with_the_taker_fee_and_ends_the_run() -> None:
    result = _run(
        csv_ticks("42500", "41900", "39400", "45500"),
        stop_loss_price=Decimal(39500),
        close_position_on_stop=True,
    )
    assert result.status == "STOPPED"
    assert result.stop_reason == "STOP_LOSS"
    close = result.fills[-1]
    assert (close.side, close.price, close.cell_index) == (Side.SELL, Decimal(39400), None)
    assert close.fee == close.quantity * Decimal(39400) * Decimal("0.0005")
    assert result.pnl.position == 0
    assert result.pnl.unrealized == 0
    assert result.end_ms == 120_000
    assert result.final_price == Decimal(39400)


def test_a_trigger_waits_then_lays_the_grid_out_at_the_trigger() -> None:
    result = _run(csv_ticks("42500", "42000", "43600", "41900"), trigger_price=Decimal(43500))
    assert result.fills[0].price == Decimal(43000)
    assert result.fills[0].side is Side.BUY


def test_an_order_that_would_take_is_parked_until_the_price_lets_it_rest() -> None:
    # The trigger lays the ladder out at 43500, but the mark has gapped to 45100: the sell at 45000
    # would take, so the venue cancels it (post-only); it rests again at 44900 and fills at 45000.
    result = _run(csv_ticks("42500", "45100", "44900", "45000"), trigger_price=Decimal(43500))
    assert result.post_only_cancels == 1
    assert [(f.side, f.price) for f in result.fills] == [(Side.SELL, Decimal(45000))]


def test_the_equity_curve_ends_at_margin_plus_total_and_is_downsampled() -> None:
    prices = [str(42500 + 900 * np.sin(i / 7))[:7] for i in range(2000)]
    result = _run(csv_ticks(*prices), BacktestOptions(resolution=50))
    assert len(result.equity_curve) <= 50
    last = result.equity_curve[-1]
    assert last.equity == pytest.approx(float(Decimal(1000) + result.pnl.total))
    assert result.stats.time_in_range == 1.0
    assert result.stats.max_drawdown >= 0
    assert result.stats.fills_per_day > 0
    assert result.steps < result.points


def test_funding_is_settled_on_each_boundary_on_the_position() -> None:
    hour = 3_600_000
    rows = ["timestamp,price", f"{7 * hour},42500", f"{7 * hour + 1},41900", f"{9 * hour},41900"]
    result = _run(rows, BacktestOptions(funding_rate=Decimal("0.0001")))
    position = result.pnl.position
    assert result.pnl.funding == -position * Decimal(41900) * Decimal("0.0001")


def test_a_config_start_grid_refuses_is_refused() -> None:
    with pytest.raises(GridConfigError):
        _run(csv_ticks("46000", "41000"))  # the first price is outside the bounds


def test_bars_pessimistic_order_for_long_comes_down_last() -> None:
    rows = ["0,42500,43100,41900,42500"]
    nearest = _run(rows, direction=Direction.LONG)
    pessimistic = _run(rows, BacktestOptions(bar_order=BarOrder.PESSIMISTIC), direction=Direction.LONG)
    assert pessimistic.pnl.round_trips == 0
    assert pessimistic.fills[-1].side is Side.BUY
    assert "high -> low" in pessimistic.fill_model[-1]
    assert nearest.fill_model[-1].startswith("Bars: open -> the extreme nearer")


_prices = st.lists(st.integers(38_000, 47_000), min_size=2, max_size=60)


@settings(max_examples=60, deadline=None)
@given(
    moves=_prices,
    direction=st.sampled_from(list(Direction)),
    geometric=st.booleans(),
    stop=st.booleans(),
    close=st.booleans(),
)
def test_the_prescan_steps_only_points_that_change_nothing_when_skipped(
    moves: list[int], direction: Direction, geometric: bool, stop: bool, close: bool
) -> None:
    """Stepping the engine only at the pre-scan's points gives exactly what stepping every point does."""
    prices = np.array([42_500, *moves], dtype=np.int64) * 10  # one decimal, as the symbol's tick
    path = series_from_arrays(np.arange(len(prices), dtype=np.int64) * 1000, prices, 1)
    stops: dict[str, object] = {}
    if stop:
        name = "stop_loss_price" if direction is not Direction.SHORT else "take_profit_price"
        stops = {name: Decimal(39_500), "close_position_on_stop": close}
    config = grid(
        direction=direction,
        grid_type=GridType.GEOMETRIC if geometric else GridType.ARITHMETIC,
        grid_ratio=Decimal("0.02") if geometric else None,
        grid_levels=10,
        **stops,
    )
    config = config_at_start(config, path, RULES)
    fast = run_backtest(config, RULES, path)
    slow = run_backtest(config, RULES, path, BacktestOptions(prescan=False))
    assert fast.fills == slow.fills
    assert fast.pnl == slow.pnl
    assert (fast.status, fast.stop_reason, fast.end_ms) == (slow.status, slow.stop_reason, slow.end_ms)
    assert fast.equity_curve == slow.equity_curve
    assert fast.anomalies == 0
