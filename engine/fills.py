"""Applying a trade to the session: idempotent by (order_id, trade_id), tolerant of reordering.

- A trade of the cell's current order accumulates in the cell; when the order's executed quantity
  reaches its quantity the cell books and flips (see cell_orders.end_order).
- A fill may overtake its OrderAccepted: it is applied and carries the order_id.
- A trade whose cumulative quantity is ahead of what the engine saw is applied with its own quantity;
  the gap is reported and a QueryOrder asks the shell to fetch the missing trades (they arrive as fills
  and are applied in turn). An OrderFilled that leaves the order short of its quantity does the same:
  the cell only flips once every trade is in, so the counter order is never mis-sized.
- A late trade of the cell's previous order (e.g. one that raced a cancel) is booked in the ledger and
  reported; it no longer moves the cell.
- A trade of any other order of this session's cells (an older cycle, an order thought never placed)
  is booked in the ledger exactly once (by its key in `orphan_trade_keys`) and reported: never dropped.
- A trade of an order whose id this session could not have made is reported, never applied.
"""

from __future__ import annotations

import re
from decimal import Decimal

from engine.cell_orders import end_order, replace_cell
from engine.cells import CellAction, CellState, CellStatus, transition
from engine.commands import (
    GRID_ORDER_TYPE,
    Command,
    PlaceOrder,
    QueryOrder,
    RecordFill,
    RecordRoundTrip,
    ReportAnomaly,
)
from engine.events import Fill, OrderFilled
from engine.ledger import Ledger, round_trip_profit
from engine.order_ids import MAX_CLIENT_ORDER_ID_LENGTH, cell_order_id, parse_client_order_id
from engine.plan import GridPlan
from engine.state import SessionState, SessionStatus
from engine.types import ZERO, Side

_EMPTY: frozenset[tuple[str, str]] = frozenset()


def _record(fill: Fill, cell_index: int | None) -> RecordFill:
    return RecordFill(
        fill.client_order_id,
        fill.order_id,
        fill.trade_id,
        cell_index,
        fill.side,
        fill.price,
        fill.quantity,
        fill.fee,
        fill.timestamp_ms,
    )


_CLOSE = -1
_CELL_PART = re.compile(r"([0-9]+)[BS]")


def route_index(client_order_id: str, prefix: str) -> int | None:
    """Cheap routing: the cell index an id of this session names, _CLOSE for a closing order, None for
    anything else. Callers compare the whole id with the cell's, which completes the check."""
    size = len(prefix)
    if (
        not client_order_id.startswith(prefix)
        or client_order_id[size : size + 1] != "-"
        or len(client_order_id) > MAX_CLIENT_ORDER_ID_LENGTH
    ):
        return None
    match = _CELL_PART.match(client_order_id, size + 1)
    if match is not None:
        return int(match[1])
    if client_order_id[size + 1 : size + 2] == "x" and parse_client_order_id(client_order_id) is not None:
        return _CLOSE
    return None


def apply_fill(state: SessionState, fill: Fill) -> tuple[SessionState, tuple[Command, ...]]:
    client_order_id = fill.client_order_id
    if not (fill.quantity > 0 and fill.price > 0):
        return state, (_anomaly("invalid_fill", fill, f"quantity {fill.quantity} price {fill.price}"),)
    index = route_index(client_order_id, state.prefix)
    if index == _CLOSE:
        return _apply_close_fill(state, fill)
    cells = state.cells
    plan = state.plan
    if index is None:
        return state, (_anomaly("unknown_order_fill", fill),)
    number = index
    if plan.numbers:  # a grid that shifted: the id names the cell's number, not its position
        position = plan.position(number)
        if position is None:
            if number < plan.next_number and parse_client_order_id(client_order_id) is not None:
                # A cell a shift dropped and that is done: its trades are still the session's.
                return _apply_orphan_fill(state, fill, number)
            return state, (_anomaly("unknown_order_fill", fill),)
        index = position
    elif index >= len(cells):
        return state, (_anomaly("unknown_order_fill", fill),)
    cell = cells[index]
    key = (fill.order_id, fill.trade_id)
    if client_order_id != cell.client_order_id:
        if client_order_id != cell.previous_client_order_id:
            if parse_client_order_id(client_order_id) is None:  # not an id this session ever made
                return state, (_anomaly("unknown_order_fill", fill),)
            return _apply_orphan_fill(state, fill, number)
        if key in cell.previous_trade_ids:
            return state, ()
        late = cell._replace(previous_trade_ids=cell.previous_trade_ids | {key})
        ledger = state.ledger.with_trade(fill.side, fill.price, fill.quantity, fill.fee)
        new_state = state._replace(cells=replace_cell(cells, index, late), ledger=ledger)
        return new_state, (_record(fill, number), _anomaly("late_fill", fill))
    if key in cell.trade_ids:
        return state, ()
    status = transition(cell.status, CellAction.FILL)
    if status is None or fill.side is not cell.side:
        note = f"a {fill.side} trade for the cell's {cell.side} order in status {cell.status}"
        return state, (_anomaly("illegal_fill", fill, note),)
    quantity = fill.quantity
    filled = cell.order_filled + quantity
    value = quantity * fill.price
    ledger = state.ledger.with_value(fill.side, quantity, value, fill.fee)
    running = state.status is SessionStatus.RUNNING
    if filled == cell.order_quantity and fill.cumulative_quantity == filled and running:
        # The hot path: a trade completing the order, nothing unusual about it.
        flipped, ledger, commands = complete_fast(state.prefix, state.plan, index, cell, fill, value, ledger)
        if flipped is not None:
            return _with(state, replace_cell(cells, index, flipped), ledger), commands
    commands_list: list[Command] = [_record(fill, number)]
    if fill.cumulative_quantity > filled:
        note = f"cumulative {fill.cumulative_quantity} > applied {filled}"
        commands_list.append(_anomaly("fill_gap", fill, note))
        commands_list.append(QueryOrder(client_order_id, fill.order_id, "fill_gap"))
    cell = accumulate(cell, status, fill, key, filled)
    if filled >= cell.order_quantity:
        if filled > cell.order_quantity:
            commands_list.append(
                _anomaly("overfill", fill, f"{filled} > order quantity {cell.order_quantity}")
            )
        cell, ledger = end_order(
            state.prefix,
            state.plan,
            index,
            cell,
            ledger,
            CellAction.COMPLETED,
            running,
            fill.timestamp_ms,
            commands_list,
        )
    elif type(fill) is OrderFilled and fill.cumulative_quantity <= filled:
        # The venue calls the order done but the engine has not seen all of it (and no gap said so).
        commands_list.append(_anomaly("filled_short", fill, f"applied {filled} of {cell.order_quantity}"))
        commands_list.append(QueryOrder(client_order_id, fill.order_id, "filled_short"))
    return _with(state, replace_cell(cells, index, cell), ledger), tuple(commands_list)


def _with(state: SessionState, cells: tuple[CellState, ...], ledger: Ledger) -> SessionState:
    # Equivalent to state._replace(cells=..., ledger=...), without its per-call overhead.
    return SessionState._make((*state[:5], cells, ledger, *state[7:]))


def accumulate(
    cell: CellState, status: CellStatus, fill: Fill, key: tuple[str, str], filled: Decimal
) -> CellState:
    """The cell with one more trade of its current order applied."""
    quantity, value = fill.quantity, fill.quantity * fill.price
    if cell.side is cell.entry_side:
        return cell._replace(
            status=status,
            order_id=fill.order_id,
            order_filled=filled,
            trade_ids=cell.trade_ids | {key},
            holding=cell.holding + quantity,
            entry_value=cell.entry_value + value,
            entry_fees=cell.entry_fees + fill.fee,
        )
    return cell._replace(
        status=status,
        order_id=fill.order_id,
        order_filled=filled,
        trade_ids=cell.trade_ids | {key},
        exit_filled=cell.exit_filled + quantity,
        exit_value=cell.exit_value + value,
        exit_fees=cell.exit_fees + fill.fee,
    )


def complete_fast(
    prefix: str, plan: GridPlan, index: int, cell: CellState, fill: Fill, value: Decimal, ledger: Ledger
) -> tuple[CellState | None, Ledger, tuple[Command, ...]]:
    """`accumulate` then `end_order(COMPLETED, place_next=True)` fused into one cell construction,
    for a running session. Returns (None, ...) when the case is not the plain one; the general path
    then handles it. tests/engine/test_fills.py holds the two paths equal."""
    entry_side = cell.entry_side
    if entry_side is None:
        return None, ledger, ()
    number = plan.numbers[index] if plan.numbers else index
    record = _record(fill, number)
    key_set = cell.trade_ids | {(fill.order_id, fill.trade_id)}
    cycle = cell.cycle + 1
    if cell.side is entry_side:
        holding = cell.holding + fill.quantity
        side = entry_side.opposite
        new_id = cell_order_id(prefix, number, side, cycle)
        flipped = CellState._make(
            (
                entry_side,
                side,
                CellStatus.PLACING,
                cycle,
                new_id,
                None,
                holding,
                ZERO,
                _EMPTY,
                holding,
                cell.entry_value + value,
                cell.entry_fees + fill.fee,
                ZERO,
                ZERO,
                ZERO,
                cell.client_order_id,
                key_set,
            )
        )
        price = plan.lines[index + 1] if side is Side.SELL else plan.lines[index]
        order = PlaceOrder(new_id, side, GRID_ORDER_TYPE, holding, price, False, number)
        return flipped, ledger, (record, order)
    exited = cell.exit_filled + fill.quantity
    quantity = plan.quantities[index]
    if exited != cell.holding or quantity <= 0:  # quantity 0: a retired cell, it enters no more
        return None, ledger, ()
    exit_value = cell.exit_value + value
    fees = cell.entry_fees + cell.exit_fees + fill.fee
    profit = round_trip_profit(entry_side, cell.entry_value, exit_value, fees)
    round_trip = RecordRoundTrip(
        number, exited, cell.entry_value / exited, exit_value / exited, fees, profit, fill.timestamp_ms
    )
    new_id = cell_order_id(prefix, number, entry_side, cycle)
    flipped = CellState(
        entry_side,
        entry_side,
        CellStatus.PLACING,
        cycle,
        new_id,
        None,
        quantity,
        ZERO,
        _EMPTY,
        ZERO,
        ZERO,
        ZERO,
        ZERO,
        ZERO,
        ZERO,
        cell.client_order_id,
        key_set,
    )
    price = plan.lines[index] if entry_side is Side.BUY else plan.lines[index + 1]
    order = PlaceOrder(new_id, entry_side, GRID_ORDER_TYPE, quantity, price, False, number)
    ledger = Ledger(
        ledger.position,
        ledger.cost,
        ledger.fees,
        ledger.realized_grid_profit + profit,
        ledger.round_trips + 1,
        ledger.funding,
        ledger.entry_value,
    )  # Ledger.with_round_trip, inlined on the hot path
    return flipped, ledger, (record, round_trip, order)


def _apply_close_fill(state: SessionState, fill: Fill) -> tuple[SessionState, tuple[Command, ...]]:
    key = (fill.order_id, fill.trade_id)
    if key in state.close_trade_keys:
        return state, ()
    ledger = state.ledger.with_trade(fill.side, fill.price, fill.quantity, fill.fee)
    new_state = state._replace(ledger=ledger, close_trade_keys=state.close_trade_keys | {key})
    return new_state, (_record(fill, None),)


def _apply_orphan_fill(
    state: SessionState, fill: Fill, cell_index: int | None
) -> tuple[SessionState, tuple[Command, ...]]:
    """A trade of one of this session's orders that is neither a cell's current nor its previous order
    (an older cycle that traded late, an order whose placement was thought lost): the position and the
    money are the session's, so it is booked, once, and reported; the cells are left as they are."""
    key = (fill.order_id, fill.trade_id)
    if key in state.orphan_trade_keys:
        return state, ()
    ledger = state.ledger.with_trade(fill.side, fill.price, fill.quantity, fill.fee)
    new_state = state._replace(ledger=ledger, orphan_trade_keys=state.orphan_trade_keys | {key})
    return new_state, (_record(fill, cell_index), _anomaly("orphan_fill", fill))


def _anomaly(kind: str, fill: Fill, note: str = "") -> ReportAnomaly:
    detail = f"client_order_id={fill.client_order_id} order_id={fill.order_id} trade_id={fill.trade_id}"
    return ReportAnomaly(kind, f"{detail} {note}" if note else detail)
