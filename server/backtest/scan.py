"""The vectorised pre-scan: which points of the path can change anything for the engine.

Everything the engine reacts to on a price is a comparison with a fixed set of levels: the grid's
lines (a resting buy fills at price <= line, a sell at price >= line; a parked post-only order rests
again once the price is strictly on its side) and the stop-loss, take-profit and trigger prices. So a
point whose position relative to every level -- strictly below, on, or strictly above each -- is the
same as the previous point's cannot fill, unpark, stop or trigger anything the previous point did not.
That position is one integer per point, `searchsorted(left) + searchsorted(right)`, and the
candidates are where it changes. Prices and levels are exact scaled integers (server.backtest.prices),
so no float rounding can hide a touch.
"""

from __future__ import annotations

import numpy as np

from server.backtest.prices import Int64Array


def level_codes(prices: Int64Array, levels: Int64Array) -> Int64Array:
    """Per point: 2 * (levels strictly below) + (1 if on a level). Equal codes = equal position.

    One search instead of two: for integers, L < p <=> 2L + 1 <= 2p and L <= p <=> 2L <= 2p, so the
    count of {2L, 2L + 1} at or below 2p is (levels below) + (levels at or below)."""
    doubled = np.sort(np.concatenate((2 * levels, 2 * levels + 1)))
    return np.searchsorted(doubled, 2 * prices, "right")


def crossing_points(prices: Int64Array, levels: Int64Array) -> Int64Array:
    """Indices of the points whose position relative to `levels` (sorted, unique) differs from the
    previous point's, always including the first point."""
    codes = level_codes(prices, np.unique(levels))
    changed = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    return np.concatenate((np.zeros(1, dtype=np.int64), changed))


def period_starts(timestamps_ms: Int64Array, period_ms: int) -> Int64Array:
    """Indices of the first point of every period (funding intervals on wall-aligned boundaries, as the
    venue settles them), the very first point excepted."""
    periods = timestamps_ms // period_ms
    return np.flatnonzero(periods[1:] != periods[:-1]) + 1


def candidate_points(
    prices: Int64Array, levels: Int64Array, timestamps_ms: Int64Array, funding_period_ms: int | None
) -> Int64Array:
    points = crossing_points(prices, levels)
    if funding_period_ms is None:
        return points
    return np.union1d(points, period_starts(timestamps_ms, funding_period_ms))
