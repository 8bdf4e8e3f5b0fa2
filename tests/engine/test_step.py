from __future__ import annotations

from decimal import Decimal

from engine import (
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderType,
    PlaceOrder,
    QueryOrder,
    RecordFill,
    RecordRoundTrip,
    ReportAnomaly,
    SessionState,
    Side,
    VenueOrder,
    VenueSnapshot,
    pnl,
    start,
    step,
)
from engine.cells import CellStatus
from tests.engine.support import RULES, fill, make_config, of_type, orders_of

D = Decimal


def started() -> tuple[SessionState, dict[Decimal, PlaceOrder]]:
    state, commands = start(make_config(), RULES)
    return state, {order.price: order for order in orders_of(commands) if order.price is not None}


def test_worked_example_places_buys_below_and_sells_above_leaving_43000_empty() -> None:
    _, orders = started()
    assert {price: order.side for price, order in orders.items()} == {
        D("40000"): Side.BUY,
        D("41000"): Side.BUY,
        D("42000"): Side.BUY,
        D("44000"): Side.SELL,
        D("45000"): Side.SELL,
    }


def test_worked_example_buy_fill_at_42000_places_a_sell_at_43000() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    state, commands = step(state, OrderAccepted(buy.client_order_id, "o1"))
    assert commands == ()
    state, commands = step(state, fill(buy, "t1"))
    [sell] = orders_of(commands)
    assert (sell.side, sell.price, sell.quantity, sell.cell_index) == (Side.SELL, D("43000"), buy.quantity, 2)
    assert of_type(commands, RecordFill)[0].trade_id == "t1"


def test_sell_fill_books_a_round_trip_net_of_both_fees_and_buys_again() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    state, commands = step(state, fill(buy, "t1", fee=D("0.04")))
    [sell] = orders_of(commands)
    state, commands = step(state, fill(sell, "t2", order_id="o2", fee=D("0.05")))
    [round_trip] = of_type(commands, RecordRoundTrip)
    expected = buy.quantity * (D("43000") - D("42000")) - D("0.09")
    assert round_trip.profit == expected
    assert (round_trip.entry_price, round_trip.exit_price, round_trip.fees) == (
        D("42000"),
        D("43000"),
        D("0.09"),
    )
    [again] = orders_of(commands)
    assert (again.side, again.price, again.quantity) == (Side.BUY, D("42000"), buy.quantity)
    assert len({buy.client_order_id, sell.client_order_id, again.client_order_id}) == 3
    assert state.ledger.realized_grid_profit == expected
    assert state.ledger.round_trips == 1


def test_short_cell_sells_first_then_buys_back_one_line_down() -> None:
    state, orders = started()
    sell = orders[D("44000")]
    state, commands = step(state, fill(sell, "t1"))
    [buy] = orders_of(commands)
    assert (buy.side, buy.price, buy.quantity) == (Side.BUY, D("43000"), sell.quantity)
    state, commands = step(state, fill(buy, "t2", order_id="o2"))
    [round_trip] = of_type(commands, RecordRoundTrip)
    assert round_trip.profit == sell.quantity * D("1000")


def test_partial_fills_accumulate_and_the_counter_order_is_sized_to_the_cumulative_quantity() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    first, rest = D("0.002"), buy.quantity - D("0.002")
    state, commands = step(state, fill(buy, "t1", quantity=first))
    assert orders_of(commands) == []
    assert state.cells[2].order_filled == first
    state, commands = step(state, fill(buy, "t2", quantity=rest, cumulative=buy.quantity))
    [sell] = orders_of(commands)
    assert sell.quantity == buy.quantity


def test_cancel_after_partial_fill_leaves_the_cell_holding_what_filled_and_places_its_counter() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    state, _ = step(state, fill(buy, "t1", quantity=D("0.001")))
    state, commands = step(state, OrderCancelled(buy.client_order_id, "o1", "user cancel"))
    assert state.cells[2].holding == D("0.001")
    [sell] = orders_of(commands)
    assert (sell.side, sell.price, sell.quantity) == (Side.SELL, D("43000"), D("0.001"))


def test_unrequested_cancel_without_fills_parks_the_cell_until_its_order_rests_at_the_mark() -> None:
    """A post-only order the venue cancelled because it would have taken (the price jumped past its
    line): placing it again at once would only be cancelled again."""
    state, orders = started()
    buy = orders[D("41000")]
    state, commands = step(state, OrderCancelled(buy.client_order_id, "o1", "post-only would take"))
    assert orders_of(commands) == []
    assert state.parked_cells == {1}
    state, commands = step(state, MarkPriceUpdated(D("40900"), 2))  # a buy at 41000 would still take
    assert orders_of(commands) == []
    state, commands = step(state, MarkPriceUpdated(D("41100"), 3))  # now it rests
    [again] = orders_of(commands)
    assert (again.side, again.price, again.quantity) == (buy.side, buy.price, buy.quantity)
    assert again.order_type is OrderType.POST_ONLY
    assert again.client_order_id != buy.client_order_id
    assert state.parked_cells == frozenset()


def test_a_snapshot_does_not_place_a_parked_cell() -> None:
    state, orders = started()
    buy = orders[D("41000")]
    state, _ = step(state, OrderCancelled(buy.client_order_id, "o1"))
    rest = [o for o in orders.values() if o is not buy]
    venue_orders = tuple(
        VenueOrder(o.client_order_id, f"v{n}", o.side, o.price or D(0), o.quantity)
        for n, o in enumerate(rest)
    )
    state, commands = step(state, VenueSnapshot(venue_orders, D(0), 50))
    assert orders_of(commands) == []


def test_exit_cancelled_after_partial_fill_books_the_exited_part_and_replaces_the_rest() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    state, commands = step(state, fill(buy, "t1", fee=D("0.1")))
    [sell] = orders_of(commands)
    part = D("0.002")
    state, _ = step(state, fill(sell, "t2", quantity=part, order_id="o2"))
    state, commands = step(state, OrderCancelled(sell.client_order_id, "o2"))
    [round_trip] = of_type(commands, RecordRoundTrip)
    assert round_trip.quantity == part
    assert round_trip.profit == part * D("1000") - D("0.1") * part / buy.quantity
    [rest] = orders_of(commands)
    assert (rest.side, rest.price, rest.quantity) == (Side.SELL, D("43000"), buy.quantity - part)


def test_fill_before_acceptance_is_applied_and_the_late_acceptance_is_a_no_op() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    state, commands = step(state, fill(buy, "t1", order_id="o9"))
    assert len(orders_of(commands)) == 1
    after, commands = step(state, OrderAccepted(buy.client_order_id, "o9"))
    assert after == state
    assert commands == ()


def test_same_trade_applied_twice_changes_nothing() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    event = fill(buy, "t1", quantity=D("0.001"))
    once, _ = step(state, event)
    twice, commands = step(once, event)
    assert twice == once
    assert commands == ()


def test_duplicate_trade_of_a_completed_order_changes_nothing() -> None:
    state, orders = started()
    event = fill(orders[D("42000")], "t1")
    once, _ = step(state, event)
    twice, commands = step(once, event)
    assert (twice, commands) == (once, ())


def test_fill_with_a_cumulative_gap_is_applied_with_its_own_quantity_and_reported() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    state, commands = step(state, fill(buy, "t2", quantity=D("0.001"), cumulative=D("0.003")))
    assert state.cells[2].order_filled == D("0.001")
    assert [anomaly.kind for anomaly in of_type(commands, ReportAnomaly)] == ["fill_gap"]
    assert of_type(commands, QueryOrder)[0].client_order_id == buy.client_order_id
    # the missing trade arrives later and is applied too
    state, _ = step(state, fill(buy, "t1", quantity=D("0.002"), cumulative=D("0.002")))
    assert state.cells[2].order_filled == D("0.003")


def test_order_filled_short_of_its_quantity_waits_for_the_missing_trades() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    rest = buy.quantity - D("0.001")
    state, commands = step(state, fill(buy, "t2", quantity=rest, cumulative=rest, complete=True))
    assert orders_of(commands) == []
    assert of_type(commands, QueryOrder)
    state, commands = step(state, fill(buy, "t1", quantity=D("0.001"), cumulative=D("0.001"), complete=False))
    [sell] = orders_of(commands)
    assert sell.quantity == buy.quantity


def test_fill_for_an_unknown_order_is_reported_and_changes_nothing() -> None:
    state, orders = started()
    foreign = PlaceOrder("someone-else-1", Side.BUY, orders[D("42000")].order_type, D("1"), D("42000"))
    after, commands = step(state, fill(foreign, "t1"))
    assert after == state
    assert [command.kind for command in of_type(commands, ReportAnomaly)] == ["unknown_order_fill"]


def test_late_trade_of_a_finished_order_is_booked_but_does_not_move_the_cell() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    state, _ = step(state, fill(buy, "t1", quantity=D("0.001")))
    state, _ = step(state, OrderCancelled(buy.client_order_id, "o1"))
    cell_before = state.cells[2]
    state, commands = step(state, fill(buy, "t2", quantity=D("0.001"), cumulative=D("0.002")))
    assert state.cells[2].holding == cell_before.holding
    assert state.ledger.position == D("0.002")
    assert [anomaly.kind for anomaly in of_type(commands, ReportAnomaly)] == ["late_fill"]


def test_rejected_order_leaves_the_cell_idle_and_is_reported() -> None:
    state, orders = started()
    buy = orders[D("40000")]
    state, commands = step(state, OrderRejected(buy.client_order_id, "insufficient margin", -1101))
    assert state.cells[0].status is CellStatus.IDLE
    assert of_type(commands, ReportAnomaly)[0].kind == "order_rejected"


def test_duplicate_id_rejection_keeps_the_order_live() -> None:
    state, orders = started()
    buy = orders[D("40000")]
    after, commands = step(state, OrderRejected(buy.client_order_id, "duplicate", -1007))
    assert after.cells[0].status is CellStatus.PLACING
    assert of_type(commands, ReportAnomaly)[0].kind == "duplicate_client_order_id"


def test_events_for_a_previous_order_are_stale_repeats() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    state, _ = step(state, fill(buy, "t1"))
    for event in (OrderAccepted(buy.client_order_id, "o1"), OrderCancelled(buy.client_order_id, "o1")):
        after, commands = step(state, event)
        assert (after, commands) == (state, ())


def test_trade_on_the_wrong_side_is_an_illegal_fill_and_is_not_applied() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    wrong = OrderFilled(
        buy.client_order_id, "o1", "t1", Side.SELL, D("42000"), buy.quantity, D(0), buy.quantity, 1
    )
    after, commands = step(state, wrong)
    assert after == state
    assert of_type(commands, ReportAnomaly)[0].kind == "illegal_fill"


def test_unrealized_pnl_is_the_open_inventory_at_mark_and_the_entry_fee_is_realized() -> None:
    state, orders = started()
    buy = orders[D("42000")]
    state, _ = step(state, fill(buy, "t1", fee=D("0.1")))
    report = pnl(state, D("42500"), 3_600_000)
    assert report.unrealized == buy.quantity * D("500")
    assert report.grid_profit == 0
    assert report.realized == D("-0.1")
    assert report.total == report.unrealized + report.realized


def test_fill_with_a_non_positive_quantity_is_reported_and_not_applied() -> None:
    state, orders = started()
    after, commands = step(state, fill(orders[D("42000")], "t1", quantity=D("0")))
    assert after == state
    assert of_type(commands, ReportAnomaly)[0].kind == "invalid_fill"


def test_overlong_or_hostile_ids_never_crash_step() -> None:
    state, orders = started()
    template = orders[D("42000")]
    for client_order_id in (state.prefix + "-" + "9" * 5000 + "B1", state.prefix + "-x", "-", ""):
        hostile = PlaceOrder(client_order_id, Side.BUY, template.order_type, D("1"), D("42000"))
        after, commands = step(state, fill(hostile, "t1"))
        assert after == state
        assert of_type(commands, ReportAnomaly)
        for event in (OrderAccepted(client_order_id, "1"), OrderCancelled(client_order_id, "1")):
            assert step(state, event)[0] == state
