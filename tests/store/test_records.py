"""Records refuse bad values at construction, naming the field and the rule."""

import dataclasses
from decimal import Decimal

import pytest

from server.store import InvalidRecord, SessionStatus
from tests.store import factories as make


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("status", "RUNNIN", "must be one of PENDING, RUNNING, STOPPING, STOPPED, FAILED"),
        ("config", {"margin": Decimal("100")}, "must be JSON-compatible"),
        ("engine_state", [1, 2], "must be a dict"),
        ("session_id", "", "must be a non-empty string"),
        ("created_at_ms", 1.5, "must be a non-negative integer of milliseconds"),
        ("version", 0, "must be an integer >= 1"),
    ],
)
def test_a_session_with_a_bad_field_is_refused_naming_it(field: str, value: object, rule: str) -> None:
    with pytest.raises(InvalidRecord, match=rule) as raised:
        dataclasses.replace(make.session(), **{field: value})  # type: ignore[arg-type]
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


def test_status_given_as_its_name_becomes_the_enum() -> None:
    record = dataclasses.replace(make.session(), status="STOPPED")  # type: ignore[arg-type]
    assert record.status is SessionStatus.STOPPED


def test_an_order_side_must_be_buy_or_sell() -> None:
    with pytest.raises(InvalidRecord, match="side: must be BUY or SELL"):
        dataclasses.replace(make.order("c1"), side="LONG")  # type: ignore[arg-type]


def test_a_summary_needs_finite_decimal_money() -> None:
    with pytest.raises(InvalidRecord, match="total_pnl: must be a finite Decimal"):
        dataclasses.replace(make.summary("s1"), total_pnl=Decimal("Infinity"))
    with pytest.raises(InvalidRecord, match="round_trips"):
        dataclasses.replace(make.summary("s1"), round_trips=-1)
