"""Trailing grids (engine.trailing): scenarios, and Hypothesis properties along random price paths."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import (
    CancelOrder,
    ClosePosition,
    Direction,
    Event,
    GridConfig,
    GridConfigError,
    GridType,
    MarkPriceUpdated,
    PlaceOrder,
    RecordFill,
    SessionState,
    SessionStatus,
    Side,
    build_plan,
    parse_client_order_id,
    start,
    state_from_dict,
    state_to_dict,
    step,
)
from engine.commands import GridShifted, ShiftDirection
from engine.state import STATE_FORMAT_VERSION
from tests.engine.support import RULES, Venue, make_config, of_type, orders_of
from tests.engine.test_properties import run

D = Decimal
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def _run_path(config: GridConfig, path: list[str]) -> tuple[SessionState, Venue, list[object]]:
    state, venue, log = run(config, [D(price) for price in path], 1)
    return state, venue, list(log)


def test_price_above_the_top_by_one_step_shifts_the_grid_up_one_cell() -> None:
    config = make_config(trailing_up=True)  # lines 40000..45000, price 42500, BOTH
    state, commands = start(config, RULES)
    state, commands = step(state, MarkPriceUpdated(D("45999.9"), 1))
    assert not of_type(commands, GridShifted)  # not yet a whole step above 45000
    state, commands = step(state, MarkPriceUpdated(D("46000"), 2))
    (shift,) = of_type(commands, GridShifted)
    assert shift == GridShifted(ShiftDirection.UP, 0, 5, D("41000"), D("46000"), D("46000"), 2)
    # The lowest cell's live buy is cancelled; the new top cell buys at 45000 (below the price).
    (cancel,) = of_type(commands, CancelOrder)
    assert parse_client_order_id(cancel.client_order_id).cell_index == 0  # type: ignore[union-attr]
    (order,) = orders_of(commands)
    assert (order.side, order.price, order.cell_index) == (Side.BUY, D("45000"), 5)
    assert order.client_order_id.endswith("-5B0")
    assert state.plan.active_lines() == tuple(D(p) for p in range(41000, 47000, 1000))


def test_a_gap_shifts_several_cells_and_never_places_a_cell_it_dropped_again() -> None:
    config = make_config(trailing_up=True, direction=Direction.LONG)
    state, venue, log = _run_path(config, ["48500"])
    shifts = of_type(log, GridShifted)  # type: ignore[arg-type]
    assert [s.added_cell for s in shifts] == [5, 6, 7]
    assert state.plan.active_lines()[-1] == D("48000")
    placed = [order.client_order_id for order in orders_of(log)]  # type: ignore[arg-type]
    assert len(placed) == len(set(placed))
    assert {order.order.price for order in venue.resting.values()} >= {D("47000")}


def test_trailing_stops_at_its_limit() -> None:
    config = make_config(trailing_up=True, trailing_up_limit=D("47000"))
    _state, _, log = _run_path(config, ["49500"])
    assert [s.upper_price for s in of_type(log, GridShifted)] == [D("46000"), D("47000")]  # type: ignore[arg-type]


def test_geometric_grid_keeps_its_ratio_when_it_shifts() -> None:
    config = make_config(trailing_up=True, grid_type=GridType.GEOMETRIC, grid_ratio=D("0.02"), grid_levels=20)
    state, commands = start(config, RULES)
    top = state.plan.lines[-1]
    new_top = (top * D("1.02")).quantize(D("0.1"))
    state, commands = step(state, MarkPriceUpdated(new_top, 1))
    (shift,) = of_type(commands, GridShifted)
    assert shift.upper_price == new_top


def test_trailing_down_keeps_the_counter_order_of_inventory_a_shift_drops() -> None:
    # LONG: every cell buys; the price falls through all of them, so each holds inventory and sells
    # one line up. Trailing down drops the top cell: it keeps its sell (a counter order).
    config = make_config(trailing_down=True, direction=Direction.LONG, current_price=D("44500"))
    state, _venue, log = _run_path(config, ["39000"])
    (shift,) = of_type(log, GridShifted)  # type: ignore[arg-type]
    assert shift.direction is ShiftDirection.DOWN
    assert shift.lower_price == D("39000")
    retired = state.cells[-1]
    assert state.plan.retired_above == 1
    assert retired.holding > 0
    assert retired.is_live
    assert retired.side is Side.SELL
    assert not of_type(log, ClosePosition)  # type: ignore[arg-type]
    # The new bottom cell buys at 39000, at the price: it does not rest, so it waits (parked).
    assert state.plan.position(shift.added_cell) in state.parked_cells
    # Back up through the retired cell's line: it sells, books its round trip and is trimmed.
    state2, _venue2, _log2 = _run_path(config, ["39000", "45000"])
    assert state2.plan.retired_above == 0 or not state2.cells[-1].holding


def test_trailing_close_closes_the_dropped_inventory_reduce_only_and_books_it() -> None:
    config = make_config(
        trailing_down=True, trailing_close=True, direction=Direction.LONG, current_price=D("44500")
    )
    state, venue, log = _run_path(config, ["39000"])
    (close,) = of_type(log, ClosePosition)  # type: ignore[arg-type]
    assert close.side is Side.SELL
    assert close.quantity > 0
    assert state.cells[-1].holding == 0 or state.plan.retired_above == 0
    closes = [f for f in of_type(log, RecordFill) if f.cell_index is None]  # type: ignore[arg-type]
    assert closes
    assert closes[0].quantity == close.quantity
    assert state.ledger.position == venue.position
    signed = sum((c.holding if c.entry_side is Side.BUY else -c.holding for c in state.cells), D(0))
    assert state.ledger.position == signed


def test_trailing_fields_are_validated_naming_the_field() -> None:
    with pytest.raises(GridConfigError) as error:
        build_plan(make_config(trailing_up_limit=D("50000")), RULES)
    assert error.value.fields == ("trailing_up_limit",)
    with pytest.raises(GridConfigError) as error:
        build_plan(make_config(trailing_down=True, trailing_down_limit=D("41000")), RULES)
    assert error.value.fields == ("trailing_down_limit",)


def test_a_shifted_state_survives_a_json_round_trip_and_a_format_1_state_loads() -> None:
    config = make_config(trailing_up=True, trailing_up_limit=D("60000"), trailing_close=True)
    state, _, _ = _run_path(config, ["47500", "46000"])
    assert state.plan.numbers
    data = json.loads(json.dumps(state_to_dict(state)))
    assert data["format_version"] == STATE_FORMAT_VERSION == 2
    assert state_from_dict(data) == state
    old, _ = start(make_config(), RULES)
    legacy = state_to_dict(old)
    legacy["format_version"] = 1
    for name in (
        "trailing_up",
        "trailing_down",
        "trailing_close",
        "trailing_up_limit",
        "trailing_down_limit",
    ):
        del legacy["config"][name]
    for name in ("numbers", "next_number", "retired_below", "retired_above", "shifts"):
        del legacy["plan"][name]
    assert state_from_dict(legacy) == old


# --- properties ------------------------------------------------------------------------------------


@st.composite
def trailing_scenarios(draw: st.DrawFn) -> tuple[GridConfig, list[Decimal], int]:
    levels = draw(st.integers(min_value=2, max_value=12))
    spacing = draw(st.sampled_from([D("100"), D("250"), D("1000")]))
    lower = D("40000")
    upper = lower + spacing * (levels - 1)
    ticks = int((upper - lower) / D("0.1"))
    current = lower + D("0.1") * draw(st.integers(min_value=1, max_value=ticks - 1))
    down = draw(st.booleans())
    up = draw(st.booleans()) or not down
    config = make_config(
        direction=draw(st.sampled_from(Direction)),
        grid_levels=levels,
        lower_price=lower,
        upper_price=upper,
        current_price=current,
        total_margin=D("100000"),
        trailing_up=up,
        trailing_down=down,
        trailing_close=draw(st.booleans()),
        trailing_up_limit=upper + spacing * draw(st.integers(1, 6)) if up and draw(st.booleans()) else None,
    )
    low, high = int(lower - 6 * spacing), int(upper + 6 * spacing)
    path = [D(price) for price in draw(st.lists(st.integers(min_value=low, max_value=high), max_size=25))]
    return config, path, draw(st.integers(min_value=1, max_value=3))


def _inventory_is_covered(state: SessionState) -> None:
    """Every cell holding inventory has its counter order live or waiting for a mark it rests at."""
    if state.status is not SessionStatus.RUNNING:
        return
    for position, cell in enumerate(state.cells):
        if cell.holding > 0:
            assert cell.entry_side is not None
            exiting = cell.is_live and cell.side is cell.entry_side.opposite
            assert exiting or cell.is_live or position in state.parked_cells, (position, cell)


@PROPERTY_SETTINGS
@given(trailing_scenarios())
def test_a_trailing_grid_never_holds_two_live_orders_in_a_cell_nor_sends_an_id_twice(
    scenario: tuple[GridConfig, list[Decimal], int],
) -> None:
    config, path, parts = scenario

    def check(_: SessionState, __: Event, venue: Venue) -> None:
        resting = Counter(
            parse_client_order_id(order.order.client_order_id).cell_index  # type: ignore[union-attr]
            for order in venue.resting.values()
        )
        assert all(count <= 1 for count in resting.values()), resting

    _state, _, log = run(config, path, parts, check)
    placed = [command.client_order_id for command in log if isinstance(command, PlaceOrder)]
    assert len(placed) == len(set(placed))


@PROPERTY_SETTINGS
@given(trailing_scenarios())
def test_a_trailing_grid_never_leaves_inventory_without_a_counter_order_or_a_close(
    scenario: tuple[GridConfig, list[Decimal], int],
) -> None:
    config, path, parts = scenario
    state, venue, _log = run(config, path, parts)
    _inventory_is_covered(state)
    # All the position is some cell's inventory or was closed: nothing is held that no one follows.
    signed = sum(
        (cell.holding - cell.exit_filled) * (1 if cell.entry_side is Side.BUY else -1)
        for cell in state.cells
        if cell.entry_side is not None
    )
    assert state.ledger.position == venue.position
    if state.status is SessionStatus.RUNNING:
        assert state.ledger.position == signed
    # Lines stay strictly increasing and the cells line up with them.
    lines = state.plan.lines
    assert all(a < b for a, b in itertools.pairwise(lines))
    assert len(lines) == len(state.cells) + 1 == len(state.plan.quantities) + 1


@PROPERTY_SETTINGS
@given(trailing_scenarios())
def test_a_trailing_grid_is_deterministic_replayable_and_idempotent(
    scenario: tuple[GridConfig, list[Decimal], int],
) -> None:
    config, path, parts = scenario

    def check(previous: SessionState, event: Event, _: Venue) -> None:
        once, commands = step(previous, event)
        assert step(previous, event) == (once, commands)  # deterministic
        twice, again = step(once, event)
        if not isinstance(event, MarkPriceUpdated):
            assert twice == once, event
        assert not of_type(list(again), GridShifted), event  # a mark never shifts twice

    state, _, _ = run(config, path, parts, check)
    assert state_from_dict(json.loads(json.dumps(state_to_dict(state)))) == state
