"""The equity curve and its statistics, vectorised over every point of the path.

Between two stepped points the ledger (position, cost, funding) does not change, so the equity at every
point is `margin + position * price - cost + funding` with the ledger of the last stepped point at or
before it: a forward fill. These are floats for the curve and its statistics only; the reported money
comes from the engine's Decimal ledger.
"""

from __future__ import annotations

import math

import numpy as np

from server.backtest.prices import FloatArray, Int64Array
from server.backtest.result import CurveStats, EquityPoint

MS_PER_DAY = 86_400_000
DAYS_PER_YEAR = 365.0


def equity_at_points(
    prices: FloatArray,
    record_points: Int64Array,
    positions: FloatArray,
    costs: FloatArray,
    funding: FloatArray,
    margin: float,
) -> FloatArray:
    """Equity at every point; record k holds the ledger after point record_points[k] (the first
    record is at point 0)."""
    counts = np.diff(np.append(record_points, len(prices)))
    return margin + np.repeat(positions, counts) * prices - np.repeat(costs - funding, counts)


def _ratio(returns: FloatArray, periods_per_year: float, downside: bool) -> float:
    if len(returns) < 2 or periods_per_year <= 0:
        return 0.0
    mean = float(returns.mean())
    if downside:
        deviation = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    else:
        deviation = float(returns.std(ddof=1))
    if deviation == 0.0 or not math.isfinite(deviation):
        return 0.0
    return mean / deviation * math.sqrt(periods_per_year)


def _period_returns(timestamps_ms: Int64Array, equity: FloatArray) -> tuple[FloatArray, float]:
    """Daily returns (equity at each UTC day's last point) when the path spans days, else the returns
    between consecutive points; with the periods per year to annualise them."""
    first_day, last_day = int(timestamps_ms[0]) // MS_PER_DAY, int(timestamps_ms[-1]) // MS_PER_DAY
    if last_day - first_day >= 2:  # the last point of each day: before the next day's first
        boundaries = np.arange(first_day + 1, last_day + 1, dtype=np.int64) * MS_PER_DAY
        ends = np.append(np.searchsorted(timestamps_ms, boundaries, "left") - 1, len(equity) - 1)
        closes = np.concatenate((equity[:1], equity[ends]))
        return np.diff(closes) / closes[:-1], DAYS_PER_YEAR
    span_ms = float(timestamps_ms[-1] - timestamps_ms[0])
    if span_ms <= 0 or len(equity) < 3:
        return np.zeros(0), 0.0
    returns = np.diff(equity) / equity[:-1]
    return returns, len(returns) * DAYS_PER_YEAR * MS_PER_DAY / span_ms


def curve_stats(
    timestamps_ms: Int64Array,
    prices: FloatArray,
    equity: FloatArray,
    drawdowns: FloatArray,
    lower: float,
    upper: float,
    fills: int,
) -> CurveStats:
    worst = int(np.argmax(drawdowns))
    max_drawdown = float(drawdowns[worst])
    peak = float(equity[worst]) + max_drawdown
    fraction = max_drawdown / peak if peak > 0 else 0.0
    returns, per_year = _period_returns(timestamps_ms, equity)
    span_ms = int(timestamps_ms[-1] - timestamps_ms[0])
    in_range = (prices >= lower) & (prices <= upper)
    if span_ms > 0:  # each point holds until the next one
        durations = np.diff(timestamps_ms)
        time_in_range = float(durations[in_range[:-1]].sum()) / span_ms
    else:
        time_in_range = float(in_range.mean())
    return CurveStats(
        max_drawdown=max_drawdown,
        max_drawdown_fraction=fraction,
        sharpe=_ratio(returns, per_year, downside=False),
        sortino=_ratio(returns, per_year, downside=True),
        time_in_range=time_in_range,
        fills_per_day=fills * MS_PER_DAY / span_ms if span_ms > 0 else 0.0,
    )


def drawdowns_of(equity: FloatArray) -> FloatArray:
    """Per point: the running peak of the equity minus the equity."""
    return np.maximum.accumulate(equity) - equity


def downsample(
    timestamps_ms: Int64Array, prices: FloatArray, equity: FloatArray, drawdowns: FloatArray, resolution: int
) -> tuple[EquityPoint, ...]:
    """At most `resolution` points: the last point of each of `resolution` equal slices of the path
    (the first point too), with the drawdown from the running peak of the full curve."""
    count = len(equity)
    if count <= resolution:
        picks = np.arange(count)
    else:
        ends = np.linspace(0, count, max(resolution - 1, 1) + 1)[1:].astype(np.int64) - 1
        picks = np.unique(np.concatenate(([0], ends)))
    return tuple(
        EquityPoint(int(timestamps_ms[i]), float(prices[i]), float(equity[i]), float(drawdowns[i]))
        for i in picks
    )
