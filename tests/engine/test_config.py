from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from engine import Direction, GridConfigError, GridType, build_plan, start, stops_from_bounds
from tests.engine.support import RULES, make_config

D = Decimal


def rejection(**overrides: object) -> GridConfigError:
    with pytest.raises(GridConfigError) as error:
        start(make_config(**overrides), RULES)
    return error.value


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"upper_price": D("39000")}, "upper_price", "bounds inverted"),
        ({"current_price": D("46000")}, "current_price", "outside the bounds"),
        ({"current_price": D("39999")}, "current_price", "outside the bounds"),
        ({"grid_levels": 1}, "grid_levels", "between 2 and 200"),
        ({"grid_levels": 201}, "grid_levels", "between 2 and 200"),
        ({"grid_type": GridType.GEOMETRIC}, "grid_ratio", "required"),
        ({"grid_type": GridType.GEOMETRIC, "grid_ratio": D("0.009")}, "grid_ratio", "[0.01, 0.1]"),
        ({"grid_type": GridType.GEOMETRIC, "grid_ratio": D("0.11")}, "grid_ratio", "[0.01, 0.1]"),
        ({"total_margin": D("0")}, "total_margin", "must be > 0"),
        ({"total_margin": D("-5")}, "total_margin", "must be > 0"),
        ({"leverage": 0}, "leverage", "between 1 and 50"),
        ({"leverage": 51}, "leverage", "between 1 and 50"),
        ({"lower_price": D("0"), "current_price": D("1")}, "lower_price", "must be > 0"),
        ({"lower_price": 40000.0}, "lower_price", "finite Decimal"),
        ({"symbol": "PERP_ETH_USDC"}, "symbol", "does not match"),
        ({"trigger_price": D("46000")}, "trigger_price", "inside the bounds"),
        ({"trigger_price": D("42500")}, "trigger_price", "differ from current_price"),
        ({"stop_loss_price": D("43000")}, "stop_loss_price", "below 42500"),
        ({"take_profit_price": D("42000")}, "take_profit_price", "above 42500"),
        ({"direction": Direction.SHORT, "stop_loss_price": D("42000")}, "stop_loss_price", "above 42500"),
        ({"direction": Direction.SHORT, "take_profit_price": D("43000")}, "take_profit_price", "below 42500"),
        ({"maker_fee_rate": D("0.5")}, "maker_fee_rate", "fraction"),
    ],
)
def test_bad_config_is_rejected_naming_the_field_and_the_rule(
    overrides: dict[str, object], field: str, words: str
) -> None:
    error = rejection(**overrides)
    assert error.field == field
    assert words in error.rule
    assert field in str(error)


def test_every_violation_is_reported_at_once() -> None:
    error = rejection(grid_levels=500, total_margin=D("0"), leverage=99)
    assert set(error.fields) == {"grid_levels", "total_margin", "leverage"}


def test_cell_below_minimum_notional_rejects_the_whole_config_with_the_margin_needed() -> None:
    error = rejection(total_margin=D("40"))  # 8 USDC a cell, below the 10 USDC minimum notional
    assert error.field == "total_margin"
    assert "minimum notional 10" in error.rule
    assert "needs total_margin >=" in error.rule
    needed = Decimal(error.rule.split("needs total_margin >= ")[1].split()[0])
    build_plan(make_config(total_margin=needed), RULES)  # the amount named is enough


def test_cell_below_minimum_quantity_rejects_the_whole_config() -> None:
    error_rules = replace(RULES, base_min=D("0.01"), min_notional=D("0"))
    with pytest.raises(GridConfigError) as error:
        start(make_config(), error_rules)
    assert error.value.field == "total_margin"
    assert "minimum quantity 0.01" in error.value.rule


def test_leverage_multiplies_the_quantity_of_every_cell() -> None:
    one = build_plan(make_config(), RULES)
    five = build_plan(make_config(leverage=5), RULES)
    assert five.quantities[0] == one.quantities[0] * 5


def test_quantity_is_margin_share_times_leverage_over_entry_price_rounded_down() -> None:
    plan = build_plan(make_config(total_margin=D("1000"), leverage=2), RULES)
    # 5 trading cells, 200 USDC each, times 2, at the entry prices, rounded down to 0.00001
    assert plan.quantities == (D("0.01000"), D("0.00975"), D("0.00952"), D("0.00909"), D("0.00888"))


def test_old_api_stop_bounds_map_to_stop_loss_and_take_profit_per_direction() -> None:
    assert stops_from_bounds(Direction.LONG, D("1"), D("9")) == (D("1"), D("9"))
    assert stops_from_bounds(Direction.BOTH, D("1"), D("9")) == (D("1"), D("9"))
    assert stops_from_bounds(Direction.SHORT, D("1"), D("9")) == (D("9"), D("1"))


def test_long_grid_with_price_at_the_lower_bound_has_no_cell_to_trade() -> None:
    error = rejection(direction=Direction.LONG, current_price=D("40000"))
    assert error.field == "direction"
