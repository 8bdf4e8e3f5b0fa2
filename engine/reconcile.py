"""Reconciliation: bring the venue to what the engine wants, from a snapshot of the venue's truth.

The venue's open orders are matched to cells by client_order_id:
- An order of this session that is some cell's current order is adopted (its order_id recorded; at most
  one venue order per cell is ever kept). A stopping cell's order still open is cancelled again.
- Any other order carrying this session's prefix (an old cycle, a duplicate, an unknown cell, a stopped
  session's leftovers) is cancelled. Orders without the prefix are never touched.
Then, for a RUNNING session, every cell whose current order the venue does not have:
- If the venue's position equals the engine's, the order did not fill unseen, so it is missing (lost
  placement, unseen cancel): it is placed again with the SAME client_order_id for its unfilled quantity
  (if it was still in flight after all, the venue rejects the duplicate id and the cell keeps it).
- If the positions differ, absence proves nothing (it may have filled): a QueryOrder asks the shell to
  resolve it and nothing is placed. A position the engine does not know about (the user's own trades on
  the symbol) therefore makes reconciliation cautious, never doubling an order.
- An IDLE trading cell (its order was rejected) gets a new order.
For a STOPPED session, a cell whose cancel is unconfirmed and whose order the venue no longer has is
taken as cancelled when the positions agree (the confirmation was lost), and queried otherwise.
Snapshots no newer than the last one reconciled are ignored, so a repeated snapshot changes nothing.
The shell should reconcile when no placement of its own is in flight (start-up, reconnect, timer).
"""

from __future__ import annotations

from decimal import Decimal

from engine.cell_orders import end_order, place
from engine.cells import CellAction, CellState, CellStatus, transition
from engine.commands import CancelOrder, Command, OrderType, PlaceOrder, QueryOrder, ReportAnomaly
from engine.events import VenueSnapshot
from engine.order_ids import parse_client_order_id
from engine.state import SessionState, SessionStatus

_NO_COMMANDS: tuple[Command, ...] = ()


def reconcile(state: SessionState, snapshot: VenueSnapshot) -> tuple[SessionState, tuple[Command, ...]]:
    if snapshot.timestamp_ms <= state.last_snapshot_ms:
        return state, _NO_COMMANDS
    commands: list[Command] = []
    cells = list(state.cells)
    kept: set[int] = set()
    for order in snapshot.open_orders:
        parsed = parse_client_order_id(order.client_order_id)
        if parsed is None or parsed.prefix != state.prefix:
            continue
        index = parsed.cell_index
        if index is not None and index < len(cells) and index not in kept:
            cell = cells[index]
            if cell.is_live and cell.client_order_id == order.client_order_id:
                kept.add(index)
                cells[index] = _adopt(cell, order.order_id, order.executed_quantity, commands)
                if cell.status is CellStatus.CANCELLING:
                    commands.append(CancelOrder(order.client_order_id, order.order_id))
                continue
        commands.append(CancelOrder(order.client_order_id, order.order_id))
    positions_agree = snapshot.position_quantity == state.ledger.position
    ledger = state.ledger
    if state.status is SessionStatus.RUNNING:
        if not positions_agree:
            detail = f"venue position {snapshot.position_quantity} != engine position {state.ledger.position}"
            commands.append(ReportAnomaly("position_mismatch", detail))
        for index, cell in enumerate(cells):
            if index not in kept:
                cells[index] = _restore(state, index, cell, positions_agree, commands)
    elif state.status is SessionStatus.STOPPED:
        for index, cell in enumerate(cells):
            if index in kept or cell.status is not CellStatus.CANCELLING or cell.client_order_id is None:
                continue
            if positions_agree:  # gone without unseen trades: the cancel went through, its answer was lost
                cells[index], ledger = end_order(
                    state.prefix,
                    state.plan,
                    index,
                    cell,
                    ledger,
                    CellAction.CANCELLED,
                    False,
                    snapshot.timestamp_ms,
                    commands,
                )
            else:
                commands.append(QueryOrder(cell.client_order_id, cell.order_id, "cancelled order missing"))
    new_state = state._replace(cells=tuple(cells), ledger=ledger, last_snapshot_ms=snapshot.timestamp_ms)
    return new_state, tuple(commands)


def _adopt(cell: CellState, order_id: str, executed: Decimal, commands: list[Command]) -> CellState:
    status = transition(cell.status, CellAction.ACCEPTED) or cell.status
    if executed > cell.order_filled:
        assert cell.client_order_id is not None
        commands.append(QueryOrder(cell.client_order_id, order_id, "venue executed more than the engine saw"))
    if status is cell.status and cell.order_id == order_id:
        return cell
    return cell._replace(status=status, order_id=order_id)


def _restore(
    state: SessionState, index: int, cell: CellState, positions_agree: bool, commands: list[Command]
) -> CellState:
    if cell.status is CellStatus.IDLE:
        placed, order = place(state.prefix, state.plan, index, cell)
        if order is not None:
            commands.append(order)
        return placed
    if cell.status not in (CellStatus.PLACING, CellStatus.OPEN) or cell.client_order_id is None:
        return cell
    if not positions_agree:
        commands.append(QueryOrder(cell.client_order_id, cell.order_id, "missing from the venue snapshot"))
        return cell
    side = cell.side
    assert side is not None
    price = state.plan.order_price(index, side)
    remaining = cell.order_quantity - cell.order_filled
    commands.append(PlaceOrder(cell.client_order_id, side, OrderType.LIMIT, remaining, price, False, index))
    return cell._replace(status=CellStatus.PLACING, order_id=None)
