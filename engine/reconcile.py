"""Reconciliation: bring the venue to what the engine wants, from a snapshot of the venue's truth.

The venue's open orders are matched to cells by client_order_id:
- An order of this session that is some cell's current order is adopted (its order_id recorded; at most
  one venue order per cell is ever kept). A stopping cell's order still open is cancelled again.
- Any other order carrying this session's prefix (an old cycle, a duplicate, an unknown cell, a stopped
  session's leftovers) is cancelled. Orders without the prefix are never touched.
Then every cell whose current order the venue does not have open gets a QueryOrder: the shell looks the
order up in the venue's history (by client_order_id, with its trades) and feeds back what became of it
-- its trades, then its end (filled, cancelled) or, for an order the venue never saw, a rejection with
code -1006 after which the cell places a NEW order (next cycle). Absence proves nothing and the
positions prove nothing either (a buy and a sell that both filled unseen cancel out), so nothing is
ever re-placed, and no client_order_id is ever sent twice, on the strength of a snapshot.
An IDLE trading cell of a running session (its order was rejected) gets a new order, unless it is
parked (waiting for a mark at which its post-only order rests: engine.stops).
Snapshots no newer than the last one reconciled are ignored, so a repeated snapshot changes nothing.
The shell should reconcile when no placement of its own is in flight (start-up, reconnect, timer).
"""

from __future__ import annotations

from decimal import Decimal

from engine.cell_orders import place
from engine.cells import CellAction, CellState, CellStatus, transition
from engine.commands import CancelOrder, Command, QueryOrder, ReportAnomaly
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
        index = None if parsed.cell_index is None else state.plan.position(parsed.cell_index)
        if index is not None and index not in kept:
            cell = cells[index]
            if cell.is_live and cell.client_order_id == order.client_order_id:
                kept.add(index)
                cells[index] = _adopt(cell, order.order_id, order.executed_quantity, commands)
                if cell.status is CellStatus.CANCELLING:
                    commands.append(CancelOrder(order.client_order_id, order.order_id))
                continue
        commands.append(CancelOrder(order.client_order_id, order.order_id))
    running = state.status is SessionStatus.RUNNING
    if running and snapshot.position_quantity != state.ledger.position:
        detail = f"venue position {snapshot.position_quantity} != engine position {state.ledger.position}"
        commands.append(ReportAnomaly("position_mismatch", detail))
    for index, cell in enumerate(cells):
        if index in kept:
            continue
        if cell.is_live and cell.client_order_id is not None:
            commands.append(QueryOrder(cell.client_order_id, cell.order_id, "not open on the venue"))
        elif running and cell.status is CellStatus.IDLE and index not in state.parked_cells:
            placed, placement = place(state.prefix, state.plan, index, cell)
            if placement is not None:
                commands.append(placement)
                cells[index] = placed
    new_state = state._replace(cells=tuple(cells), last_snapshot_ms=snapshot.timestamp_ms)
    return new_state, tuple(commands)


def _adopt(cell: CellState, order_id: str, executed: Decimal, commands: list[Command]) -> CellState:
    status = transition(cell.status, CellAction.ACCEPTED) or cell.status
    if executed > cell.order_filled:
        assert cell.client_order_id is not None
        commands.append(QueryOrder(cell.client_order_id, order_id, "venue executed more than the engine saw"))
    if status is cell.status and cell.order_id == order_id:
        return cell
    return cell._replace(status=status, order_id=order_id)
