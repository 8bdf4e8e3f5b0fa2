from __future__ import annotations

from decimal import Decimal

from engine import (
    CancelOrder,
    ClosePosition,
    Direction,
    MarkPriceUpdated,
    OrderCancelled,
    PlaceOrder,
    SessionStatus,
    SessionStopped,
    Side,
    StopReason,
    StopRequested,
    start,
    step,
)
from tests.engine.support import RULES, fill, make_config, of_type, orders_of

D = Decimal


def mark(price: str) -> MarkPriceUpdated:
    return MarkPriceUpdated(D(price), 1)


def test_session_with_a_trigger_waits_until_the_mark_crosses_it() -> None:
    state, commands = start(make_config(trigger_price=D("41500")), RULES)
    assert state.status is SessionStatus.PENDING_TRIGGER
    assert commands == ()
    state, commands = step(state, mark("41600"))
    assert commands == ()
    state, commands = step(state, mark("41500"))
    assert state.status is SessionStatus.RUNNING
    # the cells' sides are decided at the trigger price: 41500 is mid-cell, the tie goes to BUY at 41000
    placed = {order.price: order.side for order in orders_of(commands)}
    assert placed == {
        D("40000"): Side.BUY,
        D("41000"): Side.BUY,
        D("43000"): Side.SELL,
        D("44000"): Side.SELL,
        D("45000"): Side.SELL,
    }


def test_trigger_above_the_price_is_crossed_upwards() -> None:
    state, _ = start(make_config(trigger_price=D("43500")), RULES)
    state, commands = step(state, mark("43400"))
    assert commands == ()
    state, commands = step(state, mark("43600"))
    assert state.status is SessionStatus.RUNNING
    assert orders_of(commands)


def test_manual_stop_cancels_every_live_order_and_records_the_reason() -> None:
    state, commands = start(make_config(), RULES)
    live = {order.client_order_id for order in orders_of(commands)}
    state, commands = step(state, StopRequested())
    assert {cancel.client_order_id for cancel in of_type(commands, CancelOrder)} == live
    assert of_type(commands, ClosePosition) == []
    assert of_type(commands, SessionStopped) == [SessionStopped(StopReason.MANUAL, "stop requested")]
    assert state.status is SessionStatus.STOPPED
    assert state.stop_reason is StopReason.MANUAL


def test_stop_asked_to_close_flattens_the_position_with_a_reduce_only_market_order() -> None:
    state, commands = start(make_config(), RULES)
    buy = next(order for order in orders_of(commands) if order.price == D("42000"))
    state, _ = step(state, fill(buy, "t1"))
    state, commands = step(state, StopRequested(close_position=True))
    [close] = of_type(commands, ClosePosition)
    assert (close.side, close.quantity) == (Side.SELL, buy.quantity)
    again, commands = step(state, StopRequested(close_position=True))
    assert (again, commands) == (state, ())


def test_stop_loss_for_a_long_grid_fires_when_the_mark_falls_to_it() -> None:
    config = make_config(direction=Direction.LONG, stop_loss_price=D("39000"), close_position_on_stop=True)
    state, _ = start(config, RULES)
    state, commands = step(state, mark("39001"))
    assert commands == ()
    state, commands = step(state, mark("39000"))
    assert of_type(commands, SessionStopped)[0].reason is StopReason.STOP_LOSS
    assert len(of_type(commands, CancelOrder)) == 3
    assert of_type(commands, ClosePosition) == []  # flat: nothing to close


def test_take_profit_for_a_both_grid_fires_when_the_mark_rises_to_it() -> None:
    state, _ = start(make_config(take_profit_price=D("46000")), RULES)
    state, commands = step(state, mark("46500"))
    assert of_type(commands, SessionStopped)[0].reason is StopReason.TAKE_PROFIT


def test_short_grid_stops_mirror_the_long_ones() -> None:
    config = make_config(direction=Direction.SHORT, stop_loss_price=D("46000"), take_profit_price=D("39000"))
    state, _ = start(config, RULES)
    _, commands = step(state, mark("46000"))
    assert of_type(commands, SessionStopped)[0].reason is StopReason.STOP_LOSS
    _, commands = step(state, mark("38000"))
    assert of_type(commands, SessionStopped)[0].reason is StopReason.TAKE_PROFIT


def test_stop_loss_fires_while_waiting_for_the_trigger() -> None:
    state, _ = start(make_config(trigger_price=D("41500"), stop_loss_price=D("39000")), RULES)
    state, commands = step(state, mark("38000"))
    assert state.status is SessionStatus.STOPPED
    assert of_type(commands, CancelOrder) == []
    assert orders_of(commands) == []


def test_stopped_session_books_fills_but_places_nothing() -> None:
    state, commands = start(make_config(), RULES)
    buy = next(order for order in orders_of(commands) if order.price == D("42000"))
    state, _ = step(state, StopRequested())
    state, commands = step(state, fill(buy, "t1"))  # the fill raced the cancel
    assert orders_of(commands) == []
    assert state.ledger.position == buy.quantity
    state, commands = step(state, OrderCancelled(buy.client_order_id, "o1"))
    assert orders_of(commands) == []
    state, commands = step(state, mark("30000"))
    assert commands == ()


def test_cancel_confirmations_after_a_stop_place_nothing() -> None:
    state, commands = start(make_config(), RULES)
    placed = orders_of(commands)
    state, _ = step(state, StopRequested())
    for order in placed:
        state, commands = step(state, OrderCancelled(order.client_order_id, "x"))
        assert orders_of(commands) == []
    assert not any(cell.is_live for cell in state.cells)


def _stop_with_a_position(configured: bool, requested: bool | None) -> tuple[PlaceOrder, list[ClosePosition]]:
    state, commands = start(make_config(close_position_on_stop=configured), RULES)
    buy = next(order for order in orders_of(commands) if order.price == D("42000"))
    state, _ = step(state, fill(buy, "t1"))
    state, commands = step(state, StopRequested(close_position=requested))
    assert state.status is SessionStatus.STOPPED
    assert len(of_type(commands, SessionStopped)) == 1
    return buy, of_type(commands, ClosePosition)


def test_manual_stop_without_a_choice_closes_when_the_config_says_close() -> None:
    buy, closes = _stop_with_a_position(configured=True, requested=None)
    assert [(close.side, close.quantity) for close in closes] == [(Side.SELL, buy.quantity)]


def test_manual_stop_without_a_choice_keeps_the_position_when_the_config_says_keep() -> None:
    _, closes = _stop_with_a_position(configured=False, requested=None)
    assert closes == []


def test_manual_stop_asking_to_close_closes_although_the_config_says_keep() -> None:
    buy, closes = _stop_with_a_position(configured=False, requested=True)
    assert [(close.side, close.quantity) for close in closes] == [(Side.SELL, buy.quantity)]


def test_manual_stop_asking_to_close_closes_when_the_config_says_close_too() -> None:
    buy, closes = _stop_with_a_position(configured=True, requested=True)
    assert [(close.side, close.quantity) for close in closes] == [(Side.SELL, buy.quantity)]


def test_manual_stop_asking_not_to_close_keeps_the_position_although_the_config_says_close() -> None:
    _, closes = _stop_with_a_position(configured=True, requested=False)
    assert closes == []


def test_manual_stop_asking_not_to_close_keeps_the_position_when_the_config_says_keep() -> None:
    _, closes = _stop_with_a_position(configured=False, requested=False)
    assert closes == []


def test_stop_request_leaves_the_close_to_the_config_by_default() -> None:
    assert StopRequested().close_position is None


def test_second_stop_without_a_choice_closes_a_position_left_open_only_when_configured() -> None:
    state, commands = start(make_config(close_position_on_stop=True), RULES)
    buy = next(order for order in orders_of(commands) if order.price == D("42000"))
    state, _ = step(state, fill(buy, "t1"))
    state, commands = step(state, StopRequested(close_position=False))
    assert of_type(commands, ClosePosition) == []
    state, commands = step(state, StopRequested())  # "as configured": the config says close
    assert [(close.side, close.quantity) for close in of_type(commands, ClosePosition)] == [
        (Side.SELL, buy.quantity)
    ]
