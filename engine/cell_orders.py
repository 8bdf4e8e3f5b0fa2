"""What a cell does when its order ends: book the exit it made, pick its next leg, place the order.

Shared by fills (an order completes), cancels (an order ends early) and reconciliation (an idle cell
gets its order back).
"""

from __future__ import annotations

from decimal import Decimal

from engine.cells import CellAction, CellState, CellStatus, transition
from engine.commands import GRID_ORDER_TYPE, Command, PlaceOrder, RecordRoundTrip
from engine.ledger import Ledger, round_trip_profit
from engine.order_ids import cell_order_id
from engine.plan import GridPlan
from engine.types import ZERO, Side

_EMPTY: frozenset[tuple[str, str]] = frozenset()


def replace_cell(cells: tuple[CellState, ...], index: int, cell: CellState) -> tuple[CellState, ...]:
    copied = list(cells)  # measurably faster than slicing and concatenating for a few hundred cells
    copied[index] = cell
    return tuple(copied)


def wanted_order(plan: GridPlan, index: int, cell: CellState) -> tuple[Side, Decimal] | None:
    """The side and quantity of the order the cell should have resting, or None for a cell that
    does not trade. A cell holding inventory exits all of it; an empty cell enters with its plan size."""
    if cell.entry_side is None:
        return None
    if cell.holding > 0:
        return cell.entry_side.opposite, cell.holding
    quantity = plan.quantities[index]
    # A cell a trailing shift retired (quantity 0) exits what it holds but never enters again.
    return (cell.entry_side, quantity) if quantity > 0 else None


def rests_at(side: Side, price: Decimal, mark: Decimal) -> bool:
    """Whether a post-only order rests (is a maker) at `mark`: buys below it, sells above it."""
    return price < mark if side is Side.BUY else price > mark


def place(prefix: str, plan: GridPlan, index: int, cell: CellState) -> tuple[CellState, PlaceOrder | None]:
    """Give an IDLE cell a new order (next cycle) for the order it wants."""
    wanted = wanted_order(plan, index, cell)
    status = transition(cell.status, CellAction.PLACE)
    if wanted is None or status is None:
        return cell, None
    side, quantity = wanted
    cycle = cell.cycle + 1
    client_order_id = cell_order_id(prefix, plan.number(index), side, cycle)
    price = plan.order_price(index, side)
    placed = cell._replace(
        side=side,
        status=status,
        cycle=cycle,
        client_order_id=client_order_id,
        order_id=None,
        order_quantity=quantity,
        order_filled=ZERO,
        trade_ids=_EMPTY,
    )
    return placed, PlaceOrder(
        client_order_id, side, GRID_ORDER_TYPE, quantity, price, False, plan.number(index)
    )


def settle_exit(
    number: int, cell: CellState, ledger: Ledger, timestamp_ms: int
) -> tuple[CellState, Ledger, RecordRoundTrip | None]:
    """`number`: the cell's number (engine.plan.GridPlan.numbers), which the record carries.
    Book what the exit leg has done as a round trip (all of the holding, or the exited part of it
    when the exit order ended early), leaving the rest held."""
    exited = cell.exit_filled
    if exited <= 0 or cell.entry_side is None:
        return cell, ledger, None
    if exited >= cell.holding:
        entry_value, entry_fees = cell.entry_value, cell.entry_fees
    else:  # pro rata; the remainder is kept by subtraction so no value is lost to rounding
        entry_value = cell.entry_value * exited / cell.holding
        entry_fees = cell.entry_fees * exited / cell.holding
    fees = entry_fees + cell.exit_fees
    profit = round_trip_profit(cell.entry_side, entry_value, cell.exit_value, fees)
    record = RecordRoundTrip(
        number, exited, entry_value / exited, cell.exit_value / exited, fees, profit, timestamp_ms
    )
    remaining = max(cell.holding - exited, ZERO)
    settled = cell._replace(
        holding=remaining,
        entry_value=cell.entry_value - entry_value if remaining else ZERO,
        entry_fees=cell.entry_fees - entry_fees if remaining else ZERO,
        exit_filled=ZERO,
        exit_value=ZERO,
        exit_fees=ZERO,
    )
    return settled, ledger.with_round_trip(profit), record


def end_order(
    prefix: str,
    plan: GridPlan,
    index: int,
    cell: CellState,
    ledger: Ledger,
    action: CellAction,
    place_next: bool,
    timestamp_ms: int,
    commands: list[Command],
) -> tuple[CellState, Ledger]:
    """The cell's current order is over (`action` COMPLETED or CANCELLED): settle, go IDLE, and place
    the next order when `place_next`. Appends the resulting commands to `commands`."""
    status = transition(cell.status, action)
    assert status is CellStatus.IDLE, (cell.status, action)
    cell, ledger, record = settle_exit(plan.number(index), cell, ledger, timestamp_ms)
    if record is not None:
        commands.append(record)
    wanted = wanted_order(plan, index, cell)
    cell = cell._replace(
        side=cell.side if wanted is None else wanted[0],
        status=CellStatus.IDLE,
        client_order_id=None,
        order_id=None,
        order_quantity=ZERO,
        order_filled=ZERO,
        trade_ids=_EMPTY,
        previous_client_order_id=cell.client_order_id,
        previous_trade_ids=cell.trade_ids,
    )
    if place_next:
        cell, order = place(prefix, plan, index, cell)
        if order is not None:
            commands.append(order)
    return cell, ledger
