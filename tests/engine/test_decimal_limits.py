"""Issue 11, finding 2: every decimal of a config has a digit limit (12 before and 12 after the
point), a value outside it is a GridConfigError naming the field, and no config within it can make
the engine raise a decimal signal (Overflow, DivisionImpossible, ...), whatever the market rules."""

from __future__ import annotations

from decimal import Decimal, DecimalException

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Direction, GridConfigError, GridType, MarketRules, preview
from engine.config import MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS, config_violations, decimal_digits_rule
from tests.engine.support import make_config

D = Decimal


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("total_margin", D("1e999999999"), "at most 12 digits before the decimal point"),
        ("total_margin", D("9" * 5000), "at most 12 digits before the decimal point"),
        ("lower_price", D("1e-999999999"), "at most 12 digits after the decimal point"),
        ("upper_price", D("-1e999999999"), "at most 12 digits before the decimal point"),
        ("current_price", D("42500.0000000000001"), "at most 12 digits after the decimal point"),
        ("stop_loss_price", D("1e-13"), "at most 12 digits after the decimal point"),
        ("maker_fee_rate", D("1e-999999999"), "at most 12 digits after the decimal point"),
    ],
)
def test_a_decimal_beyond_the_digit_limit_is_rejected_naming_the_field(
    field: str, value: Decimal, words: str
) -> None:
    violations = dict(config_violations(make_config(**{field: value})))
    assert words in violations[field]
    assert len(violations[field]) < 200, "a rejected value is not echoed in full"


@pytest.mark.parametrize(
    "value",
    [
        D("999999999999.999999999999"),
        D("0.000000000001"),
        D("42500.500000000000000000"),
        D("0E-30"),
        D("1E+11"),
    ],
)
def test_values_at_the_edges_of_the_limit_keep_it(value: Decimal) -> None:
    assert decimal_digits_rule(value) is None


def _limited(places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=D(10) ** -MAX_FRACTION_DIGITS,
        max_value=D(10) ** MAX_INTEGER_DIGITS - D(10) ** -MAX_FRACTION_DIGITS,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


limited = st.one_of(_limited(0), _limited(4), _limited(MAX_FRACTION_DIGITS))
ticks = st.sampled_from([D("1e-12"), D("1e-8"), D("0.00001"), D("0.1"), D("1"), D("1000")])


@st.composite
def extreme_rules(draw: st.DrawFn) -> MarketRules:
    return MarketRules(
        symbol="PERP_BTC_USDC",
        quote_tick=draw(ticks),
        base_tick=draw(ticks),
        base_min=draw(st.sampled_from([D(0), D("0.00001"), D("1")])),
        base_max=draw(st.sampled_from([D(0), D("100"), D("1e20")])),
        min_notional=draw(st.sampled_from([D(0), D("10")])),
    )


@settings(max_examples=400, deadline=None)
@given(
    lower=limited,
    upper=limited,
    current=limited,
    margin=limited,
    levels=st.integers(2, 200),
    leverage=st.integers(1, 50),
    direction=st.sampled_from(list(Direction)),
    geometric=st.booleans(),
    ratio=st.sampled_from([D("0.01"), D("0.05"), D("0.1")]),
    rules=extreme_rules(),
)
def test_no_config_within_the_limits_raises_a_decimal_signal(
    lower: Decimal,
    upper: Decimal,
    current: Decimal,
    margin: Decimal,
    levels: int,
    leverage: int,
    direction: Direction,
    geometric: bool,
    ratio: Decimal,
    rules: MarketRules,
) -> None:
    config = make_config(
        lower_price=min(lower, upper),
        upper_price=max(lower, upper),
        current_price=current,
        total_margin=margin,
        grid_levels=levels,
        leverage=leverage,
        direction=direction,
        grid_type=GridType.GEOMETRIC if geometric else GridType.ARITHMETIC,
        grid_ratio=ratio if geometric else None,
    )
    try:
        preview(config, rules)
    except GridConfigError:
        pass
    except DecimalException as exc:  # pragma: no cover - the failure this test exists to catch
        raise AssertionError(f"{type(exc).__name__} for {config} with {rules}") from exc


def test_a_line_that_rounds_to_zero_is_rejected_on_lower_price() -> None:
    rules = MarketRules(
        symbol="PERP_BTC_USDC",
        quote_tick=D("1"),
        base_tick=D("1"),
        base_min=D(0),
        base_max=D(0),
        min_notional=D(0),
    )
    config = make_config(lower_price=D("0.2"), upper_price=D("10"), current_price=D("5"), grid_levels=3)
    with pytest.raises(GridConfigError) as raised:
        preview(config, rules)
    assert raised.value.field == "lower_price"
    assert "rounds to 0" in raised.value.rule


def test_an_order_too_large_for_the_decimal_precision_is_rejected_on_total_margin() -> None:
    rules = MarketRules(
        symbol="PERP_BTC_USDC",
        quote_tick=D("1e-12"),
        base_tick=D("1e-12"),
        base_min=D(0),
        base_max=D(0),
        min_notional=D(0),
    )
    config = make_config(
        lower_price=D("0.000001"),
        upper_price=D("0.00001"),
        current_price=D("0.000005"),
        total_margin=D("999999999999"),
        leverage=50,
    )
    with pytest.raises(GridConfigError) as raised:
        preview(config, rules)
    assert raised.value.field == "total_margin"
    assert "base ticks" in raised.value.rule
