"""What a grid would do, without starting anything: its lines, opening orders, margin and profit range."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from engine.config import GridConfig
from engine.market import MarketRules
from engine.state import SessionStatus
from engine.step import start
from engine.stops import place_ladder
from engine.types import Side


class PreviewOrder(NamedTuple):
    cell_index: int
    side: Side
    price: Decimal
    quantity: Decimal
    client_order_id: str
    margin: Decimal  # the share of total_margin this order's cell uses


class GridPreview(NamedTuple):
    lines: tuple[Decimal, ...]
    orders: tuple[PreviewOrder, ...]
    margin_per_cell: Decimal
    # One round trip of one cell, net of both legs' maker fees: in quote currency and as a fraction
    # of the cell's entry notional; min and max over the trading cells.
    profit_per_grid_min: Decimal
    profit_per_grid_max: Decimal
    profit_rate_min: Decimal
    profit_rate_max: Decimal
    waits_for_trigger: bool

    @property
    def line_count(self) -> int:
        """The actual number of lines (a GEOMETRIC grid may have fewer than grid_levels)."""
        return len(self.lines)


def preview(config: GridConfig, rules: MarketRules) -> GridPreview:
    """Raises GridConfigError exactly as `start` would."""
    state, _ = start(config, rules)
    waits = state.status is SessionStatus.PENDING_TRIGGER
    ladder = place_ladder(state._replace(status=SessionStatus.RUNNING))[0] if waits else state
    plan = state.plan
    orders: list[PreviewOrder] = []
    profits: list[Decimal] = []
    rates: list[Decimal] = []
    for index, cell in enumerate(ladder.cells):
        if cell.client_order_id is None or cell.side is None:
            continue
        price = plan.order_price(index, cell.side)
        orders.append(
            PreviewOrder(
                index, cell.side, price, cell.order_quantity, cell.client_order_id, plan.margin_per_cell
            )
        )
        quantity, lower, upper = cell.order_quantity, plan.lines[index], plan.lines[index + 1]
        profit = quantity * (upper - lower) - config.maker_fee_rate * quantity * (lower + upper)
        profits.append(profit)
        rates.append(profit / (quantity * plan.entry_price(index)))
    return GridPreview(
        lines=plan.lines,
        orders=tuple(orders),
        margin_per_cell=plan.margin_per_cell,
        profit_per_grid_min=min(profits),
        profit_per_grid_max=max(profits),
        profit_rate_min=min(rates),
        profit_rate_max=max(rates),
        waits_for_trigger=waits,
    )
