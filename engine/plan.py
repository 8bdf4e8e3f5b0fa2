"""The static shape of a grid: its lines, which side each cell enters on, and each cell's quantity.

Built once from a validated config and the symbol's market rules; everything that can be wrong about a
config is found here and raised as one GridConfigError listing every violation.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_CEILING, Decimal
from typing import NamedTuple

from engine.config import GridConfig, GridConfigError, config_violations
from engine.lines import (
    MAX_LINES,
    LineCollapseError,
    TooManyLinesError,
    arithmetic_raw_lines,
    ceil_to_tick,
    geometric_raw_lines,
    round_lines,
)
from engine.market import MarketRules
from engine.types import Direction, GridType, Side

# The most base ticks one order may hold: far beyond any venue's maximum quantity, and small enough
# that the exact integer division sizing an order stays within the default 28-digit precision
# whatever the symbol's ticks are.
MAX_BASE_TICKS_PER_ORDER = Decimal(10) ** 24


class GridPlan(NamedTuple):
    lines: tuple[Decimal, ...]
    entry_sides: tuple[Side | None, ...]  # per cell: BUY (a LONG cell), SELL (a SHORT cell), None (idle)
    quantities: tuple[Decimal, ...]  # per cell: base quantity of the entry order (0 for idle cells)
    margin_per_cell: Decimal
    # Trailing (engine.trailing) moves the grid a cell at a time. A cell keeps the number its
    # client_order_ids carry for its whole life, so once a grid has shifted, positions (indexes into
    # lines, cells) and numbers differ: `numbers[position]` is the cell's number, and a new cell takes
    # `next_number` (numbers are never reused, so no id can be made twice). Empty: number == position.
    numbers: tuple[int, ...] = ()
    next_number: int = 0
    # Cells dropped by a shift that still work (a counter order for inventory they hold, a cancel in
    # flight) stay at the edges of the tuples until they are done: `retired_below` cells at the bottom,
    # `retired_above` at the top. They never place an entry again (quantity 0).
    retired_below: int = 0
    retired_above: int = 0
    shifts: int = 0  # how many times the grid has shifted, up and down

    def number(self, position: int) -> int:
        return self.numbers[position] if self.numbers else position

    def position(self, number: int) -> int | None:
        """The position of the cell numbered `number`, or None when no cell of the plan has it."""
        if not self.numbers:
            return number if 0 <= number < len(self.entry_sides) else None
        try:
            return self.numbers.index(number)
        except ValueError:
            return None

    def active_lines(self) -> tuple[Decimal, ...]:
        """The lines of the grid's current range (without retired cells' lines)."""
        return self.lines[self.retired_below : len(self.lines) - self.retired_above]

    def entry_price(self, cell_index: int) -> Decimal:
        side = self.entry_sides[cell_index]
        return self.lines[cell_index] if side is Side.BUY else self.lines[cell_index + 1]

    def order_price(self, cell_index: int, side: Side) -> Decimal:
        """A cell buys at its lower line and sells at its upper line, whichever leg it is on."""
        return self.lines[cell_index] if side is Side.BUY else self.lines[cell_index + 1]


def cell_entry_sides(
    lines: tuple[Decimal, ...], direction: Direction, price: Decimal
) -> tuple[Side | None, ...]:
    """Which side each cell enters on at `price`.

    A cell is below the price if its upper line <= price, above if its lower line >= price, and
    otherwise contains it. LONG: cells below or containing buy; SHORT: cells above or containing sell;
    BOTH: below buy, above sell, and the containing cell takes the side whose line is farther from the
    price (a tie goes to BUY), so the line nearest the price stays empty.
    """
    sides: list[Side | None] = []
    for lower, upper in itertools.pairwise(lines):
        if upper <= price:
            position = "below"
        elif lower >= price:
            position = "above"
        else:
            position = "contains"
        if direction is Direction.LONG:
            sides.append(None if position == "above" else Side.BUY)
        elif direction is Direction.SHORT:
            sides.append(None if position == "below" else Side.SELL)
        elif position == "below":
            sides.append(Side.BUY)
        elif position == "above":
            sides.append(Side.SELL)
        else:
            sides.append(Side.BUY if price - lower >= upper - price else Side.SELL)
    return tuple(sides)


def build_lines(config: GridConfig, rules: MarketRules) -> tuple[Decimal, ...]:
    """Raises GridConfigError naming the field responsible when the lines cannot be built."""
    tick = rules.quote_tick
    if config.grid_type is GridType.GEOMETRIC:
        assert config.grid_ratio is not None  # guaranteed by config_violations
        try:
            raw = geometric_raw_lines(
                config.lower_price, config.upper_price, config.current_price, config.grid_ratio
            )
        except TooManyLinesError:
            rule = f"ratio {config.grid_ratio} yields more than {MAX_LINES} lines between the bounds"
            raise GridConfigError([("grid_ratio", rule)]) from None
        if len(raw) > config.grid_levels:
            rule = (
                f"ratio {config.grid_ratio} yields {len(raw)} lines between the bounds but grid_levels "
                f"allows at most {config.grid_levels}; raise grid_ratio or grid_levels"
            )
            raise GridConfigError([("grid_ratio", rule)])
        field = "grid_ratio"
    else:
        raw = arithmetic_raw_lines(config.lower_price, config.upper_price, config.grid_levels)
        field = "grid_levels"
    try:
        lines = round_lines(raw, tick)
    except LineCollapseError as error:
        raise GridConfigError([(field, f"{error}; use fewer, wider grid lines")]) from None
    if lines[0] <= 0:
        rule = (
            f"{config.lower_price} rounds to {lines[0]} at the symbol's quote_tick {tick}; must be >= {tick}"
        )
        raise GridConfigError([("lower_price", rule)])
    return lines


def _market_violations(config: GridConfig, rules: MarketRules) -> list[tuple[str, str]]:
    violations: list[tuple[str, str]] = []
    if config.symbol != rules.symbol:
        violations.append(
            ("symbol", f"{config.symbol!r} does not match the market rules of {rules.symbol!r}")
        )
    if rules.quote_min > 0 and config.lower_price < rules.quote_min:
        violations.append(("lower_price", f"must be >= the symbol's minimum price {rules.quote_min}"))
    if rules.quote_max > 0 and config.upper_price > rules.quote_max:
        violations.append(("upper_price", f"must be <= the symbol's maximum price {rules.quote_max}"))
    if rules.price_scope > 0:
        # The venue refuses orders further than price_scope from the mark (the anchor price here):
        # a line beyond it would be rejected when its order is placed, so refuse the grid up front.
        anchor = config.anchor_price
        low, high = anchor * (1 - rules.price_scope), anchor * (1 + rules.price_scope)
        scope = f"the venue accepts orders within {rules.price_scope} of the price {anchor}"
        if config.lower_price < low:
            violations.append(("lower_price", f"must be >= {low.normalize():f}: {scope}"))
        if config.upper_price > high:
            violations.append(("upper_price", f"must be <= {high.normalize():f}: {scope}"))
    return violations


def cell_quantity(config: GridConfig, rules: MarketRules, active: int, entry: Decimal) -> Decimal | None:
    """The entry quantity of one of `active` trading cells entering at `entry`, as `_quantities` sizes
    it, or None when it is outside the symbol's limits (a trailing grid then stops following)."""
    budget, unit = config.total_margin * config.leverage, active * entry * rules.base_tick
    if entry <= 0 or budget / unit >= MAX_BASE_TICKS_PER_ORDER:
        return None
    quantity = (budget // unit) * rules.base_tick
    if quantity <= 0 or quantity < rules.base_min or quantity * entry < rules.min_notional:
        return None
    if rules.base_max > 0 and quantity > rules.base_max:
        return None
    return quantity


def _quantities(
    config: GridConfig, rules: MarketRules, lines: tuple[Decimal, ...], sides: tuple[Side | None, ...]
) -> tuple[tuple[Decimal, ...], Decimal]:
    active = sum(1 for side in sides if side is not None)
    if active == 0:
        rule = f"direction {config.direction} leaves no cell to trade at price {config.anchor_price}"
        raise GridConfigError([("direction", rule)])
    margin_per_cell = config.total_margin / active
    quantities: list[Decimal] = []
    needed_per_cell = Decimal(0)
    too_small: list[str] = []
    too_large: list[str] = []
    for index, side in enumerate(sides):
        if side is None:
            quantities.append(Decimal(0))
            continue
        entry = lines[index] if side is Side.BUY else lines[index + 1]
        budget, unit = config.total_margin * config.leverage, active * entry * rules.base_tick
        if budget / unit >= MAX_BASE_TICKS_PER_ORDER:  # `//` below would exceed the decimal precision
            too_large.append(f"cell {index} gets more than {MAX_BASE_TICKS_PER_ORDER:.0E} base ticks")
            quantities.append(Decimal(0))
            continue
        # One exact integer division (no intermediate rounding): whole base ticks the cell's share buys.
        quantity = (budget // unit) * rules.base_tick
        quantities.append(quantity)
        smallest = max(rules.base_min, ceil_to_tick(rules.min_notional / entry, rules.base_tick))
        needed_per_cell = max(needed_per_cell, smallest * entry / config.leverage)
        if quantity <= 0 or quantity < rules.base_min or quantity * entry < rules.min_notional:
            too_small.append(f"cell {index} gets {quantity} at {entry}")
        if rules.base_max > 0 and quantity > rules.base_max:
            too_large.append(f"cell {index} gets {quantity}")
    violations: list[tuple[str, str]] = []
    if too_small:
        needed = needed_per_cell * active
        if needed < MAX_BASE_TICKS_PER_ORDER:  # quantize needs the result within the precision
            needed = needed.quantize(Decimal("0.01"), ROUND_CEILING)
        rule = (
            f"{too_small[0]}, below the minimum quantity {rules.base_min} or minimum notional "
            f"{rules.min_notional} ({len(too_small)} cell(s)); needs total_margin >= {needed} "
            f"at leverage {config.leverage}"
        )
        violations.append(("total_margin", rule))
    if too_large:
        rule = f"{too_large[0]}, above the maximum quantity {rules.base_max}; lower total_margin or leverage"
        violations.append(("total_margin", rule))
    if violations:
        raise GridConfigError(violations)
    return tuple(quantities), margin_per_cell


def build_plan(config: GridConfig, rules: MarketRules) -> GridPlan:
    """Validate `config` against itself and `rules`; raise GridConfigError listing every violation."""
    violations = config_violations(config) + _market_violations(config, rules)
    if violations:
        raise GridConfigError(violations)
    lines = build_lines(config, rules)
    sides = cell_entry_sides(lines, config.direction, config.anchor_price)
    quantities, margin_per_cell = _quantities(config, rules, lines, sides)
    return GridPlan(lines, sides, quantities, margin_per_cell)
