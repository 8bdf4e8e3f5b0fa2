"""Candidate points for a trailing grid (engine.trailing): its levels move with every shift.

The pre-scan of server.backtest.scan holds for fixed levels. A trailing grid's levels are its lines and
the two marks at which it would shift next (engine.trailing.shift_targets), and a shift changes them;
so the path is scanned a chunk at a time with the levels of the moment, and scanned again from the
next point whenever the grid's plan changed (a shift or a trim: the only steps that replace the plan).
A point stepped without need changes nothing (the engine is idle between levels), so the chunks'
first points cost a step each and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import numpy as np

from engine import SessionState
from server.backtest.prices import Int64Array, scaled
from server.backtest.scan import candidate_points

CHUNK_POINTS = 65_536


def trailing_points(
    prices: Int64Array,
    timestamps_ms: Int64Array,
    scale: int,
    funding_period_ms: int | None,
    state_of: Callable[[], SessionState],
    levels_of: Callable[[SessionState], list[Decimal]],
    stepped: list[int],
) -> Iterator[int]:
    """Yield the points to step, in order; each is appended to `stepped` (the result reports it)."""
    start, size = 0, len(prices)
    while start < size:
        state = state_of()
        plan = state.plan
        units = np.array(sorted({scaled(level, scale) for level in levels_of(state)}), dtype=np.int64)
        end = min(size, start + CHUNK_POINTS)
        chunk = candidate_points(prices[start:end], units, timestamps_ms[start:end], funding_period_ms)
        next_start = end
        for point in (chunk + start).tolist():
            stepped.append(point)
            yield point
            if state_of().plan is not plan:
                next_start = point + 1
                break
        start = next_start
