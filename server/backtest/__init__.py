"""Backtests on the live engine: what the service would have done on a price path.

    series, is_bars = parse_csv(lines)                 # server.backtest.prices
    path = path_for(series, is_bars, config, BarOrder.NEAREST)
    result = run_backtest(config_at_start(config, path, rules), rules, path, BacktestOptions())

The numpy pre-scan (scan.py) finds the points worth stepping; engine.step does the rest, exactly as
live (venue.py models the venue's matching). The result is a typed value (result.py); plot.py draws it.
"""

from server.backtest.prices import BarOrder, PriceInputError, PriceSeries, parse_csv, series_from_arrays
from server.backtest.result import BacktestFill, BacktestResult, CurveStats, EquityPoint
from server.backtest.run import BacktestOptions, config_at_start, path_for, run_backtest

__all__ = [
    "BacktestFill",
    "BacktestOptions",
    "BacktestResult",
    "BarOrder",
    "CurveStats",
    "EquityPoint",
    "PriceInputError",
    "PriceSeries",
    "config_at_start",
    "parse_csv",
    "path_for",
    "run_backtest",
    "series_from_arrays",
]
