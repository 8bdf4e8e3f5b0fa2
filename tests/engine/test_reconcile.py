from __future__ import annotations

from decimal import Decimal

from engine import (
    CancelOrder,
    MarkPriceUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    PlaceOrder,
    QueryOrder,
    RecordFill,
    ReportAnomaly,
    SessionState,
    Side,
    StopRequested,
    VenueOrder,
    VenueSnapshot,
    start,
    step,
)
from engine.cells import CellStatus
from tests.engine.support import RULES, fill, make_config, of_type, orders_of

D = Decimal
FLAT = Decimal(0)


def started() -> tuple[SessionState, list[PlaceOrder]]:
    state, commands = start(make_config(), RULES)
    placed = orders_of(commands)
    for number, order in enumerate(placed):
        state, _ = step(state, OrderAccepted(order.client_order_id, f"o{number}"))
    return state, placed


def venue(order: PlaceOrder, order_id: str) -> VenueOrder:
    assert order.price is not None
    return VenueOrder(order.client_order_id, order_id, order.side, order.price, order.quantity)


def snapshot(*orders: VenueOrder, position: Decimal = FLAT, at_ms: int = 10) -> VenueSnapshot:
    return VenueSnapshot(tuple(orders), position, at_ms)


def test_snapshot_matching_the_engine_changes_nothing() -> None:
    state, placed = started()
    after, commands = step(state, snapshot(*(venue(order, f"o{n}") for n, order in enumerate(placed))))
    assert commands == ()
    assert after.cells == state.cells


def test_missing_order_is_looked_up_never_placed_again_even_when_positions_agree() -> None:
    state, placed = started()
    after, commands = step(state, snapshot(*(venue(order, f"o{n}") for n, order in enumerate(placed[1:], 1))))
    assert orders_of(commands) == []
    [query] = of_type(commands, QueryOrder)
    assert query.client_order_id == placed[0].client_order_id
    assert after.cells[0] == state.cells[0]


def test_missing_order_is_queried_not_placed_when_positions_differ() -> None:
    state, placed = started()
    orders = (venue(order, f"o{n}") for n, order in enumerate(placed[1:], 1))
    _, commands = step(state, snapshot(*orders, position=D("0.01")))
    assert orders_of(commands) == []
    [query] = of_type(commands, QueryOrder)
    assert query.client_order_id == placed[0].client_order_id


def test_buy_and_sell_filled_unseen_are_resolved_from_history_and_never_resent() -> None:
    """Finding 1 of issue 10: a buy of one cell and a sell of another filled while the service was
    down and the venue's position still equals the engine's (their quantities cancel out). The old
    rule took the equal positions as proof that neither filled and re-sent both ids."""
    state, placed = started()
    buy = next(order for order in placed if order.side is Side.BUY)
    sell = next(order for order in placed if order.side is Side.SELL)
    others = [venue(order, f"o{n}") for n, order in enumerate(placed) if order not in (buy, sell)]
    state, commands = step(state, snapshot(*others, position=FLAT))
    assert orders_of(commands) == []
    assert {query.client_order_id for query in of_type(commands, QueryOrder)} == {
        buy.client_order_id,
        sell.client_order_id,
    }
    sent = {order.client_order_id for order in placed}
    for order, order_id in ((buy, "ob"), (sell, "os")):
        state, commands = step(state, fill(order, f"t-{order_id}", order_id=order_id, complete=True))
        [counter] = orders_of(commands)
        assert counter.client_order_id not in sent
        assert counter.side is not order.side
        sent.add(counter.client_order_id)
    assert state.ledger.position == buy.quantity - sell.quantity


def test_order_the_venue_never_saw_is_replaced_under_a_new_id() -> None:
    state, commands = start(make_config(), RULES)  # placements unanswered: outcome unknown
    placed = orders_of(commands)
    state, commands = step(state, snapshot(*(venue(order, f"o{n}") for n, order in enumerate(placed[1:], 1))))
    [query] = of_type(commands, QueryOrder)
    state, commands = step(state, OrderRejected(query.client_order_id, "no such order", -1006))
    [again] = orders_of(commands)
    assert (again.side, again.price, again.quantity) == (placed[0].side, placed[0].price, placed[0].quantity)
    assert again.client_order_id != placed[0].client_order_id
    assert state.cells[0].client_order_id == again.client_order_id


def test_fill_of_an_older_order_of_the_session_is_booked_once_and_reported() -> None:
    state, placed = started()
    buy = next(order for order in placed if order.side is Side.BUY)
    index = next(i for i, cell in enumerate(state.cells) if cell.client_order_id == buy.client_order_id)
    state, _ = step(state, OrderCancelled(buy.client_order_id, "o-old"))  # unfilled: the cell parks
    state, _ = step(state, MarkPriceUpdated(D("42500"), 11))  # its buy rests at this mark: placed again
    state, _ = step(state, OrderRejected(state.cells[index].client_order_id or "", "lost", -1006))
    cell = state.cells[index]
    assert cell.previous_client_order_id != buy.client_order_id
    late = fill(buy, "t-late", order_id="o-old", quantity=D("0.001"), cumulative=D("0.001"), complete=False)
    booked, commands = step(state, late)
    assert booked.ledger.position == state.ledger.position + D("0.001")
    assert booked.cells == state.cells
    assert [c.kind for c in of_type(commands, ReportAnomaly)] == ["orphan_fill"]
    assert len(of_type(commands, RecordFill)) == 1
    again, commands = step(booked, late)
    assert (again, commands) == (booked, ())


def test_session_orders_foreign_to_the_cells_are_cancelled_and_other_orders_never_touched() -> None:
    state, placed = started()
    stale = VenueOrder(
        placed[0].client_order_id.replace("B0", "B7"), "old", placed[0].side, D("40000"), D("1")
    )
    duplicate = venue(placed[1], "dup")
    users_own = VenueOrder("my-manual-order", "m1", placed[0].side, D("39000"), D("1"))
    orders = [venue(order, f"o{n}") for n, order in enumerate(placed)] + [stale, duplicate, users_own]
    _, commands = step(state, snapshot(*orders))
    cancelled = {(cancel.client_order_id, cancel.order_id) for cancel in of_type(commands, CancelOrder)}
    assert cancelled == {(stale.client_order_id, "old"), (duplicate.client_order_id, "dup")}
    assert orders_of(commands) == []


def test_unacknowledged_order_found_on_the_venue_is_adopted() -> None:
    state, commands = start(make_config(), RULES)
    placed = orders_of(commands)
    after, commands = step(state, snapshot(*(venue(order, f"v{n}") for n, order in enumerate(placed))))
    assert commands == ()
    assert [cell.order_id for cell in after.cells] == [f"v{n}" for n in range(5)]
    assert all(cell.status is CellStatus.OPEN for cell in after.cells)


def test_idle_cell_after_a_rejection_gets_a_new_order() -> None:
    state, commands = start(make_config(), RULES)
    placed = orders_of(commands)
    state, _ = step(state, OrderRejected(placed[0].client_order_id, "margin", -1101))
    _, commands = step(state, snapshot(*(venue(order, f"o{n}") for n, order in enumerate(placed[1:], 1))))
    [again] = orders_of(commands)
    assert (again.price, again.side) == (placed[0].price, placed[0].side)
    assert again.client_order_id != placed[0].client_order_id


def test_stale_or_repeated_snapshot_is_ignored() -> None:
    state, placed = started()
    first = snapshot(*(venue(order, f"o{n}") for n, order in enumerate(placed[1:], 1)), at_ms=10)
    state, commands = step(state, first)
    assert of_type(commands, QueryOrder)
    again, commands = step(state, first)
    assert (again, commands) == (state, ())


def test_stopped_session_cancels_every_order_of_its_own_left_on_the_venue() -> None:
    state, placed = started()
    state, _ = step(state, StopRequested())
    orders = [venue(order, f"o{n}") for n, order in enumerate(placed)]
    _, commands = step(state, snapshot(*orders))
    assert {cancel.client_order_id for cancel in of_type(commands, CancelOrder)} == {
        o.client_order_id for o in placed
    }
    assert orders_of(commands) == []


def test_venue_executed_more_than_the_engine_saw_asks_for_the_trades() -> None:
    state, placed = started()
    state, _ = step(state, fill(placed[0], "t1", quantity=D("0.001"), order_id="o0"))
    seen = VenueOrder(
        placed[0].client_order_id, "o0", placed[0].side, D("40000"), placed[0].quantity, D("0.002")
    )
    rest = [venue(order, f"o{n}") for n, order in enumerate(placed[1:], 1)]
    _, commands = step(state, snapshot(seen, *rest, position=D("0.001")))
    assert [query.client_order_id for query in of_type(commands, QueryOrder)] == [placed[0].client_order_id]


def test_stopped_session_looks_up_a_vanished_order_even_when_positions_agree() -> None:
    state, placed = started()
    state, _ = step(state, StopRequested())
    state, commands = step(state, snapshot())
    assert {query.client_order_id for query in of_type(commands, QueryOrder)} == {
        o.client_order_id for o in placed
    }
    assert all(cell.is_live for cell in state.cells)


def test_stopped_session_queries_a_vanished_order_when_positions_differ() -> None:
    state, placed = started()
    state, _ = step(state, StopRequested())
    state, commands = step(state, snapshot(position=D("0.005")))
    assert {query.client_order_id for query in of_type(commands, QueryOrder)} == {
        o.client_order_id for o in placed
    }
    assert all(cell.is_live for cell in state.cells)
