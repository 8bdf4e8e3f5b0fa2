from __future__ import annotations

from decimal import Decimal

import pytest

from engine import GridConfigError, Side, preview, start
from tests.engine.support import RULES, make_config, orders_of

D = Decimal


def test_preview_shows_lines_orders_margin_and_profit_range_without_starting() -> None:
    result = preview(make_config(), RULES)
    assert result.line_count == 6
    assert [(order.side, order.price) for order in result.orders] == [
        (Side.BUY, D("40000")),
        (Side.BUY, D("41000")),
        (Side.BUY, D("42000")),
        (Side.SELL, D("44000")),
        (Side.SELL, D("45000")),
    ]
    assert all(order.margin == D("200") for order in result.orders)
    # the same ids `start` will use, so a preview's orders can be recognised later
    _, commands = start(make_config(), RULES)
    assert [order.client_order_id for order in result.orders] == [
        o.client_order_id for o in orders_of(commands)
    ]
    assert result.waits_for_trigger is False


def test_preview_profit_range_is_net_of_both_maker_fees() -> None:
    result = preview(make_config(), RULES)
    first = result.orders[0]  # cell 40000-41000
    expected_first = first.quantity * D("1000") - D("0.0002") * first.quantity * (D("40000") + D("41000"))
    profits = []
    for order in result.orders:
        lower = D("40000") + 1000 * order.cell_index
        profits.append(order.quantity * D("1000") - D("0.0002") * order.quantity * (2 * lower + 1000))
    assert expected_first in profits
    assert (result.profit_per_grid_min, result.profit_per_grid_max) == (min(profits), max(profits))
    assert D("0.02") < result.profit_rate_min <= result.profit_rate_max < D("0.025")


def test_preview_of_a_triggered_grid_shows_the_orders_it_will_place_at_the_trigger() -> None:
    result = preview(make_config(trigger_price=D("43600")), RULES)
    assert result.waits_for_trigger is True
    assert [order.price for order in result.orders if order.side is Side.BUY] == [
        D("40000"),
        D("41000"),
        D("42000"),
        D("43000"),
    ]


def test_preview_rejects_a_bad_config_like_start() -> None:
    with pytest.raises(GridConfigError):
        preview(make_config(grid_levels=1), RULES)
