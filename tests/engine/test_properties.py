"""Hypothesis properties of the engine, driven through a small venue along random price paths."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    CancelOrder,
    ClosePosition,
    Command,
    Direction,
    Event,
    GridConfig,
    MarkPriceUpdated,
    PlaceOrder,
    RecordFill,
    RecordRoundTrip,
    SessionState,
    Side,
    StopRequested,
    VenueOrder,
    VenueSnapshot,
    parse_client_order_id,
    start,
    state_from_dict,
    state_to_dict,
    step,
)
from engine.stops import mark_matters
from tests.engine.support import RULES, Venue, make_config

D = Decimal
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[GridConfig, list[Decimal], int]:
    levels = draw(st.integers(min_value=3, max_value=25))
    spacing = draw(st.sampled_from([D("100"), D("250"), D("1000")]))
    lower = D("40000")
    upper = lower + spacing * (levels - 1)
    ticks = int((upper - lower) / D("0.1"))
    current = lower + D("0.1") * draw(st.integers(min_value=1, max_value=ticks - 1))
    direction = draw(st.sampled_from(Direction))
    trigger = (
        lower + D("0.1") * draw(st.integers(min_value=1, max_value=ticks - 1))
        if draw(st.booleans())
        else None
    )
    below, above = lower - spacing, upper + spacing  # reachable by the path, beyond every anchor
    stops = draw(st.sampled_from([(None, None), (below, None), (None, above), (below, above)]))
    stop_loss, take_profit = stops if direction is not Direction.SHORT else (stops[1], stops[0])
    config = make_config(
        direction=direction,
        grid_levels=levels,
        lower_price=lower,
        upper_price=upper,
        current_price=current,
        total_margin=D("100000"),
        trigger_price=None if trigger == current else trigger,
        stop_loss_price=stop_loss,
        take_profit_price=take_profit,
        close_position_on_stop=draw(st.booleans()),
    )
    low, high = int(lower - 2 * spacing), int(upper + 2 * spacing)
    path = [D(price) for price in draw(st.lists(st.integers(min_value=low, max_value=high), max_size=25))]
    return config, path, draw(st.integers(min_value=1, max_value=3))


def run(
    config: GridConfig,
    path: list[Decimal],
    trade_parts: int,
    check: Callable[[SessionState, Event, Venue], None] | None = None,
    stop_at_end: bool = False,
) -> tuple[SessionState, Venue, list[Command]]:
    state, commands = start(config, RULES)
    venue = Venue(price=config.current_price, trade_parts=trade_parts)
    log: list[Command] = list(commands)
    queue: list[Event] = venue.execute(commands)
    # Each price step is taken only once the engine and the venue are quiet after the previous one.
    moves: list[Callable[[], list[Event]]] = [
        lambda price=price, n=n: [*venue.move_to(price), MarkPriceUpdated(price, n)]
        for n, price in enumerate(path)
    ]
    if stop_at_end:
        moves.append(lambda: [StopRequested(close_position=True)])
    for move in [list, *moves]:
        queue.extend(move())
        while queue:
            event = queue.pop(0)
            previous = state
            state, commands = step(state, event)
            if check is not None:
                check(previous, event, venue)
            log.extend(commands)
            queue.extend(venue.execute(commands))
    return state, venue, log


def live_prices(state: SessionState) -> list[Decimal]:
    return [
        state.plan.order_price(index, cell.side)
        for index, cell in enumerate(state.cells)
        if cell.is_live and cell.side is not None
    ]


@PROPERTY_SETTINGS
@given(scenarios())
def test_no_two_live_orders_share_a_line_and_no_cell_holds_two(
    scenario: tuple[GridConfig, list[Decimal], int],
) -> None:
    config, path, parts = scenario

    def check(_: SessionState, __: Event, venue: Venue) -> None:
        resting_cells = Counter(order.order.cell_index for order in venue.resting.values())
        assert all(count <= 1 for count in resting_cells.values()), resting_cells
        resting_prices = Counter(order.order.price for order in venue.resting.values())
        assert all(count <= 1 for count in resting_prices.values()), resting_prices

    state, _, _ = run(config, path, parts, check)
    prices = live_prices(state)
    assert len(prices) == len(set(prices))


@PROPERTY_SETTINGS
@given(scenarios(), st.booleans())
def test_applying_any_event_twice_equals_applying_it_once(
    scenario: tuple[GridConfig, list[Decimal], int], stop_at_end: bool
) -> None:
    config, path, parts = scenario
    actionable = (PlaceOrder, CancelOrder, ClosePosition, RecordFill, RecordRoundTrip)

    def check(previous: SessionState, event: Event, _: Venue) -> None:
        once, _commands = step(previous, event)
        twice, commands = step(once, event)
        assert twice == once, event
        assert not [command for command in commands if isinstance(command, actionable)], event

    run(config, path, parts, check, stop_at_end)


@PROPERTY_SETTINGS
@given(scenarios(), st.booleans())
def test_realized_profit_equals_the_sum_of_round_trips_and_positions_agree(
    scenario: tuple[GridConfig, list[Decimal], int], stop_at_end: bool
) -> None:
    config, path, parts = scenario
    state, venue, log = run(config, path, parts, stop_at_end=stop_at_end)
    round_trips = [command for command in log if isinstance(command, RecordRoundTrip)]
    assert state.ledger.realized_grid_profit == sum((trip.profit for trip in round_trips), D(0))
    assert state.ledger.round_trips == len(round_trips)
    fills = [command for command in log if isinstance(command, RecordFill)]
    signed = sum((f.quantity if f.side is Side.BUY else -f.quantity for f in fills), D(0))
    assert state.ledger.position == signed == venue.position
    if stop_at_end:
        assert state.ledger.position == 0  # the stop's close flattened it
        assert not venue.resting


@st.composite
def snapshots(draw: st.DrawFn, state: SessionState, venue: Venue) -> VenueSnapshot:
    resting = list(venue.resting.values())
    kept = (
        draw(st.lists(st.sampled_from(resting), unique_by=lambda r: r.order.client_order_id))
        if resting
        else []
    )
    orders = [
        VenueOrder(r.order.client_order_id, r.order_id, r.order.side, r.order.price or D(0), r.order.quantity)
        for r in kept
    ]
    cells = len(state.cells)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        index = draw(st.integers(min_value=0, max_value=cells + 1))
        side = draw(st.sampled_from(Side))
        cycle = draw(st.integers(min_value=0, max_value=6))
        client_order_id = f"{state.prefix}-{index}{'B' if side is Side.BUY else 'S'}{cycle}"
        orders.append(VenueOrder(client_order_id, f"x{len(orders)}", side, D("40000"), D("0.001")))
    foreign = draw(st.lists(st.sampled_from(["manual-1", "other-bot-7", "g0000000000-1B1"]), unique=True))
    orders.extend(VenueOrder(name, name, Side.BUY, D("39000"), D("1")) for name in foreign)
    order_list = draw(st.permutations(orders))
    position = draw(st.sampled_from([venue.position, venue.position + D("0.001")]))
    return VenueSnapshot(tuple(order_list), position, 10**12)


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_reconciliation_from_any_snapshot_never_duplicates_a_cell(
    scenario: tuple[GridConfig, list[Decimal], int], data: st.DataObject
) -> None:
    config, path, parts = scenario
    state, venue, _ = run(config, path, parts)
    snapshot = data.draw(snapshots(state, venue))
    after, commands = step(state, snapshot)
    cancelled = {
        command.client_order_id + "|" + str(command.order_id)
        for command in commands
        if isinstance(command, CancelOrder)
    }
    per_cell: Counter[int] = Counter()
    for order in snapshot.open_orders:
        parsed = parse_client_order_id(order.client_order_id)
        if parsed is None or parsed.prefix != state.prefix:
            assert order.client_order_id + "|" + order.order_id not in cancelled, "touched a foreign order"
            continue
        if order.client_order_id + "|" + order.order_id not in cancelled and parsed.cell_index is not None:
            per_cell[parsed.cell_index] += 1
    for command in commands:
        if isinstance(command, PlaceOrder):
            assert command.cell_index is not None
            per_cell[command.cell_index] += 1
    assert all(count <= 1 for count in per_cell.values()), per_cell
    prices = live_prices(after)
    assert len(prices) == len(set(prices))


def test_the_harness_trades_a_zigzag_path() -> None:
    """Guards the properties above against a vacuous harness."""
    config = make_config()
    path = [D(price) for price in ("41500", "44500", "40500", "43500", "42500")]
    state, venue, log = run(config, path, 2)
    assert state.ledger.round_trips >= 4
    assert sum(1 for command in log if isinstance(command, RecordFill)) >= 16
    assert state.ledger.position == venue.position


@PROPERTY_SETTINGS
@given(scenarios(), st.booleans())
def test_any_reachable_state_survives_a_json_round_trip(
    scenario: tuple[GridConfig, list[Decimal], int], stop_at_end: bool
) -> None:
    config, path, parts = scenario
    state, _, _ = run(config, path, parts, stop_at_end=stop_at_end)
    assert state_from_dict(json.loads(json.dumps(state_to_dict(state)))) == state


@given(
    scenario=scenarios(),
    mark=st.integers(min_value=38_000, max_value=72_000),
    trailing=st.sampled_from([(False, False), (True, False), (False, True), (True, True)]),
)
def test_a_mark_that_does_not_matter_changes_nothing_anywhere_on_the_path(
    scenario: tuple[GridConfig, list[Decimal], int], mark: int, trailing: tuple[bool, bool]
) -> None:
    """The router wakes a session with a mark only when engine.stops.mark_matters says so: at
    every reachable state, any other mark must leave the state as it is and command nothing."""
    config, path, parts = scenario
    config = dataclasses.replace(config, trailing_up=trailing[0], trailing_down=trailing[1])

    def check(previous: SessionState, event: Event, venue: Venue) -> None:
        del event, venue
        for price in (D(mark), *path):
            if not mark_matters(previous, price):
                assert step(previous, MarkPriceUpdated(price, 10**12)) == (previous, ())

    run(config, path, parts, check)
