"""Arbitrary event sequences, most of them nonsense a venue would never send: `step` must never raise,
and the ledger must stay consistent with the records it emitted."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    Direction,
    Event,
    FundingSettled,
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    RecordFill,
    RecordRoundTrip,
    SessionState,
    Side,
    StopRequested,
    VenueOrder,
    VenueSnapshot,
    start,
    step,
)
from tests.engine.support import RULES, make_config

D = Decimal
quantities = st.sampled_from([D("0.001"), D("0.002"), D("0.005"), D("0.00476"), D("1")])
prices = st.sampled_from([D("38000"), D("40000"), D("42000"), D("42500"), D("43000"), D("46000")])


def known_ids(state: SessionState) -> list[str]:
    ids = [state.prefix + "-x" + "S0", "foreign-1"]
    for cell in state.cells:
        ids.extend(cid for cid in (cell.client_order_id, cell.previous_client_order_id) if cid is not None)
    return ids


@st.composite
def any_event(draw: st.DrawFn, state: SessionState) -> Event:
    client_order_id = draw(st.sampled_from(known_ids(state)))
    order_id = draw(st.sampled_from(["1", "2", "3"]))
    kind = draw(st.integers(min_value=0, max_value=9))
    if kind <= 2:
        quantity = draw(quantities)
        cls = OrderFilled if kind == 0 else OrderPartiallyFilled
        return cls(
            client_order_id=client_order_id,
            order_id=order_id,
            trade_id=str(draw(st.integers(min_value=0, max_value=5))),
            side=draw(st.sampled_from(Side)),
            price=draw(prices),
            quantity=quantity,
            fee=draw(st.sampled_from([D("0"), D("0.01"), D("-0.01")])),
            cumulative_quantity=quantity + draw(quantities),
            timestamp_ms=draw(st.integers(min_value=0, max_value=10)),
        )
    if kind == 3:
        return OrderAccepted(client_order_id, order_id)
    if kind == 4:
        return OrderRejected(client_order_id, "no", draw(st.sampled_from([None, -1007, -1101])))
    if kind == 5:
        return OrderCancelled(client_order_id, order_id)
    if kind == 6:
        return MarkPriceUpdated(draw(prices), 1)
    if kind == 7:
        return FundingSettled(D("-0.1"), draw(st.integers(min_value=0, max_value=3)))
    if kind == 8:
        return StopRequested(close_position=draw(st.none() | st.booleans()))
    orders = tuple(
        VenueOrder(cid, "v", Side.BUY, D("40000"), D("0.001"))
        for cid in draw(st.lists(st.sampled_from(known_ids(state)), max_size=4))
    )
    return VenueSnapshot(
        orders, draw(st.sampled_from([D(0), D("0.001")])), draw(st.integers(min_value=0, max_value=20))
    )


@settings(max_examples=150, deadline=None)
@given(
    direction=st.sampled_from(Direction),
    trigger=st.sampled_from([None, D("41500")]),
    data=st.data(),
)
def test_any_event_sequence_is_handled_without_raising_and_books_consistently(
    direction: Direction, trigger: Decimal | None, data: st.DataObject
) -> None:
    stop_loss = D("45500") if direction is Direction.SHORT else D("39000")
    config = make_config(direction=direction, trigger_price=trigger, stop_loss_price=stop_loss)
    state, _ = start(config, RULES)
    position, realized = D(0), D(0)
    for _ in range(data.draw(st.integers(min_value=1, max_value=40))):
        state, commands = step(state, data.draw(any_event(state)))
        for command in commands:
            if isinstance(command, RecordFill):
                position += command.quantity if command.side is Side.BUY else -command.quantity
            elif isinstance(command, RecordRoundTrip):
                realized += command.profit
        assert sum(1 for cell in state.cells if cell.is_live and cell.client_order_id is None) == 0
    assert state.ledger.position == position
    assert state.ledger.realized_grid_profit == realized
