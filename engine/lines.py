"""Grid line math: where the price lines of a grid lie, rounded to the symbol's quote tick.

ARITHMETIC: `grid_levels` lines from lower to upper inclusive, interval (upper - lower) / (levels - 1).

GEOMETRIC: the current price is the anchor line; lines go up at current * (1 + r)^i while <= upper and
down at current * (1 - r)^i while >= lower (i = 1, 2, ...), and the two bounds are lines too (a geometric
line exactly equal to a bound is that bound, not a second line). The ratio, not `grid_levels`, sets the
spacing, so `grid_levels` acts as an upper bound on the count:
  - more lines than `grid_levels` -> rejected on grid_ratio, stating how many lines the ratio yields
    (never silently truncated: a truncated geometric grid would not cover the bounds the user chose);
  - fewer lines -> those lines are used; the preview reports the actual count.

Every line is rounded to the nearest quote tick (half up). Two lines landing on one tick are an error.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

MAX_LINES = 200
MIN_LINES = 2


class LineCollapseError(ValueError):
    """Two adjacent lines round onto the same tick."""

    def __init__(self, first: Decimal, second: Decimal, tick: Decimal) -> None:
        self.first, self.second, self.tick = first, second, tick
        super().__init__(f"lines {first} and {second} collapse onto one quote_tick ({tick})")


class TooManyLinesError(ValueError):
    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(f"yields {count} lines")


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(ROUND_HALF_UP) * tick


def ceil_to_tick(quantity: Decimal, tick: Decimal) -> Decimal:
    return (quantity / tick).to_integral_value(ROUND_CEILING) * tick


def arithmetic_raw_lines(lower: Decimal, upper: Decimal, grid_levels: int) -> list[Decimal]:
    interval = (upper - lower) / (grid_levels - 1)
    return [lower + i * interval for i in range(grid_levels - 1)] + [upper]


def geometric_raw_lines(
    lower: Decimal, upper: Decimal, current: Decimal, ratio: Decimal, limit: int = MAX_LINES
) -> list[Decimal]:
    """Raises TooManyLinesError (with the count, or limit + 1 once past the limit) when the ratio
    yields more than `limit` lines."""
    raw: set[Decimal] = {lower, upper}
    up, down = Decimal(1) + ratio, Decimal(1) - ratio
    price = current
    while price <= upper:
        raw.add(price)
        if len(raw) > limit:
            raise TooManyLinesError(limit + 1)
        price *= up
    price = current * down
    while price >= lower:
        raw.add(price)
        if len(raw) > limit:
            raise TooManyLinesError(limit + 1)
        price *= down
    return sorted(raw)


def round_lines(raw: list[Decimal], quote_tick: Decimal) -> tuple[Decimal, ...]:
    rounded = [round_to_tick(price, quote_tick) for price in raw]
    for below, above in itertools.pairwise(rounded):
        if above <= below:
            raise LineCollapseError(below, above, quote_tick)
    return tuple(rounded)
