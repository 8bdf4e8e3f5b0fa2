"""The fused hot path for a completing fill must agree with the general path it short-cuts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine import Command, Fill, OrderAccepted, PlaceOrder, SessionState, start, step
from engine.cell_orders import end_order, replace_cell
from engine.cells import CellAction, transition
from engine.commands import RecordFill
from engine.fills import accumulate, route_index
from tests.engine.support import RULES, fill, make_config, orders_of

D = Decimal


def general_path(state: SessionState, event: Fill) -> tuple[SessionState, tuple[Command, ...]]:
    index = route_index(event.client_order_id, state.prefix)
    assert index is not None
    cell = state.cells[index]
    status = transition(cell.status, CellAction.FILL)
    assert status is not None
    filled = cell.order_filled + event.quantity
    cell = accumulate(cell, status, event, (event.order_id, event.trade_id), filled)
    ledger = state.ledger.with_trade(event.side, event.price, event.quantity, event.fee)
    commands: list[Command] = [
        RecordFill(
            event.client_order_id,
            event.order_id,
            event.trade_id,
            index,
            event.side,
            event.price,
            event.quantity,
            event.fee,
            event.timestamp_ms,
        )
    ]
    cell, ledger = end_order(
        state.prefix,
        state.plan,
        index,
        cell,
        ledger,
        CellAction.COMPLETED,
        True,
        event.timestamp_ms,
        commands,
    )
    return state._replace(cells=replace_cell(state.cells, index, cell), ledger=ledger), tuple(commands)


@pytest.mark.parametrize("price", [D("42000"), D("44000")])
@pytest.mark.parametrize("acknowledged", [True, False])
def test_fast_path_equals_general_path_on_entry_and_exit(price: Decimal, acknowledged: bool) -> None:
    state, commands = start(make_config(), RULES)
    order: PlaceOrder = next(o for o in orders_of(commands) if o.price == price)
    for leg in range(2):
        if acknowledged:
            state, _ = step(state, OrderAccepted(order.client_order_id, f"o{leg}"))
        event = fill(order, f"t{leg}", order_id=f"o{leg}", fee=D("0.0123"), timestamp_ms=leg)
        fast = step(state, event)
        assert fast == general_path(state, event)
        state, commands = fast
        [order] = orders_of(commands)
