"""Hypothesis properties of the grid's static rules: lines, cell sides, quantities, stops."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine import (
    Direction,
    GridConfigError,
    MarkPriceUpdated,
    SessionStatus,
    SessionStopped,
    Side,
    StopReason,
    build_plan,
    start,
    step,
)
from engine.lines import arithmetic_raw_lines, geometric_raw_lines, round_lines
from engine.plan import cell_entry_sides
from tests.engine.support import RULES, make_config

D = Decimal
RULE_SETTINGS = settings(max_examples=200, deadline=None)
ticks = st.sampled_from([D("0.01"), D("0.1"), D("0.5"), D("1")])


@RULE_SETTINGS
@given(
    lower=st.integers(min_value=1, max_value=100_000),
    width=st.integers(min_value=1, max_value=100_000),
    levels=st.integers(min_value=2, max_value=200),
    tick=ticks,
)
def test_arithmetic_lines_are_evenly_spaced_on_tick_and_never_duplicated(
    lower: int, width: int, levels: int, tick: Decimal
) -> None:
    raw = arithmetic_raw_lines(D(lower), D(lower + width), levels)
    try:
        lines = round_lines(raw, tick)
    except ValueError:
        assume(False)
        return
    assert len(lines) == levels
    assert all(below < above for below, above in itertools.pairwise(lines))
    assert all(line % tick == 0 for line in lines)
    interval = D(width) / (levels - 1)
    slack = tick / 2 + D("1e-20")  # the interval itself is rounded to 28 digits
    assert all(abs(line - (lower + i * interval)) <= slack for i, line in enumerate(lines))


@RULE_SETTINGS
@given(
    current=st.integers(min_value=1_000, max_value=100_000),
    below=st.integers(min_value=0, max_value=500),
    above=st.integers(min_value=0, max_value=500),
    ratio=st.sampled_from([D("0.01"), D("0.025"), D("0.05"), D("0.1")]),
)
def test_geometric_lines_step_by_at_most_the_ratio_and_cover_the_bounds(
    current: int, below: int, above: int, ratio: Decimal
) -> None:
    lower = D(current) * (1 - D(below) / 1000)
    upper = D(current) * (1 + D(above) / 1000)
    assume(lower < upper)
    try:
        raw = geometric_raw_lines(lower, upper, D(current), ratio)
    except ValueError:
        assume(False)
        return
    assert raw[0] == lower
    assert raw[-1] == upper
    assert D(current) in raw
    for smaller, larger in itertools.pairwise(raw):
        assert smaller < larger
        assert larger <= smaller * (1 + ratio) * D("1.0000001") or larger / smaller <= 1 / (1 - ratio) * D(
            "1.0000001"
        )


lines_strategy = st.lists(
    st.integers(min_value=1, max_value=10_000), min_size=2, max_size=30, unique=True
).map(lambda values: tuple(D(value) for value in sorted(values)))


@RULE_SETTINGS
@given(lines=lines_strategy, data=st.data())
def test_both_grid_orders_every_line_but_the_one_nearest_the_price(
    lines: tuple[Decimal, ...], data: st.DataObject
) -> None:
    price = D(data.draw(st.integers(min_value=int(lines[0]) * 10, max_value=int(lines[-1]) * 10))) / 10
    sides = cell_entry_sides(lines, Direction.BOTH, price)
    ordered = [lines[i] if side is Side.BUY else lines[i + 1] for i, side in enumerate(sides)]
    assert len(set(ordered)) == len(ordered)
    buys = [lines[i] for i, side in enumerate(sides) if side is Side.BUY]
    sells = [lines[i + 1] for i, side in enumerate(sides) if side is Side.SELL]
    assert all(line < price for line in buys)
    assert all(line > price for line in sells)
    [empty] = set(lines) - set(ordered)
    nearest = min(abs(line - price) for line in lines)
    assert abs(empty - price) == nearest


@RULE_SETTINGS
@given(lines=lines_strategy, data=st.data())
def test_long_buys_every_line_below_the_price_and_short_sells_every_line_above(
    lines: tuple[Decimal, ...], data: st.DataObject
) -> None:
    price = D(data.draw(st.integers(min_value=int(lines[0]) * 10, max_value=int(lines[-1]) * 10))) / 10
    long_sides = cell_entry_sides(lines, Direction.LONG, price)
    assert [lines[i] for i, side in enumerate(long_sides) if side is Side.BUY] == [
        line for line in lines[:-1] if line < price
    ]
    assert all(side in (Side.BUY, None) for side in long_sides)
    short_sides = cell_entry_sides(lines, Direction.SHORT, price)
    assert [lines[i + 1] for i, side in enumerate(short_sides) if side is Side.SELL] == [
        line for line in lines[1:] if line > price
    ]


@RULE_SETTINGS
@given(
    margin=st.integers(min_value=1, max_value=10_000_000),
    leverage=st.integers(min_value=1, max_value=50),
    direction=st.sampled_from(Direction),
)
def test_cell_quantity_is_its_margin_share_times_leverage_rounded_down_to_the_base_tick(
    margin: int, leverage: int, direction: Direction
) -> None:
    config = make_config(total_margin=D(margin), leverage=leverage, direction=direction)
    try:
        plan = build_plan(config, RULES)
    except GridConfigError as error:
        rejected_field = error.field
        assert rejected_field == "total_margin"
        return
    active = sum(1 for side in plan.entry_sides if side is not None)
    for index, side in enumerate(plan.entry_sides):
        quantity = plan.quantities[index]
        if side is None:
            assert quantity == 0
            continue
        entry = plan.entry_price(index)
        assert quantity % RULES.base_tick == 0
        # exact: the cell's share of margin * leverage buys `quantity` and not one base tick more
        assert quantity * entry * active <= margin * leverage < (quantity + RULES.base_tick) * entry * active
        assert quantity >= RULES.base_min
        assert quantity * entry >= RULES.min_notional


@RULE_SETTINGS
@given(mark=st.integers(min_value=30_000, max_value=55_000), direction=st.sampled_from(Direction))
def test_stop_fires_exactly_when_the_mark_reaches_a_stop_price(mark: int, direction: Direction) -> None:
    low, high = D("39000"), D("46000")
    stop_loss, take_profit = (high, low) if direction is Direction.SHORT else (low, high)
    state, _ = start(
        make_config(direction=direction, stop_loss_price=stop_loss, take_profit_price=take_profit), RULES
    )
    state, commands = step(state, MarkPriceUpdated(D(mark), 1))
    stopped = [command for command in commands if isinstance(command, SessionStopped)]
    if D(mark) <= low:
        expected: StopReason | None = (
            StopReason.TAKE_PROFIT if direction is Direction.SHORT else StopReason.STOP_LOSS
        )
    elif D(mark) >= high:
        expected = StopReason.STOP_LOSS if direction is Direction.SHORT else StopReason.TAKE_PROFIT
    else:
        expected = None
    assert [command.reason for command in stopped] == ([] if expected is None else [expected])
    assert (state.status is SessionStatus.STOPPED) == (expected is not None)


@RULE_SETTINGS
@given(
    margin=st.integers(min_value=1, max_value=60),
    leverage=st.integers(min_value=1, max_value=5),
    direction=st.sampled_from(Direction),
    levels=st.integers(min_value=2, max_value=40),
)
def test_margin_named_by_a_too_small_config_is_enough(
    margin: int, leverage: int, direction: Direction, levels: int
) -> None:
    config = make_config(total_margin=D(margin), leverage=leverage, direction=direction, grid_levels=levels)
    try:
        build_plan(config, RULES)
        return
    except GridConfigError as error:
        violations = error.violations
    [(field, rule)] = violations
    assume(field == "total_margin")
    needed = D(rule.split("needs total_margin >= ")[1].split()[0])
    build_plan(
        make_config(total_margin=needed, leverage=leverage, direction=direction, grid_levels=levels), RULES
    )
