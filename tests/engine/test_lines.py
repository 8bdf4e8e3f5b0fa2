from __future__ import annotations

from decimal import Decimal

import pytest

from engine import GridConfigError, GridType, build_plan, preview
from engine.lines import LineCollapseError, geometric_raw_lines, round_lines, round_to_tick
from tests.engine.support import RULES, make_config

D = Decimal


def test_arithmetic_lines_include_both_bounds_at_equal_intervals() -> None:
    plan = build_plan(make_config(), RULES)
    assert plan.lines == tuple(D(price) for price in ("40000", "41000", "42000", "43000", "44000", "45000"))


def test_arithmetic_lines_are_rounded_to_the_quote_tick() -> None:
    plan = build_plan(
        make_config(lower_price=D("100"), upper_price=D("101"), grid_levels=4, current_price=D("100.5")),
        RULES,
    )
    assert plan.lines == (D("100.0"), D("100.3"), D("100.7"), D("101.0"))


def test_round_to_tick_rounds_half_up_to_a_multiple_of_the_tick() -> None:
    assert round_to_tick(D("100.25"), D("0.5")) == D("100.5")
    assert round_to_tick(D("100.24"), D("0.5")) == D("100.0")


def test_lines_collapsing_onto_one_tick_are_an_error_not_a_duplicate() -> None:
    with pytest.raises(LineCollapseError):
        round_lines([D("100.01"), D("100.02")], D("0.1"))
    config = make_config(lower_price=D("100"), upper_price=D("101"), grid_levels=30, current_price=D("100.5"))
    with pytest.raises(GridConfigError) as error:
        build_plan(config, RULES)
    assert error.value.field == "grid_levels"
    assert "collapse" in error.value.rule


def test_geometric_lines_grow_from_the_current_price_and_include_the_bounds() -> None:
    raw = geometric_raw_lines(D("80"), D("125"), D("100"), D("0.1"))
    assert raw == [D("80"), D("81.00"), D("90.0"), D("100"), D("110.0"), D("121.00"), D("125")]


def test_geometric_line_equal_to_a_bound_is_that_bound_not_a_second_line() -> None:
    raw = geometric_raw_lines(D("81"), D("121"), D("100"), D("0.1"))
    assert raw == [D("81"), D("90.0"), D("100"), D("110.0"), D("121")]


def geometric(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "grid_type": GridType.GEOMETRIC,
        "grid_ratio": D("0.1"),
        "lower_price": D("80"),
        "upper_price": D("125"),
        "current_price": D("100"),
        "total_margin": D("10000"),
    }
    values.update(overrides)
    return values


def test_geometric_grid_with_fewer_lines_than_grid_levels_uses_the_lines_it_yields() -> None:
    result = preview(make_config(**geometric(grid_levels=20)), RULES)
    assert result.line_count == 7
    assert result.lines == (D("80"), D("81"), D("90"), D("100"), D("110"), D("121"), D("125"))


def test_geometric_grid_with_more_lines_than_grid_levels_is_rejected_stating_the_count() -> None:
    with pytest.raises(GridConfigError) as error:
        build_plan(make_config(**geometric(grid_levels=5)), RULES)
    assert error.value.field == "grid_ratio"
    assert "yields 7 lines" in error.value.rule
    assert "at most 5" in error.value.rule


def test_geometric_ratio_yielding_more_than_200_lines_is_rejected() -> None:
    config = make_config(
        **geometric(lower_price=D("1"), upper_price=D("100000"), grid_ratio=D("0.01"), grid_levels=200)
    )
    with pytest.raises(GridConfigError) as error:
        build_plan(config, RULES)
    assert error.value.field == "grid_ratio"
    assert "more than 200" in error.value.rule
