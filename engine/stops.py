"""Session lifecycle: the trigger, stop-loss / take-profit on the mark, and stopping.

- Trigger: a session with `trigger_price` starts PENDING_TRIGGER and places its ladder when the mark
  crosses the trigger, moving from the side of `current_price` (trigger above current: mark >= trigger;
  below: mark <= trigger). The ladder's sides were decided at the trigger price (GridConfig.anchor_price).
- Trailing grids shift on the mark (engine.trailing), after the stops and the trigger are checked.
- Parked cells (their post-only order was cancelled unfilled: it would have taken) place their order
  again, under a new id, on the first mark at which it rests.
- Stop-loss / take-profit: LONG and BOTH stop-loss when mark <= stop_loss_price and take-profit when
  mark >= take_profit_price; SHORT mirrors it (stop-loss when mark >= stop_loss_price, take-profit when
  mark <= take_profit_price). Checked while pending too, before the trigger.
- A stop cancels every live order, closes the position with a reduce-only market order when asked
  (a manual stop's explicit StopRequested.close_position, else config.close_position_on_stop; stop-loss
  and take-profit follow the config), records the reason and moves to
  STOPPED. A stopped session still books fills and cancels but never places a cell order again. A later
  manual stop asking to close a still-open position issues the close once.
"""

from __future__ import annotations

from decimal import Decimal

from engine.cell_orders import place, rests_at, wanted_order
from engine.cells import CellAction, CellState, CellStatus, transition
from engine.commands import CancelOrder, ClosePosition, Command, PlaceOrder, SessionStopped
from engine.events import MarkPriceUpdated, StopRequested
from engine.order_ids import close_order_id
from engine.state import SessionState, SessionStatus
from engine.trailing import apply_trailing, shift_targets, trails, trimmable
from engine.types import Direction, Side, StopReason

_NO_COMMANDS: tuple[Command, ...] = ()


def place_ladder(state: SessionState) -> tuple[SessionState, list[PlaceOrder]]:
    """Every trading cell that has no live order gets one."""
    cells: list[CellState] = []
    orders: list[PlaceOrder] = []
    for index, cell in enumerate(state.cells):
        placed, order = place(state.prefix, state.plan, index, cell)
        cells.append(placed)
        if order is not None:
            orders.append(order)
    return state._replace(cells=tuple(cells)), orders


def stop(
    state: SessionState, reason: StopReason, close_position: bool, detail: str
) -> tuple[SessionState, list[Command]]:
    commands: list[Command] = []
    if state.status is SessionStatus.STOPPED:
        if close_position and not state.close_requested:
            state = _close(state, commands)
        return state, commands
    cells: list[CellState] = []
    for cell in state.cells:
        status = transition(cell.status, CellAction.CANCEL_REQUESTED) if cell.is_live else None
        if status is not None and cell.client_order_id is not None:
            commands.append(CancelOrder(cell.client_order_id, cell.order_id))
            cell = cell._replace(status=status)
        cells.append(cell)
    state = state._replace(
        cells=tuple(cells), status=SessionStatus.STOPPED, stop_reason=reason, stop_detail=detail
    )
    if close_position:
        state = _close(state, commands)
    commands.append(SessionStopped(reason, detail))
    return state, commands


def _close(state: SessionState, commands: list[Command]) -> SessionState:
    """Close the position as the engine knows it (fills racing the cancels are the shell's to flatten
    with a reduce-only order: reduce-only never overshoots)."""
    position = state.ledger.position
    if position == 0:
        return state._replace(close_requested=True)
    side = Side.SELL if position > 0 else Side.BUY
    client_order_id = close_order_id(state.prefix, side, state.close_sequence)
    commands.append(ClosePosition(client_order_id, side, abs(position)))
    return state._replace(close_requested=True, close_sequence=state.close_sequence + 1)


def _stop_hit(state: SessionState, mark: Decimal) -> tuple[StopReason, str] | None:
    config = state.config
    short = config.direction is Direction.SHORT
    stop_loss, take_profit = config.stop_loss_price, config.take_profit_price
    if stop_loss is not None and (mark >= stop_loss if short else mark <= stop_loss):
        return StopReason.STOP_LOSS, f"mark {mark} crossed stop_loss_price {stop_loss}"
    if take_profit is not None and (mark <= take_profit if short else mark >= take_profit):
        return StopReason.TAKE_PROFIT, f"mark {mark} crossed take_profit_price {take_profit}"
    return None


def trigger_crossed(state: SessionState, mark: Decimal) -> bool:
    trigger, current = state.config.trigger_price, state.config.current_price
    if trigger is None:
        return True
    return mark >= trigger if trigger > current else mark <= trigger


def mark_matters(state: SessionState, mark: Decimal) -> bool:
    """Whether `apply_mark` would change anything at this mark: a stop or take-profit crossed, a
    trigger crossed, a trailing grid's next shift line reached (or retired cells to trim), or parked
    cells that may rest now. Every other mark only values the session, so the shell need not wake
    the session for it (it keeps the mark for valuations itself)."""
    if state.status is SessionStatus.STOPPED:
        return False
    if _stop_hit(state, mark) is not None:
        return True
    if state.status is SessionStatus.PENDING_TRIGGER:
        return trigger_crossed(state, mark)
    if trails(state.config):  # RUNNING from here
        up, down = shift_targets(state)
        if (up is not None and mark >= up) or (down is not None and mark <= down) or trimmable(state):
            return True
    return bool(state.parked_cells)


def apply_mark(state: SessionState, event: MarkPriceUpdated) -> tuple[SessionState, tuple[Command, ...]]:
    if state.status is SessionStatus.STOPPED:
        return state, _NO_COMMANDS
    hit = _stop_hit(state, event.price)
    if hit is not None:
        stopped, commands = stop(state, hit[0], state.config.close_position_on_stop, hit[1])
        return stopped, tuple(commands)
    if state.status is SessionStatus.PENDING_TRIGGER and trigger_crossed(state, event.price):
        running, orders = place_ladder(state._replace(status=SessionStatus.RUNNING))
        return running, tuple(orders)
    shifted = _NO_COMMANDS
    if state.status is SessionStatus.RUNNING and trails(state.config):
        state, shifted = apply_trailing(state, event.price, event.timestamp_ms)
    if state.parked_cells and state.status is SessionStatus.RUNNING:
        state, unparked = unpark(state, event.price)
        return state, shifted + unparked
    return state, shifted


def unpark(state: SessionState, mark: Decimal) -> tuple[SessionState, tuple[Command, ...]]:
    """Parked cells whose order rests at `mark` place it (a new id); the others keep waiting."""
    cells = list(state.cells)
    parked = set(state.parked_cells)
    orders: list[Command] = []
    for index in sorted(state.parked_cells):
        cell = cells[index]
        wanted = wanted_order(state.plan, index, cell)
        if cell.status is not CellStatus.IDLE or wanted is None:
            parked.discard(index)  # something else moved the cell on
            continue
        if not rests_at(wanted[0], state.plan.order_price(index, wanted[0]), mark):
            continue
        cells[index], order = place(state.prefix, state.plan, index, cell)
        parked.discard(index)
        if order is not None:
            orders.append(order)
    if len(parked) == len(state.parked_cells):
        return state, _NO_COMMANDS
    return state._replace(cells=tuple(cells), parked_cells=frozenset(parked)), tuple(orders)


def apply_stop_request(state: SessionState, event: StopRequested) -> tuple[SessionState, tuple[Command, ...]]:
    close = state.config.close_position_on_stop if event.close_position is None else event.close_position
    stopped, commands = stop(state, StopReason.MANUAL, close, "stop requested")
    return stopped, tuple(commands)
