"""The venue's answers about an order's life: accepted, rejected, cancelled.

Events for the cell's previous order are stale repeats and change nothing; events for orders the
session does not know are reported. A rejection leaves the cell IDLE (a rejection usually repeats if
retried at once, e.g. insufficient margin): the next reconciliation places it again. A look-up
that found no such order (-1006: the placement never reached the venue) re-places at once, under a
new id. A duplicate client_order_id rejection (-1007) means the order is already live, so the cell
keeps it. A cancel the engine did not ask for (the user on the venue's UI, the venue itself) ends the
order like a fill would:
a partly filled entry leaves the cell holding what was filled, and the cell places its counter order
for exactly that; a partly filled exit books the exited part as a round trip and re-places the rest.
One that ended unfilled (a post-only order that would have taken) parks the cell until the mark lets
its order rest (engine.stops.apply_mark).
"""

from __future__ import annotations

from engine.cell_orders import end_order, place, replace_cell
from engine.cells import CellAction, CellState, CellStatus, transition
from engine.commands import Command, ReportAnomaly
from engine.events import OrderAccepted, OrderCancelled, OrderRejected
from engine.order_ids import parse_client_order_id
from engine.state import SessionState, SessionStatus

DUPLICATE_CLIENT_ORDER_ID_CODE = -1007
ORDER_NOT_FOUND_CODE = -1006  # a look-up found no such order: the venue never saw it

_NO_COMMANDS: tuple[Command, ...] = ()


def _route(state: SessionState, client_order_id: str) -> tuple[int, CellState] | None:
    """The cell whose CURRENT order this is, or None."""
    parsed = parse_client_order_id(client_order_id)
    if parsed is None or parsed.prefix != state.prefix or parsed.cell_index is None:
        return None
    index = state.plan.position(parsed.cell_index)
    if index is None or state.cells[index].client_order_id != client_order_id:
        return None
    return index, state.cells[index]


def _stale_or_unknown(state: SessionState, client_order_id: str, event: str) -> tuple[Command, ...]:
    parsed = parse_client_order_id(client_order_id)
    if parsed is not None and parsed.prefix == state.prefix:
        if parsed.cell_index is None:
            return _NO_COMMANDS  # the closing order's lifecycle needs nothing from the engine
        index = state.plan.position(parsed.cell_index)
        if index is None and parsed.cell_index < state.plan.next_number:
            return _NO_COMMANDS  # a cell a trailing shift dropped: its order's end needs nothing
        if index is not None and state.cells[index].previous_client_order_id == client_order_id:
            return _NO_COMMANDS
    return (ReportAnomaly(f"unknown_order_{event}", f"client_order_id={client_order_id}"),)


def _illegal(cell: CellState, action: CellAction, client_order_id: str) -> tuple[Command, ...]:
    detail = f"client_order_id={client_order_id} status={cell.status} action={action}"
    return (ReportAnomaly("illegal_transition", detail),)


def apply_accepted(state: SessionState, event: OrderAccepted) -> tuple[SessionState, tuple[Command, ...]]:
    routed = _route(state, event.client_order_id)
    if routed is None:
        return state, _stale_or_unknown(state, event.client_order_id, "accepted")
    index, cell = routed
    status = transition(cell.status, CellAction.ACCEPTED)
    if status is None:
        return state, _illegal(cell, CellAction.ACCEPTED, event.client_order_id)
    if status is cell.status and cell.order_id == event.order_id:
        return state, _NO_COMMANDS
    cell = cell._replace(status=status, order_id=event.order_id)
    return state._replace(cells=replace_cell(state.cells, index, cell)), _NO_COMMANDS


def apply_rejected(state: SessionState, event: OrderRejected) -> tuple[SessionState, tuple[Command, ...]]:
    routed = _route(state, event.client_order_id)
    if routed is None:
        return state, _stale_or_unknown(state, event.client_order_id, "rejected")
    index, cell = routed
    detail = f"client_order_id={event.client_order_id} code={event.code} reason={event.reason}"
    if event.code == DUPLICATE_CLIENT_ORDER_ID_CODE:
        return state, (ReportAnomaly("duplicate_client_order_id", detail + " (the order is already live)"),)
    status = transition(cell.status, CellAction.REJECTED)
    if status is None:
        return state, _illegal(cell, CellAction.REJECTED, event.client_order_id)
    cell = cell._replace(
        status=status,
        client_order_id=None,
        order_id=None,
        previous_client_order_id=cell.client_order_id,
        previous_trade_ids=cell.trade_ids,
    )
    commands: list[Command] = [ReportAnomaly("order_rejected", detail)]
    if event.code == ORDER_NOT_FOUND_CODE and state.status is SessionStatus.RUNNING:
        # The venue never saw the order (a placement lost on the way): the cell places a NEW order
        # under its next cycle's id; the lost id is never sent again.
        cell, order = place(state.prefix, state.plan, index, cell)
        if order is not None:
            commands.append(order)
    return state._replace(cells=replace_cell(state.cells, index, cell)), tuple(commands)


def apply_cancelled(state: SessionState, event: OrderCancelled) -> tuple[SessionState, tuple[Command, ...]]:
    routed = _route(state, event.client_order_id)
    if routed is None:
        return state, _stale_or_unknown(state, event.client_order_id, "cancelled")
    index, cell = routed
    if transition(cell.status, CellAction.CANCELLED) is None:
        return state, _illegal(cell, CellAction.CANCELLED, event.client_order_id)
    commands: list[Command] = []
    running = state.status is SessionStatus.RUNNING
    # Ended unfilled without the grid asking: a post-only order that would have taken (or a cancel
    # on the venue's UI). Placing it again now would only repeat that, so the cell waits for a mark
    # at which its order rests.
    park = running and cell.status is not CellStatus.CANCELLING and cell.order_filled == 0
    cell, ledger = end_order(
        state.prefix,
        state.plan,
        index,
        cell,
        state.ledger,
        CellAction.CANCELLED,
        running and not park,
        event.timestamp_ms,
        commands,
    )
    parked = state.parked_cells | {index} if park else state.parked_cells
    new_state = state._replace(
        cells=replace_cell(state.cells, index, cell), ledger=ledger, parked_cells=parked
    )
    return new_state, tuple(commands)
