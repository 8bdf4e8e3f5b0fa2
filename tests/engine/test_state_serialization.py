from __future__ import annotations

import json
from decimal import Decimal

import pytest

from engine import (
    Direction,
    FundingSettled,
    GridType,
    OrderAccepted,
    StopRequested,
    start,
    state_from_dict,
    state_to_dict,
    step,
)
from tests.engine.support import RULES, Venue, drive, fill, make_config, orders_of

D = Decimal


def json_round_trip(data: dict[str, object]) -> dict[str, object]:
    return json.loads(json.dumps(data))  # type: ignore[no-any-return]


def test_fresh_state_survives_a_json_round_trip() -> None:
    state, _ = start(make_config(), RULES)
    assert state_from_dict(json_round_trip(state_to_dict(state))) == state


def test_state_with_every_optional_part_survives_a_json_round_trip() -> None:
    config = make_config(
        direction=Direction.LONG,
        grid_type=GridType.GEOMETRIC,
        grid_ratio=D("0.01"),
        grid_levels=20,
        stop_loss_price=D("39000"),
        take_profit_price=D("46000"),
        close_position_on_stop=True,
        leverage=3,
    )
    state, commands = start(config, RULES)
    order = orders_of(commands)[-1]
    state, _ = step(state, OrderAccepted(order.client_order_id, "o1"))
    state, _ = step(state, fill(order, "t1", quantity=D("0.001"), fee=D("0.01")))
    state, _ = step(state, FundingSettled(D("-0.3"), 5))
    state, _ = step(state, StopRequested(close_position=True))
    data = state_to_dict(state)
    text = json.dumps(data)
    assert "Decimal" not in text
    assert state_from_dict(json.loads(text)) == state


def test_state_after_a_simulated_run_survives_a_json_round_trip() -> None:
    state, commands = start(make_config(), RULES)
    venue = Venue(price=D("42500"), trade_parts=2)
    state = drive(state, venue, venue.execute(commands))
    for price in ("41500", "43500", "40500", "44900"):
        state = drive(state, venue, venue.move_to(D(price)))
    restored = state_from_dict(json_round_trip(state_to_dict(state)))
    assert restored == state
    assert restored.ledger.round_trips > 0


def test_unknown_format_version_is_refused() -> None:
    state, _ = start(make_config(), RULES)
    data = state_to_dict(state) | {"format_version": 99}
    with pytest.raises(ValueError, match="format_version"):
        state_from_dict(data)
